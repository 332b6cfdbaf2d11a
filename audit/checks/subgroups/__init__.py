"""Subgroup analysis: per-group metrics, paired tests, slice discovery, forget similarity."""

from audit.checks.subgroups.discovery import Discovered, discover_slices, split_halves
from audit.checks.subgroups.inference import HARM_SIGN, GroupTest, compare_groups, paired_rows
from audit.checks.subgroups.kernel import group_rows, kernel_group_metrics
from audit.checks.subgroups.metrics import group_metrics, rates
from audit.checks.subgroups.similarity import ForgetLikeness, forget_shares
from audit.checks.subgroups.slices import (
    Slice,
    bin_features,
    enumerate_slices,
    slice_label,
    slice_mask,
)

__all__ = [
    "group_rows",
    "kernel_group_metrics",
    "Discovered",
    "discover_slices",
    "split_halves",
    "HARM_SIGN",
    "GroupTest",
    "compare_groups",
    "paired_rows",
    "group_metrics",
    "rates",
    "ForgetLikeness",
    "forget_shares",
    "Slice",
    "bin_features",
    "enumerate_slices",
    "slice_label",
    "slice_mask",
]
