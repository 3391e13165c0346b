"""Console languages: Babel ``.po`` catalogs read at start, locale-aware formatting filters.

Catalogs are read straight from their ``.po`` files (no compile step); a service's
catalog is consulted before bridge_core's, and an untranslated string falls back to
its English source text.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from babel.core import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Language", "Translations"]


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself, as the switch shows it
    direction: str  # "ltr" or "rtl"
    digits: str = "0123456789"  # Babel formats with Latin digits; readers may want their own


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "ltr"),
    "fa": Language("fa", "فارسی", "rtl", digits="۰۱۲۳۴۵۶۷۸۹"),
}
DEFAULT_LANGUAGE = "en"


def _read_catalog(path: Path) -> Catalog | None:
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle)


class Translations:
    """The gettext callables and formatters of one language, over several catalogs."""

    def __init__(self, language: str, catalog_dirs: Sequence[Path]) -> None:
        self.language = LANGUAGES[language]
        self.locale = Locale.parse(language)
        self._digits = str.maketrans("0123456789", self.language.digits)
        self._messages: dict[str, str] = {}
        # later directories are bridge_core's: the service's own catalog wins
        for directory in reversed(catalog_dirs):
            catalog = _read_catalog(directory / language / "LC_MESSAGES" / "messages.po")
            if catalog is None:
                continue
            for message in catalog:
                if message.id and isinstance(message.id, str) and message.string:
                    self._messages[message.id] = str(message.string)

    def gettext(self, message: str) -> str:
        return self._messages.get(message, message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.gettext(singular if count == 1 else plural)

    def has(self, message: str) -> bool:
        return message in self._messages

    def datetime(self, value: datetime | None) -> str:
        """A timestamp in the reader's locale (medium format, UTC as stored)."""
        if value is None:
            return "—"
        return format_datetime(value, format="medium", locale=self.locale).translate(self._digits)

    def duration(self, seconds: float | None) -> str:
        """A length of time in the reader's words, rounded to its largest unit ("3 minutes")."""
        if seconds is None:
            return "—"
        text = format_timedelta(timedelta(seconds=seconds), locale=self.locale)
        return text.translate(self._digits)

    def number(self, value: int | float | Decimal | None, digits: int = 0) -> str:
        """A number with the locale's digits and separators."""
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        text = format_decimal(value, format=pattern, locale=self.locale, numbering_system="default")
        return text.translate(self._digits)
