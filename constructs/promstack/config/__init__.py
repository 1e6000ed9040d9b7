"""Inputs: the cluster and fleet models, YAML reading and writing, object names and pinned images."""
