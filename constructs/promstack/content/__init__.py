"""What the stack carries besides workloads: rules, metric catalogs, dashboards, autoscaling checks."""
