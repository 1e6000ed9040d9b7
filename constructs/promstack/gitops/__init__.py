"""Delivery: Argo CD / Flux bootstrap objects, sync ordering, and synthesis into dist/."""
