"""Importers: Kubernetes manifests, nvidia-smi output and Prometheus metrics into a SORT-AI description."""
