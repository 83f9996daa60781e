"""The provider-state hook's one variant: a target that offers only the states target-interface.md publishes.

``app.py`` serves the hook (``POST /_conformance/provider-state``) and applies the variant; it lives here,
apart from ``app.py``, so that ``catalogue.py`` can register it without importing the app.
"""

from __future__ import annotations

from session_conformance.server.variants import register

HOOK_PUBLISHED_STATES_ONLY = register(
    "ztd-hook-published-states-only",
    "target-interface",
    "the provider-state hook offers only the states target-interface.md publishes: the embedded server's "
    "own `zitadel idp intent succeeded` answers 400 unknown state (the checks needing it skip)",
    ("ZTD-R21", "ZTD-R29"),
)
PUBLISHED_PROVIDER_STATES = frozenset({"trinsic session finished", "zitadel user exists"})
