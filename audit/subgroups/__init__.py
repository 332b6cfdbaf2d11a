"""Subgroup analysis: per-group metrics, paired tests, slice discovery, forget similarity."""

from audit.subgroups.discovery import Discovered, discover_slices, split_halves
from audit.subgroups.inference import HARM_SIGN, GroupTest, compare_groups, paired_rows
from audit.subgroups.kernel import group_rows, kernel_group_metrics
from audit.subgroups.metrics import group_metrics, rates
from audit.subgroups.similarity import ForgetLikeness, forget_shares
from audit.subgroups.slices import Slice, bin_features, enumerate_slices, slice_label, slice_mask

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
