"""The one httpx client factory: every request the suite sends goes through a client made here."""

from __future__ import annotations

import functools
import ssl

import httpx

USER_AGENT = "session-conformance"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # httpx builds (and loads the CA bundle into) a context per client: ~33 ms of CPU each, 22 times a run
    return httpx.create_ssl_context()


def make_httpx_client(
    base_url: str,
    *,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.Client:
    """No redirects followed, per-request timeouts, our User-Agent."""
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=transport,
        limits=limits or httpx.Limits(),
        verify=_ssl_context(),
    )
