"""Strings layer: every text value is cleaned the same way before it is read as anything.

CR LF and lone CR become LF; control characters (Unicode category Cc) other than tab
and LF are removed; the text is put in Unicode NFC; leading and trailing whitespace is
trimmed; text left blank becomes ``None`` (NULL).
"""

import unicodedata

# C0 controls but tab (0x09) and LF (0x0A), DEL, and the C1 controls; CR is turned into
# LF before this table applies
_CONTROL_CHARACTERS: dict[int, None] = dict.fromkeys(
    [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)]
)


def clean_text(text: str) -> str | None:
    """``text`` trimmed, with LF line endings, without control characters, in NFC;
    ``None`` when nothing is left."""
    # most values are printable ASCII already: nothing to do but trim (strip() returns
    # the same object when there is nothing to strip)
    if text.isascii() and text.isprintable():
        return text.strip() or None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_CONTROL_CHARACTERS)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text.strip() or None
