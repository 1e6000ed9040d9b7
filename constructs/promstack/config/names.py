"""Object names shared between the stack, the cert helper and the validation gate.

Names are chosen, never hashed; each lives here once so no string is typed twice.
"""

NODE_EXPORTER = "node-exporter"
PROMETHEUS = "prometheus"
KUBE_STATE_METRICS = "kube-state-metrics"
PROMETHEUS_ADAPTER = "prometheus-adapter"
GRAFANA = "grafana"
ALERTMANAGER = "alertmanager"
#: The example workload (podinfo) and its autoscaling target.
EXAMPLE_APP = "podinfo"

#: The Secret the adapter serves TLS from (sealed into a SealedSecret of the same name).
ADAPTER_SERVING_SECRET = "cm-adapter-serving-certs"
#: Files inside clusters/<name>/ written by `promstack certs issue` and read by synth.
ADAPTER_SEALED_SECRET_FILE = "adapter-serving-certs.sealedsecret.yaml"
ADAPTER_CA_FILE = "adapter-ca.crt"
CERT_FACTS_FILE = "certs.yaml"
SEALING_CERT_FILE = "sealing-cert.pem"

#: Grafana's admin credentials, sealed by `promstack seal --name grafana-admin --from-file admin-password=...`.
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_SECRET_FILE = "grafana-admin.sealedsecret.yaml"
#: Pod template annotation naming (comma-separated) the Secrets a user creates in the cluster by hand
#: (no Sealed Secrets controller): the gate accepts references to them although nothing renders them.
SECRETS_CREATED_IN_CLUSTER = "secrets.promstack.io/created-in-cluster"
#: The keys of the adapter's serving Secret in sealed mode (Opaque: kubernetes.io/tls would need tls.*).
ADAPTER_SERVING_CERT_KEY = "serving.crt"
ADAPTER_SERVING_KEY_KEY = "serving.key"
ADAPTER_SERVING_KEYS = (ADAPTER_SERVING_CERT_KEY, ADAPTER_SERVING_KEY_KEY)
#: The aggregated API the adapter serves, and the APIServices that register it (v1beta2 preferred).
CUSTOM_METRICS_GROUP = "custom.metrics.k8s.io"
CUSTOM_METRICS_VERSIONS = (("v1beta1", 100), ("v1beta2", 200))
CUSTOM_METRICS_APISERVICES = tuple(f"{version}.{CUSTOM_METRICS_GROUP}" for version, _ in CUSTOM_METRICS_VERSIONS)

#: Basic auth of an exposed Prometheus or Alertmanager (`promstack seal-web-auth`): the Secret
#: ``<ui>-web-auth`` holds the web config (bcrypt hashes), the in-cluster clients' password and, for
#: Prometheus, the adapter's kubeconfig-format auth file. In-cluster clients log in as CLIENT_USER.
WEB_AUTH_SECRET_SUFFIX = "-web-auth"
WEB_CONFIG_KEY = "web-config.yml"
CLIENT_PASSWORD_KEY = "client-password"
ADAPTER_AUTH_KEY = "adapter-auth.kubeconfig"
CLIENT_USER = "promstack"
#: Prometheus' web port, for the adapter's kubeconfig-format auth file.
PROMETHEUS_PORT = 9090
