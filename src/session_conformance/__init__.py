"""session-conformance: contract-testing and conformance suite for identity-session HTTP APIs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("session-conformance")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
