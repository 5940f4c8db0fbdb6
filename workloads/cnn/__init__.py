"""Distributed CNN training on CIFAR-10 (see spec.py)."""
