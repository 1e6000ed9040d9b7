"""Alertmanager settings in cluster.yaml: the StatefulSet, receivers and routing, typed.

Receiver secrets (webhook URLs, routing keys, SMTP passwords, API tokens) never appear here: each
receiver names a key of the sealed Secret ``alertmanager-receivers`` (sealed with ``promstack seal``
into clusters/<name>/alertmanager-receivers.sealedsecret.yaml), mounted as files, and the rendered
alertmanager.yml points at them with Alertmanager's ``*_file`` fields. A secret written inline is a
config error that names the ``promstack seal`` command.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from promstack.config.cluster import Resources, StorageClassName, resources
from promstack.config.exposure import ApiExposure
from promstack.config.model import (
    Duration,
    HostPort,
    LabelName,
    Model,
    PositiveDuration,
    Quantity,
    SecretKey,
    Text,
    free_text,
    pattern_text,
)

#: The sealed Secret holding every receiver secret (clusters/<name>/<it>.sealedsecret.yaml).
RECEIVERS_SECRET = "alertmanager-receivers"
#: The receiver that drops what reaches it: the default until real receivers are configured.
NULL_RECEIVER = "null"

_RECEIVER_NAME = re.compile(r"[a-zA-Z0-9][-_.a-zA-Z0-9]{0,62}")
_EMAIL = re.compile(r"[^@\s<>]{1,64}@[-.a-zA-Z0-9]{1,253}")

ReceiverName = Annotated[str, pattern_text(_RECEIVER_NAME, "a receiver name (letters, digits, '-', '_', '.')")]
Email = Annotated[str, pattern_text(_EMAIL, "an e-mail address")]

#: Inline secret fields users write out of habit (Alertmanager's own names, camelCased), and the
#: field that takes the sealed key instead.
_INLINE_SECRETS = {
    "apiUrl": "apiUrlSecret", "api_url": "apiUrlSecret",
    "routingKey": "routingKeySecret", "routing_key": "routingKeySecret",
    "serviceKey": "routingKeySecret", "service_key": "routingKeySecret",
    "authPassword": "authPasswordSecret", "auth_password": "authPasswordSecret", "password": "authPasswordSecret",
    "url": "urlSecret", "credentials": "credentialsSecret", "token": "credentialsSecret",
    "bearerToken": "credentialsSecret", "bearer_token": "credentialsSecret",
}


class _ReceiverConfig(Model):
    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key in _INLINE_SECRETS:
                    sealed = _INLINE_SECRETS[key]
                    raise ValueError(
                        f"{key}: a secret never goes into cluster.yaml; seal it with `promstack seal --cluster "
                        f"<cluster> --name {RECEIVERS_SECRET} --from-file <key>=<file>` and set {sealed}: <key>")
        return data


class SlackReceiver(_ReceiverConfig):
    """A Slack incoming webhook; its URL is the sealed key ``apiUrlSecret``."""

    api_url_secret: SecretKey
    channel: Annotated[str, free_text(80)] | None = None
    send_resolved: bool = True


class PagerDutyReceiver(_ReceiverConfig):
    """A PagerDuty Events API v2 integration; its routing key is the sealed key ``routingKeySecret``."""

    routing_key_secret: SecretKey
    send_resolved: bool = True


class EmailReceiver(_ReceiverConfig):
    """E-mail through ``smarthost`` (host:port, TLS required unless ``requireTls: false``);
    the SMTP password is the sealed key ``authPasswordSecret``."""

    to: Email
    from_: Email = Field(alias="from")
    smarthost: HostPort
    auth_username: Annotated[str, free_text(253)] | None = None
    auth_password_secret: SecretKey | None = None
    require_tls: bool = True
    send_resolved: bool = False

    @model_validator(mode="after")
    def _password_with_user(self) -> EmailReceiver:
        if (self.auth_username is None) != (self.auth_password_secret is None):
            raise ValueError("authUsername and authPasswordSecret go together; give both or neither")
        return self


class WebhookReceiver(_ReceiverConfig):
    """A generic webhook; its URL is the sealed key ``urlSecret`` (it often embeds a token), and an
    optional bearer token the sealed key ``credentialsSecret``."""

    url_secret: SecretKey
    credentials_secret: SecretKey | None = None
    send_resolved: bool = True


class Receiver(Model):
    """A named receiver with one or more integrations."""

    name: ReceiverName
    slack: tuple[SlackReceiver, ...] = Field(default=(), strict=False)
    pagerduty: tuple[PagerDutyReceiver, ...] = Field(default=(), strict=False)
    email: tuple[EmailReceiver, ...] = Field(default=(), strict=False)
    webhook: tuple[WebhookReceiver, ...] = Field(default=(), strict=False)

    @model_validator(mode="after")
    def _not_empty(self) -> Receiver:
        if not (self.slack or self.pagerduty or self.email or self.webhook):
            raise ValueError(f"receiver {self.name!r} has no integration; add slack, pagerduty, email or webhook")
        if self.name == NULL_RECEIVER:
            raise ValueError(f"{NULL_RECEIVER!r} is the built-in receiver that drops alerts; choose another name")
        return self

    def secret_keys(self) -> list[str]:
        keys: list[str] = []
        for slack in self.slack:
            keys.append(slack.api_url_secret)
        for pager in self.pagerduty:
            keys.append(pager.routing_key_secret)
        for email in self.email:
            keys += [email.auth_password_secret] if email.auth_password_secret else []
        for hook in self.webhook:
            keys += [hook.url_secret, *([hook.credentials_secret] if hook.credentials_secret else [])]
        return keys


class Route(Model):
    """An extra route, tried before the severity defaults: alerts whose labels equal every
    ``matchers`` entry (``severity``, ``namespace``, ``alertname``, any label) go to ``receiver``."""

    receiver: ReceiverName
    matchers: dict[LabelName, Text] = Field(min_length=1, strict=False)
    group_by: tuple[LabelName, ...] | None = Field(default=None, strict=False)
    continue_: bool = Field(default=False, alias="continue")


class RoutingConfig(Model):
    """How alerts reach receivers.

    Defaults: grouped by alertname, namespace; group_wait 30s, group_interval 5m, repeat_interval
    4h. ``critical`` and ``warning`` name the receivers for those severities (a pager and a chat
    channel, typically); ``heartbeat`` receives the always-firing Watchdog every minute, so a dead
    alerting pipeline is noticed by its silence (a dead man's switch). Anything unset goes to
    ``default`` (the ``null`` receiver unless named): synth warns when alerts go nowhere.
    """

    group_by: tuple[LabelName, ...] = Field(default=("alertname", "namespace"), strict=False)
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"
    critical: ReceiverName | None = None
    warning: ReceiverName | None = None
    heartbeat: ReceiverName | None = None
    default: ReceiverName = NULL_RECEIVER
    routes: tuple[Route, ...] = Field(default=(), strict=False)


class AlertmanagerStorageConfig(Model):
    """Alertmanager's silences and notification log. Defaults: 1Gi on the default StorageClass."""

    size: Quantity = "1Gi"
    storage_class: StorageClassName | None = None


ALERTMANAGER_RESOURCES = resources("50m", "64Mi", "200m", "256Mi")


class AlertmanagerConfig(Model):
    """Alertmanager StatefulSet: ``replicas`` peers in one gossip mesh (1 by default; 2 or more add
    a PodDisruptionBudget and spread across nodes), silences kept ``retention`` (120h), 50m/64Mi
    requested and 200m/256Mi limit."""

    replicas: int = Field(default=1, ge=1, le=5)
    retention: PositiveDuration = "120h"
    storage: AlertmanagerStorageConfig = AlertmanagerStorageConfig()
    resources: Annotated[Resources, BeforeValidator(ALERTMANAGER_RESOURCES.complete)] = ALERTMANAGER_RESOURCES
    exposure: ApiExposure = ApiExposure()
    receivers: tuple[Receiver, ...] = Field(default=(), strict=False)
    routing: RoutingConfig = RoutingConfig()

    @model_validator(mode="after")
    def _receivers_exist(self) -> AlertmanagerConfig:
        names = [r.name for r in self.receivers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"receiver names must be unique; {', '.join(duplicates)} appear more than once")
        known = {*names, NULL_RECEIVER}
        routing = self.routing
        used = [("routing.critical", routing.critical), ("routing.warning", routing.warning),
                ("routing.heartbeat", routing.heartbeat), ("routing.default", routing.default),
                *((f"routing.routes[{i}].receiver", r.receiver) for i, r in enumerate(routing.routes))]
        for field, name in used:
            if name is not None and name not in known:
                raise ValueError(f"{field}: no receiver is named {name!r}; add it under receivers or use "
                                 f"one of {', '.join(sorted(known))}")
        return self

    def secret_keys(self) -> list[str]:
        """Every sealed key the receivers reference, in order, without repeats."""
        return list(dict.fromkeys(key for receiver in self.receivers for key in receiver.secret_keys()))

    def goes_nowhere(self) -> bool:
        """True when no alert can reach a person: every severity ends in the null receiver."""
        routing = self.routing
        return (not self.receivers or
                {routing.critical or routing.default, routing.warning or routing.default} == {NULL_RECEIVER})
