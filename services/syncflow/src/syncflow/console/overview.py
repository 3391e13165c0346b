"""What the console's overview and trend pages show: per entity, its last batch, its
delivery (lag, undelivered and dead events over every destination), flags for what needs a
look, and the recent runs drawn as a server-side SVG chart.

Flags compare the last finished batch with the entity's recent history (pure functions
over :class:`BatchStatus` lists, newest first):

- ``last run failed``;
- ``0 rows, usually some``: the last completed run fetched nothing while the median of
  the earlier ones fetched rows;
- ``much slower than usual``: it took more than 3x the earlier median (and over 10 s);
- ``failures rising``: each of the last three runs failed more rows than the one before;
- ``dead letters``: some of the entity's events are dead-lettered at a destination.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from markupsafe import Markup, escape

from syncflow.monitoring.schemas import DeliveryStats
from syncflow.sync.schemas import BatchStatus

FINISHED = ("completed", "failed", "cancelled")
SLOWER_FACTOR = 3.0
SLOW_FLOOR_SECONDS = 10.0
LAST_FAILED = "last run failed"
ZERO_ROWS = "0 rows, usually some"
SLOWER = "much slower than usual"
FAILURES_RISING = "failures rising"
DEAD_LETTERS = "dead letters"
FLAG_TEXTS = (LAST_FAILED, ZERO_ROWS, SLOWER, FAILURES_RISING, DEAD_LETTERS)


def duration_seconds(batch: BatchStatus) -> float | None:
    if batch.started_at is None or batch.finished_at is None:
        return None
    return (batch.finished_at - batch.started_at).total_seconds()


def flags(history: list[BatchStatus]) -> list[str]:
    """The flags of an entity's recent batches (newest first); English source texts."""
    finished = [b for b in history if b.status in FINISHED and b.mode in ("incremental", "full")]
    if not finished:
        return []
    last, earlier = finished[0], finished[1:]
    found = []
    if last.status == "failed":
        found.append(LAST_FAILED)
    if last.status == "completed" and earlier:
        if (
            last.counters.get("fetched", 0) == 0
            and median(b.counters.get("fetched", 0) for b in earlier) > 0
        ):
            found.append(ZERO_ROWS)
        seconds = duration_seconds(last)
        usual = [s for b in earlier if (s := duration_seconds(b)) is not None]
        if seconds is not None and usual:
            typical = median(usual)
            if seconds > SLOW_FLOOR_SECONDS and seconds > SLOWER_FACTOR * typical:
                found.append(SLOWER)
    failed = [b.counters.get("failed", 0) for b in finished[:3]]
    if len(failed) == 3 and failed[0] > failed[1] > failed[2]:
        found.append(FAILURES_RISING)
    return found


@dataclass(frozen=True)
class EntityDelivery:
    """An entity's delivery over every destination."""

    undelivered: int  # pending or in flight
    dead: int
    lag_seconds: float  # the oldest undelivered event's age (0 when none waits)


def delivery_by_entity(streams: Sequence[DeliveryStats]) -> dict[str, EntityDelivery]:
    """Per entity, the streams (destination, entity) with undelivered events summed up; the
    lag is the largest, that of the oldest event still waiting anywhere."""
    found: dict[str, EntityDelivery] = {}
    for stream in streams:
        seen = found.get(stream.entity, EntityDelivery(0, 0, 0.0))
        found[stream.entity] = EntityDelivery(
            undelivered=seen.undelivered + stream.pending + stream.delivering,
            dead=seen.dead + stream.dead,
            lag_seconds=max(seen.lag_seconds, stream.lag_seconds),
        )
    return found


@dataclass(frozen=True)
class TrendPoint:
    batch_uid: str
    started_at: datetime | None
    rows: int
    seconds: float


def trend_points(history: list[BatchStatus]) -> list[TrendPoint]:
    """Finished batches oldest first: rows fetched and seconds taken."""
    points = []
    for batch in reversed(history):
        seconds = duration_seconds(batch)
        if batch.status in FINISHED and seconds is not None:
            points.append(
                TrendPoint(
                    batch_uid=str(batch.batch_uid),
                    started_at=batch.started_at,
                    rows=batch.counters.get("fetched", 0),
                    seconds=seconds,
                )
            )
    return points


def trend_svg(
    points: list[TrendPoint], *, title: str, rows_label: str, seconds_label: str, max_label: str
) -> Markup:
    """Rows per batch as bars and seconds per batch as a line, on one 640x200 SVG."""
    width, height, pad = 640, 200, 28
    if not points:
        return Markup("")
    max_rows = max(p.rows for p in points) or 1
    max_seconds = max(p.seconds for p in points) or 1.0
    step = (width - 2 * pad) / len(points)
    bars, line = [], []
    for i, point in enumerate(points):
        x = pad + i * step
        bar_height = (height - 2 * pad) * point.rows / max_rows
        bars.append(
            f'<rect class="bar" x="{x + step * 0.15:.1f}" y="{height - pad - bar_height:.1f}" '
            f'width="{step * 0.7:.1f}" height="{bar_height:.1f}">'
            f"<title>{point.rows} / {point.seconds:.1f} s</title></rect>"
        )
        y = height - pad - (height - 2 * pad) * point.seconds / max_seconds
        line.append(f"{x + step / 2:.1f},{y:.1f}")
    # every text is escaped above and every number formatted here, hence safe markup
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" direction="ltr" '
        f'aria-label="{escape(title)}">'
        f'<text x="{pad}" y="16">{escape(rows_label)} ({escape(max_label)} {max_rows})</text>'
        f'<text x="{width - pad}" y="16" text-anchor="end">'
        f"{escape(seconds_label)} ({escape(max_label)} {max_seconds:.1f})</text>"
        + "".join(bars)
        + f'<polyline class="line" points="{" ".join(line)}"/>'
        + "</svg>"
    )
