"""promstack: a GitOps manifest compiler for a Kubernetes custom-metrics monitoring stack."""
