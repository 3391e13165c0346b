"""Console strings that come from data rather than templates (statuses, modes, counters,
flags, roles, delivery states and operations, navigation), listed so the catalogs can be
checked for every one of them."""

from typing import get_args

from syncflow.auth.principal import Role
from syncflow.console.deliveries import STATES
from syncflow.console.overview import FLAG_TEXTS
from syncflow.console.pages import NAV
from syncflow.domain import COUNTER_NAMES

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
MODES = ("incremental", "full", "retry", "resolve")
COUNTERS = COUNTER_NAMES
ROLES: tuple[str, ...] = get_args(Role)
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
