"""The embedded reference server: Trinsic v1 and Zitadel v2/v2beta session APIs in one ASGI app."""

from session_conformance.server.app import create_app
from session_conformance.server.runner import EmbeddedServer

__all__ = ["EmbeddedServer", "create_app"]
