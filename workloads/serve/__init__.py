"""The serve workload: online scoring of the inference workload's CNN over HTTP (spec.py)."""
