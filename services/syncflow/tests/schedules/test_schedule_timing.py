"""Windows, daily periods, next runs and finish estimates, on a clock the test sets."""

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from syncflow.schedules.timing import ScheduleTiming
from syncflow.schedules.windows import Pacing, SyncWindow, estimate_finish, parse_hhmm, zone

HERE = Path(__file__).parent
WINDOW_CASES = json.loads((HERE / "window_cases.json").read_text())
TIMING_CASES = json.loads((HERE / "timing_cases.json").read_text())


def at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@pytest.mark.parametrize("case", WINDOW_CASES, ids=[c["id"] for c in WINDOW_CASES])
def test_window_occurrence_and_next_opening(case):
    window = SyncWindow(parse_hhmm(case["start"]), parse_hhmm(case["end"]), zone(case["timezone"]))
    moment = at(case["at"])
    occurrence = window.occurrence(moment)
    expected = (at(case["opens"]), at(case["closes"])) if case["opens"] else None
    assert occurrence == expected
    assert window.is_open(moment) is (expected is not None)
    assert window.next_opening(moment) == at(case["next_opening"])


@pytest.mark.parametrize("case", TIMING_CASES, ids=[c["id"] for c in TIMING_CASES])
def test_first_run(case):
    window = case["window"] or [None, None]
    timing = ScheduleTiming.of(
        interval_seconds=case["interval_seconds"],
        cron=case["cron"],
        timezone=case["timezone"],
        window_start=window[0],
        window_end=window[1],
    )
    assert timing.first_run(at(case["now"])) == at(case["first_run"])


def test_an_interval_keeps_its_rhythm_and_skips_missed_runs():
    timing = ScheduleTiming.of(
        interval_seconds=1, cron=None, timezone="UTC", window_start=None, window_end=None
    )
    due = datetime.fromisoformat("2025-06-11T10:00:00+00:00")
    assert timing.next_run(due=due, now=due) == due + timedelta(seconds=1)
    late = due + timedelta(seconds=5.5)
    assert timing.next_run(due=due, now=late) == due + timedelta(seconds=6)


def test_a_run_due_outside_the_window_is_deferred_to_the_next_opening():
    timing = ScheduleTiming.of(
        interval_seconds=600,
        cron=None,
        timezone="Europe/Berlin",
        window_start="19:00",
        window_end="07:00",
    )
    # the 06:55 run is due at 06:55; the next one would be 07:05, after the window closed
    due = datetime.fromisoformat("2025-06-11T06:55:00+02:00")
    assert timing.next_run(due=due, now=due) == datetime.fromisoformat("2025-06-11T19:00:00+02:00")
    assert timing.deferred(due + timedelta(hours=1)) == datetime.fromisoformat(
        "2025-06-11T19:00:00+02:00"
    )


@pytest.mark.parametrize(
    ("expression", "problem"),
    [("0 19 * * 5-1", "runs backwards"), ("0 0 31 2 *", "never fires"), ("0 19 * * 1/0", "step")],
)
def test_invalid_cron_says_why(expression, problem):
    with pytest.raises(ValueError, match=problem):
        ScheduleTiming.of(
            interval_seconds=None,
            cron=expression,
            timezone="UTC",
            window_start=None,
            window_end=None,
        ).first_run(datetime.fromisoformat("2025-06-11T00:00:00+00:00"))


def test_daily_budget_is_the_source_rows_spread_over_the_days():
    pacing = Pacing.from_options({"timezone": "Europe/Berlin", "days_to_complete": 3})
    assert pacing is not None
    assert pacing.rows_per_period(1000) == 334
    assert pacing.rows_per_period(0) == 1
    # without a window the periods are local calendar days
    noon = datetime.fromisoformat("2025-06-11T12:00:00+02:00")
    assert pacing.period(noon) == (
        datetime.fromisoformat("2025-06-11T00:00:00+02:00"),
        datetime.fromisoformat("2025-06-12T00:00:00+02:00"),
    )
    assert pacing.next_period(noon) == datetime.fromisoformat("2025-06-12T00:00:00+02:00")
    assert Pacing.from_options(None) is None
    assert Pacing.from_options({"due_only": True}) is None


def test_estimated_finish_counts_the_days_a_background_sync_still_needs():
    pacing = Pacing.from_options(
        {
            "timezone": "Europe/Berlin",
            "window_start": "19:00",
            "window_end": "07:00",
            "days_to_complete": 3,
        }
    )
    now = datetime.fromisoformat("2025-06-10T20:00:00+02:00")
    # 50 rows left tonight, then 100 tomorrow night, the last 100 the night after
    finish = estimate_finish(
        pacing, now=now, remaining_rows=250, rows_per_second=10, rows_per_period=100, budget_left=50
    )
    assert finish == datetime.fromisoformat("2025-06-12T19:00:10+02:00")
    # paused outside the window: the estimate starts at the next opening
    morning = datetime.fromisoformat("2025-06-11T08:00:00+02:00")
    finish = estimate_finish(
        pacing,
        now=morning,
        remaining_rows=30,
        rows_per_second=10,
        rows_per_period=100,
        budget_left=0,
    )
    assert finish == datetime.fromisoformat("2025-06-11T19:00:03+02:00")
    # unpaced: just the rate
    assert estimate_finish(None, now=now, remaining_rows=30, rows_per_second=10) == now + timedelta(
        seconds=3
    )
    assert estimate_finish(None, now=now, remaining_rows=30, rows_per_second=None) is None
    assert estimate_finish(pacing, now=now, remaining_rows=0, rows_per_second=None) == now


def test_a_window_shorter_than_the_work_spreads_it_over_nights():
    pacing = Pacing.from_options(
        {"timezone": "UTC", "window_start": "22:00", "window_end": "23:00"}
    )
    now = datetime.fromisoformat("2025-06-10T22:30:00+00:00")
    # one row a second: 1800 rows tonight, 3600 tomorrow night, 600 the night after
    finish = estimate_finish(pacing, now=now, remaining_rows=6000, rows_per_second=1)
    assert finish == datetime.fromisoformat("2025-06-12T22:10:00+00:00")
