"""Batch inference: a trained CNN scores CIFAR-10-format images on every engine (see spec.py)."""
