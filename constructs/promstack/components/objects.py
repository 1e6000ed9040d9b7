"""Kubernetes objects rendered in Python, so a cluster costs a few calls into the jsii runtime.

Every call into jsii is a round trip to its Node process (about 0.45 ms here). With one typed L1
construct per object (``k8s.KubeDeployment(...)``), a cluster made some 430 of them (creating the
objects, reading them back, serialising each nested struct), about 190 ms of a 390 ms synth, and
synth of a 1,000-cluster fleet took three minutes. So objects are built from the same typed
``cdk8s_plus_27.k8s`` structs (and the props struct of the L1 class they would have been, which
checks the keyword arguments), converted to JSON here, and rendered exactly as cdk8s renders an L1
object: ``apiVersion``, ``kind``, ``metadata`` (empty maps and lists dropped), then the other keys
sorted, every nested map sorted, ``None`` dropped; values ``put`` afterwards (a JSON patch, in
cdk8s) keep their own key order.

Where an object lives decides who renders it. In an ``ObjectChart`` (what ``MonitoringStack``
makes) the chart keeps its components' objects in Python and renders them in construct-tree order,
with no jsii call per object. Anywhere else (a component in a user's own ``cdk8s.Chart``) each
object is also a ``cdk8s.ApiObject`` whose ``toJson`` calls back into this same rendering, so any
cdk8s app synthesizes it; the text is the same either way (tests/components/test_objects.py).
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import cdk8s
import yaml
from constructs import Construct

# JSON keys that differ from the jsii property name, per struct (its jsii type): the generated toJson_<Struct>
# functions of the bindings in use (cdk8s-plus-27's k8s, the imports/ CRDs), all of them;
# tests/components/test_objects.py re-derives the table from the installed packages, so an upgrade
# that changes it fails there (its derived_renames() gives the new table).
RENAMES: dict[str, dict[str, str]] = {
    "cdk8s-plus-27.k8s.ApiServiceSpec": {"insecureSkipTlsVerify": "insecureSkipTLSVerify"},
    "cdk8s-plus-27.k8s.AwsElasticBlockStoreVolumeSource": {"volumeId": "volumeID"},
    "cdk8s-plus-27.k8s.AzureDiskVolumeSource": {"diskUri": "diskURI"},
    "cdk8s-plus-27.k8s.CinderPersistentVolumeSource": {"volumeId": "volumeID"},
    "cdk8s-plus-27.k8s.CinderVolumeSource": {"volumeId": "volumeID"},
    "cdk8s-plus-27.k8s.ContainerPort": {"hostIp": "hostIP"},
    "cdk8s-plus-27.k8s.CsiNodeDriver": {"nodeId": "nodeID"},
    "cdk8s-plus-27.k8s.FcVolumeSource": {"targetWwNs": "targetWWNs"},
    "cdk8s-plus-27.k8s.FlockerVolumeSource": {"datasetUuid": "datasetUUID"},
    "cdk8s-plus-27.k8s.HorizontalPodAutoscalerSpec": {
        "targetCpuUtilizationPercentage": "targetCPUUtilizationPercentage",
    },
    "cdk8s-plus-27.k8s.JsonSchemaProps": {
        "ref": "$ref",
        "schema": "$schema",
        "xKubernetesEmbeddedResource": "x-kubernetes-embedded-resource",
        "xKubernetesIntOrString": "x-kubernetes-int-or-string",
        "xKubernetesListMapKeys": "x-kubernetes-list-map-keys",
        "xKubernetesListType": "x-kubernetes-list-type",
        "xKubernetesMapType": "x-kubernetes-map-type",
        "xKubernetesPreserveUnknownFields": "x-kubernetes-preserve-unknown-fields",
        "xKubernetesValidations": "x-kubernetes-validations",
    },
    "cdk8s-plus-27.k8s.NodeSpec": {
        "externalId": "externalID",
        "podCidRs": "podCIDRs",
        "podCidr": "podCIDR",
        "providerId": "providerID",
    },
    "cdk8s-plus-27.k8s.NonResourcePolicyRuleV1Beta2": {"nonResourceUrLs": "nonResourceURLs"},
    "cdk8s-plus-27.k8s.NonResourcePolicyRuleV1Beta3": {"nonResourceUrLs": "nonResourceURLs"},
    "cdk8s-plus-27.k8s.PhotonPersistentDiskVolumeSource": {"pdId": "pdID"},
    "cdk8s-plus-27.k8s.PodSpec": {"hostIpc": "hostIPC", "hostPid": "hostPID", "setHostnameAsFqdn": "setHostnameAsFQDN"},
    "cdk8s-plus-27.k8s.PolicyRule": {"nonResourceUrLs": "nonResourceURLs"},
    "cdk8s-plus-27.k8s.PortworxVolumeSource": {"volumeId": "volumeID"},
    "cdk8s-plus-27.k8s.ServiceSpec": {"clusterIp": "clusterIP", "loadBalancerIp": "loadBalancerIP"},
    "cdk8s-plus-27.k8s.VsphereVirtualDiskVolumeSource": {"storagePolicyId": "storagePolicyID"},
    "certmanager_certificates_iocert-manager.CertificateSpec": {"isCa": "isCA"},
    "certmanager_issuers_iocert-manager.IssuerSpecAcme": {"skipTlsVerify": "skipTLSVerify"},
    "certmanager_issuers_iocert-manager.IssuerSpecAcmeExternalAccountBinding": {"keyId": "keyID"},
    "certmanager_issuers_iocert-manager.IssuerSpecAcmeSolversDns01AzureDns": {
        "clientId": "clientID",
        "subscriptionId": "subscriptionID",
        "tenantId": "tenantID",
    },
    "certmanager_issuers_iocert-manager.IssuerSpecAcmeSolversDns01AzureDnsManagedIdentity": {
        "clientId": "clientID",
        "resourceId": "resourceID",
        "tenantId": "tenantID",
    },
    "certmanager_issuers_iocert-manager.IssuerSpecAcmeSolversDns01Route53": {
        "accessKeyId": "accessKeyID",
        "hostedZoneId": "hostedZoneID",
    },
    "certmanager_issuers_iocert-manager.IssuerSpecCa": {"issuingCertificateUrLs": "issuingCertificateURLs"},
    "certmanager_issuers_iocert-manager.IssuerSpecVenafiNgts": {"tsgId": "tsgID"},
    "keda_triggerauthentications_shkeda.TriggerAuthenticationSpecAwsSecretManagerPodIdentity": {
        "externalId": "externalID",
    },
    "keda_triggerauthentications_shkeda.TriggerAuthenticationSpecAzureKeyVaultCloud": {
        "keyVaultResourceUrl": "keyVaultResourceURL",
    },
    "keda_triggerauthentications_shkeda.TriggerAuthenticationSpecAzureKeyVaultPodIdentity": {
        "externalId": "externalID",
    },
    "keda_triggerauthentications_shkeda.TriggerAuthenticationSpecGcpSecretManagerPodIdentity": {
        "externalId": "externalID",
    },
    "keda_triggerauthentications_shkeda.TriggerAuthenticationSpecPodIdentity": {"externalId": "externalID"},
}


#: The attributes jsii's generated classes carry: a struct's Python -> jsii names, the jsii type.
_NAME_MAPPING, _JSII_TYPE, _VALUE, _VALUES_ATTR = "__jsii_name_mapping__", "__jsii_type__", "value", "_values"


class RenderError(TypeError):
    """A value no Kubernetes object can hold (a function, an enum, an unknown class)."""


_JSON_NAMES: dict[object, dict[str, str]] = {}


def _json_names(cls: object) -> dict[str, str]:
    """Python attribute -> JSON key of a jsii struct class."""
    names = _JSON_NAMES.get(cls)
    if names is None:
        mapping: dict[str, str] = getattr(cls, _NAME_MAPPING)
        renames = RENAMES.get(str(getattr(cls, _JSII_TYPE)), {})
        names = _JSON_NAMES[cls] = {python: renames.get(jsii, jsii) for python, jsii in mapping.items()}
    return names


#: ``.value`` of the jsii value classes met so far (IntOrString, Quantity), by identity; the
#: object is kept so its id is never reused. There are a few dozen distinct ones per process.
_VALUES: dict[int, tuple[object, Any]] = {}


def _value_of(obj: object) -> Any:
    found = _VALUES.get(id(obj))
    if found is None:
        if not hasattr(type(obj), _VALUE):
            raise RenderError(f"{type(obj).__name__} cannot be rendered into a Kubernetes object")
        found = _VALUES[id(obj)] = (obj, getattr(obj, _VALUE))
    return found[1]


_ENUMS: dict[enum.Enum, Any] = {}


def _enum_value(member: enum.Enum) -> Any:
    """The JavaScript value of a jsii enum member (its Python value is the member's name, which
    can differ: cert-manager's ``ED25519`` is ``Ed25519``), asked of the runtime once per member."""
    if member not in _ENUMS:
        _ENUMS[member] = yaml.safe_load(cdk8s.Yaml.stringify(member))
    return _ENUMS[member]


def plain(value: Any) -> Any:
    """``value`` as cdk8s renders it: structs as JSON objects under their JSON keys, IntOrString
    and Quantity as their value, integral floats as ints; every map sorted, ``None`` dropped."""
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    cls = type(value)
    if hasattr(cls, _NAME_MAPPING):
        names = _json_names(cls)
        values: dict[str, Any] = getattr(value, _VALUES_ATTR)
        return {k: plain(v) for k, v in sorted((names[p], v) for p, v in values.items()) if v is not None}
    if isinstance(value, enum.Enum) and hasattr(cls, _JSII_TYPE):
        return _enum_value(value)
    if isinstance(value, enum.Enum) or callable(value) or not hasattr(cls, _JSII_TYPE):
        raise RenderError(f"{cls.__name__} cannot be rendered into a Kubernetes object")
    return _value_of(value)


def _metadata(value: Any) -> dict[str, Any]:
    """Metadata as cdk8s writes it: sorted, with no empty map or list at any depth."""
    def prune(item: Any) -> Any:
        if isinstance(item, dict):
            kept = {k: prune(v) for k, v in item.items()}
            return {k: v for k, v in kept.items() if v not in ({}, [], None)}
        if isinstance(item, list):
            return [prune(v) for v in item]
        return item
    meta: dict[str, Any] = prune(plain(value))
    return meta


_GVKS: dict[object, tuple[str, str]] = {}


def _gvk(props_class: type) -> tuple[str, str]:
    """(apiVersion, kind) of the L1 class whose props struct is ``props_class`` (one jsii call per
    class and process)."""
    gvk = _GVKS.get(props_class)
    if gvk is None:
        module = sys.modules[props_class.__module__]
        l1 = getattr(module, props_class.__name__.removesuffix("Props")).GVK
        gvk = _GVKS[props_class] = (str(l1.api_version), str(l1.kind))
    return gvk


class KubeObject:
    """One Kubernetes object: rendered by ``to_json`` the way cdk8s renders the L1 object it
    replaces. ``body`` holds every key but apiVersion, kind and metadata, as JSON (its maps sorted);
    ``put`` sets a key whose value keeps its own order."""

    def __init__(self, scope: Construct, id_: str, *, api_version: str, kind: str, metadata: Any,
                 body: Mapping[str, Any] | None = None) -> None:
        self.id = id_
        self.api_version = api_version
        self.kind = kind
        self.metadata: dict[str, Any] = _metadata(metadata)
        self.body: dict[str, Any] = plain(dict(body or {}))
        self._put: dict[str, Any] = {}
        self._patches: list[cdk8s.JsonPatch] = []
        attach(scope, self)

    @classmethod
    def of(cls, scope: Construct, id_: str, props: Any) -> KubeObject:
        """The object an L1 class would make from ``props``, its props struct
        (``k8s.KubeDeploymentProps(metadata=..., spec=...)``, ``SealedSecretProps(...)``)."""
        api_version, kind = _gvk(type(props))
        fields = dict(getattr(props, _VALUES_ATTR))
        metadata = fields.pop("metadata", None)
        names = _json_names(type(props))
        return cls(scope, id_, api_version=api_version, kind=kind, metadata=metadata,
                   body={names[k]: v for k, v in fields.items()})

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str | None:
        namespace = self.metadata.get("namespace")
        return None if namespace is None else str(namespace)

    def put(self, key: str, value: Any) -> None:
        """Set the top-level ``key`` to ``value`` as given (a JSON patch's add, in cdk8s terms)."""
        self.body.pop(key, None)
        self._put[key] = value

    def add_json_patch(self, *ops: cdk8s.JsonPatch) -> None:
        """Apply ``ops`` to the rendered object, as cdk8s' ``ApiObject.add_json_patch`` does (applied
        by the jsii runtime, one call per rendering, only for patched objects)."""
        self._patches.extend(ops)

    def to_json(self) -> dict[str, Any]:
        merged = {**self.body, **self._put}
        out = {"apiVersion": self.api_version, "kind": self.kind, "metadata": self.metadata,
               **{key: merged[key] for key in sorted(merged)}}
        if self._patches:
            patched: dict[str, Any] = cdk8s.JsonPatch.apply(out, *self._patches)
            first = [key for key in ("apiVersion", "kind", "metadata") if key in patched]
            out = {key: patched[key] for key in [*first, *sorted(set(patched) - set(first))]}
        return out


class _ApiObject(cdk8s.ApiObject):
    """A KubeObject in a chart that is no ObjectChart: cdk8s renders it by calling back."""

    def __init__(self, scope: Construct, obj: KubeObject) -> None:
        super().__init__(scope, obj.id, api_version=obj.api_version, kind=obj.kind,
                         metadata=cdk8s.ApiObjectMetadata(name=obj.name, namespace=obj.namespace))
        self._promstack_object = obj

    def to_json(self) -> Any:
        return self._promstack_object.to_json()


def attach(scope: Construct, item: Any) -> None:
    """Record ``item`` (a KubeObject or an ObjectScope) under ``scope``: in its Python list when
    ``scope`` keeps one (an ObjectChart, or an ObjectScope inside one), else, for an object, as a
    cdk8s ApiObject. Ids are unique per scope, as construct ids are."""
    if isinstance(item, KubeObject) and isinstance(scope, ObjectScope):
        scope.kube_objects.append(item)
    items: list[Any] | None = getattr(scope, "object_items", None)
    if items is None:
        if isinstance(item, KubeObject):
            _ApiObject(scope, item)
        return
    if isinstance(item, KubeObject) and any(isinstance(o, KubeObject) and o.id == item.id for o in items):
            raise ValueError(f"there is already an object with id {item.id!r} in {scope}")
    items.append(item)


class ObjectScope(Construct):
    """A construct that makes KubeObjects (every component): ``kube_objects`` are its own, in
    creation order; ``object_items`` (its objects and child scopes, in creation order) when an
    ObjectChart keeps them, None when its objects are cdk8s ApiObjects."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self.object_items: list[Any] | None = [] if getattr(scope, "object_items", None) is not None else None
        self.kube_objects: list[KubeObject] = []
        attach(scope, self)


def walk(items: list[Any]) -> Iterator[KubeObject]:
    """The KubeObjects under ``items`` in construct-tree (pre-)order, as cdk8s lists a chart's."""
    for item in items:
        if isinstance(item, KubeObject):
            yield item
        else:
            yield from walk(getattr(item, "object_items", None) or [])


class ObjectChart(cdk8s.Chart):
    """A chart (one dist/ file) that keeps its components' objects in Python: ``objects`` renders
    them with no jsii call; ``to_json`` (what cdk8s calls on synth) adds any cdk8s ApiObject a user
    put in the chart directly."""

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_, disable_resource_name_hashes=True)
        self.chart_id = id_
        self.object_items: list[Any] = []

    def objects(self) -> list[dict[str, Any]]:
        return [obj.to_json() for obj in walk(self.object_items)]

    def to_json(self) -> list[Any]:
        return [*self.objects(), *super().to_json()]
