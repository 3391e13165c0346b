"""The demo's one error: something the newcomer must fix (a taken port, a failed start)."""


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""
