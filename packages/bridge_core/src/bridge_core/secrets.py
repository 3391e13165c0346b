"""Masking of secrets in text: URLs with passwords, bearer tokens, key=value pairs.

Used by logging (every record passes through it) and by anything that shows a URL.
"""

import re

_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+")
_PAIR = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|secret|token|api_key|apikey|access_token|refresh_token)\b"
    r"[\"']?\s*[=:]\s*[\"']?)(?P<val>[^\s\"',;&}]+)"
)

MASK = "***"


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def mask_secrets(text: str) -> str:
    """Mask passwords in URLs, bearer tokens and ``password=...``-style pairs."""
    text = mask_url(text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _PAIR.sub(lambda m: f"{m['key']}{MASK}", text)
