"""The reports' one door to ``session_conformance.redaction``: everything written under reports/ passes here.

The reporting package never decides on its own what a secret is; it calls the project's redaction
functions (which also mask every secret value the run has registered).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from session_conformance.redaction import redact, redact_text, redact_url


def mask_text(text: str) -> str:
    """``text`` with every secret the redaction module knows about masked."""
    return redact_text(text) if text else text


def mask_data(data: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, bytes) with secrets masked."""
    return redact(data)


def mask_url(url: str) -> str:
    """A target URL fit for a report: user info dropped, secret query parameters and secrets masked."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return redact_url(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
