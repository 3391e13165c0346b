"""Base models for what clients send: unknown keys are refused, never ignored.

A typo in a configuration payload (``"delta_stratgy"``) would otherwise pass silently
and leave the default in force; with ``extra="forbid"`` it is a 422 naming the key.
"""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Base of every request body."""

    model_config = ConfigDict(extra="forbid")
