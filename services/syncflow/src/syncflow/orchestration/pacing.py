"""Pacing a scheduled batch: its night window and its daily portion.

A scheduled batch may be paced (``sync_batches.options``): between chunks it checks
its window and its daily portion (``days_to_complete``) on the context's clock, and
when either is used up it goes back to ``pending`` with ``not_before`` set to the next
opening, its progress committed. It still blocks a second batch of its entity
meanwhile, and continues from its checkpoint when claimed again.
"""

from datetime import datetime
from typing import Any

from syncflow.domain import RESOLVE_MODE, RETRY_MODE
from syncflow.orchestration.state import BatchState
from syncflow.schedules.windows import Pacing, estimate_finish


class BatchPacing:
    """When a batch must pause, and when it should be done; a batch queued without a
    window or ``days_to_complete`` (and every retry or resolve batch) never pauses."""

    def __init__(self, state: BatchState) -> None:
        self.state = state
        self.pacing: Pacing | None = (
            None if state.mode in (RETRY_MODE, RESOLVE_MODE) else Pacing.from_options(state.options)
        )

    def pause_due(self, now: datetime) -> tuple[datetime, str] | None:
        """Between chunks: until when and why the batch pauses (``None``: read on).

        Keeps the checkpoint's period bookkeeping and the window's close
        (``state.stop_at``) current.
        """
        if self.pacing is None:
            return None
        state = self.state
        period = self.pacing.period(now)
        if period is None:
            return self.pacing.next_period(now), "the window is closed"
        opens, closes = period
        state.stop_at = closes if self.pacing.window is not None else None
        if not self.pacing.days_to_complete:
            return None
        checkpoint = state.checkpoint
        if checkpoint.get("period") != opens.isoformat():
            checkpoint["period"] = opens.isoformat()
            checkpoint["period_rows_from"] = state.counters.fetched
            checkpoint["periods"] = int(checkpoint.get("periods", 0)) + 1
        budget = checkpoint.get("rows_per_period")
        if budget is not None and self.period_rows() >= budget:
            return self.pacing.next_period(now), "this period's portion is read"
        return None

    def plan_total(self, total_rows: int) -> None:
        """The source's row count is known: fix the daily portion."""
        if self.pacing is not None:
            self.state.checkpoint["rows_per_period"] = self.pacing.rows_per_period(total_rows)

    def period_rows(self) -> int:
        """Rows read in the current period."""
        state = self.state
        return state.counters.fetched - int(state.checkpoint.get("period_rows_from", 0))

    def estimate_finish(
        self, *, now: datetime, remaining_rows: int, rows_per_second: float | None
    ) -> datetime | None:
        budget = self.state.checkpoint.get("rows_per_period")
        return estimate_finish(
            self.pacing,
            now=now,
            remaining_rows=remaining_rows,
            rows_per_second=rows_per_second,
            rows_per_period=budget,
            budget_left=max(budget - self.period_rows(), 0) if budget else None,
        )

    def progress(self) -> dict[str, Any]:
        """The pacing's part of the batch's progress (empty without daily portions)."""
        if self.pacing is None or not self.pacing.days_to_complete:
            return {}
        return {
            "days_to_complete": self.pacing.days_to_complete,
            "day": self.state.checkpoint.get("periods"),
            "rows_per_day": self.state.checkpoint.get("rows_per_period"),
        }
