"""Strings layer: trim, line endings, control characters, NFC, blank -> NULL."""

import pytest

from syncflow.pipeline.normalize.strings import clean_text


@pytest.mark.cases("normalize_strings.json", "clean_text")
def test_clean_text(case):
    assert clean_text(case["input"]) == case["expected"]


def test_clean_text_is_idempotent():
    messy = "  Caf\u0065\u0301\r\nline\u0007 two\t "
    once = clean_text(messy)
    assert once == "Caf\u00e9\nline two"
    assert clean_text(once) == once
