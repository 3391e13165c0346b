"""Console strings that come from data rather than templates (statuses, modes, counters,
flags, roles, delivery states and operations, navigation), listed so the catalogs can be
checked for every one of them."""

from syncflow.console.deliveries import STATES
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
DELIVERY_STATES = STATES
OPERATIONS = ("insert", "update", "delete")
CHART_LABELS = ("rows", "seconds", "max")

DATA_MESSAGES: tuple[str, ...] = (
    *STATUSES,
    *MODES,
    *COUNTERS,
    *ROLES,
    *DELIVERY_STATES,
    *OPERATIONS,
    *CHART_LABELS,
    *FLAG_TEXTS,
    *(item.label for item in NAV),
)
