"""Variant switches of the embedded Trinsic server: other legitimate readings of the fact sheet.

Registered at import; the server tests ``NAME in state.variants``. Each names the ambiguity (``A-nn``)
or convention it comes from; the README's ambiguity table says which readings pass.
"""

from __future__ import annotations

from session_conformance.server.variants import register

__all__ = ["register"]
