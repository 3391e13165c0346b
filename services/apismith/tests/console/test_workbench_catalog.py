"""Every workbench string (templates, navigation, roles, audit statuses) has a Persian
translation."""

from pathlib import Path
from typing import get_args

from babel.messages.extract import extract_from_dir

import apismith.console
import bridge_core.console
from apismith.auth.security import ROLES
from apismith.console.pages import NAV
from apismith.executions.schemas import ExecutionStatus
from bridge_core.console.i18n import Translations

HERE = Path(apismith.console.__file__).parent
CORE = Path(bridge_core.console.__file__).parent


def test_every_workbench_string_has_a_persian_translation():
    extracted = extract_from_dir(
        HERE / "templates",
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
    )
    wanted = {m for _, _, m, _, _ in extracted if isinstance(m, str)}
    wanted |= {item.label for item in NAV} | set(ROLES) | set(get_args(ExecutionStatus))
    persian = Translations("fa", [HERE / "translations", CORE / "translations"])
    assert len(wanted) > 40
    assert sorted(m for m in wanted if not persian.has(m)) == []
