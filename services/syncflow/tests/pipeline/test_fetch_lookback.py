"""Where an incremental read starts: the committed cursor minus the lookback."""

import pytest

from syncflow.pipeline.fetch import below_cursor


@pytest.mark.parametrize(
    ("cursor", "lookback", "start"),
    [
        (1000, 0, 1000),
        (1000, 50, 950),
        (1000, 2.5, 997),
        ("12345.50", 10, "12335.50"),
        ("2025-06-01T08:00:00+02:00", 90, "2025-06-01T07:58:30+02:00"),
        ("2025-06-01T08:00:00", 3600, "2025-06-01T07:00:00"),
        ("0x00000000000007D1", 5, "0x00000000000007D1"),
        (None, 60, None),
    ],
)
def test_incremental_reads_start_below_the_cursor(cursor, lookback, start):
    assert below_cursor(cursor, lookback) == start
