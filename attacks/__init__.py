"""Adversaries: membership inference, unlearning inference and ROC metrics.

This package knows nothing of policies or reports; it maps model outputs to attack
scores (higher = more member-like) and scores to ROC metrics.
"""

__all__: list[str] = []
