"""unlearn-audit: verify machine unlearning against retrained reference models."""

from audit.errors import AuditError, BadInput
from audit.results import CheckResult, Figure, Finding, Metric, Table, worst_status

__version__ = "0.1.0"

__all__ = [
    "AuditError",
    "BadInput",
    "CheckResult",
    "Figure",
    "Finding",
    "Metric",
    "Table",
    "worst_status",
    "__version__",
]
