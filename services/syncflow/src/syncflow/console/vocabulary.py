"""Console strings that come from data rather than templates (statuses, modes, counters,
flags, roles, navigation), listed so the catalogs can be checked for every one of them."""

from syncflow.console.overview import FLAG_TEXTS
from syncflow.console.pages import NAV

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
MODES = ("incremental", "full", "retry", "resolve")
COUNTERS = (
    "fetched",
    "inserted",
    "updated",
    "unchanged",
    "failed",
    "duplicate",
    "pending",
    "deleted",
    "resolved",
)
ROLES = ("admin", "operator", "viewer")
CHART_LABELS = ("rows", "seconds", "max")

DATA_MESSAGES: tuple[str, ...] = (
    *STATUSES,
    *MODES,
    *COUNTERS,
    *ROLES,
    *CHART_LABELS,
    *FLAG_TEXTS,
    *(item.label for item in NAV),
)
