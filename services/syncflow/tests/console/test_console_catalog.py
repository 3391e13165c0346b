"""Every console string has a Persian translation; flags and locale formatting behave."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from babel.messages.extract import extract_from_dir

import bridge_core.console
import syncflow.console
from bridge_core.console.i18n import Translations
from syncflow.console.overview import flags
from syncflow.console.vocabulary import DATA_MESSAGES
from syncflow.sync.schemas import BatchStatus

CORE = Path(bridge_core.console.__file__).parent
SYNCFLOW = Path(syncflow.console.__file__).parent


def _template_messages(directory: Path) -> set[str]:
    extracted = extract_from_dir(
        directory / "templates",
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
    )
    return {message for _, _, message, _, _ in extracted if isinstance(message, str)}


def test_every_console_string_has_a_persian_translation():
    persian = Translations("fa", [SYNCFLOW / "translations", CORE / "translations"])
    wanted = _template_messages(CORE) | _template_messages(SYNCFLOW) | set(DATA_MESSAGES)
    assert len(wanted) > 100
    assert sorted(m for m in wanted if not persian.has(m)) == []


def test_numbers_and_dates_follow_the_locale():
    english = Translations("en", [CORE / "translations"])
    persian = Translations("fa", [CORE / "translations"])
    assert english.number(1234567) == "1,234,567"
    assert persian.number(1234567) == "۱٬۲۳۴٬۵۶۷"
    moment = datetime(2026, 3, 1, 14, 5, tzinfo=UTC)
    assert "2026" in english.datetime(moment)
    assert "۲۰۲۶" in persian.datetime(moment) or "۱۴۰۴" in persian.datetime(moment)


def _batch(status, fetched, seconds, failed=0, age=0):
    started = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=age)
    return BatchStatus(
        batch_uid=uuid4(),
        entity="parts",
        mode="incremental",
        dry_run=False,
        status=status,
        counters={"fetched": fetched, "failed": failed},
        created_at=started,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds),
    )


def test_flags_say_what_needs_a_look():
    usual = [_batch("completed", 100, 5, age=i) for i in range(1, 6)]
    assert flags(usual) == []
    assert flags([_batch("failed", 0, 1), *usual]) == ["last run failed"]
    assert flags([_batch("completed", 0, 5), *usual]) == ["0 rows, usually some"]
    assert flags([_batch("completed", 100, 60), *usual]) == ["much slower than usual"]
    rising = [_batch("completed", 100, 5, failed=n, age=i) for i, n in enumerate((9, 4, 1))]
    assert flags(rising) == ["failures rising"]
