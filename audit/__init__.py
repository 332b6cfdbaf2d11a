"""unlearn-audit: verify machine unlearning against retrained reference models."""

from audit.core.results import CheckResult, Figure, Finding, Metric, Table, worst_status
from audit.shared.errors import AuditError, BadInput

__version__ = "0.1.0"

_LAZY = {"AuditResult": "audit.engine.result_api", "run_audit": "audit.engine.runner"}


def __getattr__(name: str) -> object:
    """``audit.run_audit`` / ``audit.AuditResult`` import numpy, pandas, torch on first use only."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")


__all__ = [
    "AuditError",
    "AuditResult",
    "BadInput",
    "CheckResult",
    "Figure",
    "Finding",
    "Metric",
    "Table",
    "run_audit",
    "worst_status",
    "__version__",
]
