"""Every APISmith setting is documented in docs/README.md with its default."""

import re
from pathlib import Path

from apismith.settings import Settings

README = Path(__file__).parents[1] / "docs" / "README.md"


def test_every_setting_is_listed_with_its_default():
    rows = dict(re.findall(r"^\| `(APISMITH_[A-Z_]+)` \| ([^|]+) \|", README.read_text(), re.M))

    documented = set(rows)
    expected = {f"APISMITH_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = rows[f"APISMITH_{name.upper()}"].strip()
        if isinstance(default, bool):
            assert shown == f"`{str(default).lower()}`", name
        elif isinstance(default, int | str):
            assert shown == f"`{default}`", name
        elif default is None:
            assert shown == "unset", name
