"""What a run records about itself beyond its verdicts: seed, options (masked), Python and package versions.

The summary keeps it under ``run``; ``package`` copies it into the certification manifest.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import asdict, is_dataclass
from importlib import metadata
from typing import Any

from session_conformance.contracts import contracts_dir
from session_conformance.reporting.masking import mask_data, mask_url

KEY_PACKAGES = (
    "schemathesis",
    "hypothesis",
    "pytest",
    "pytest-xdist",
    "allure-pytest",
    "httpx",
    "jsonschema",
    "referencing",
    "starlette",
    "uvicorn",
)
_URL_OPTIONS = ("base_url", "provider_state_url")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def masked_options(options: Any) -> dict[str, Any]:
    """Every resolved option, JSON-safe, secrets and identity data masked by the redaction module."""
    if options is None or not is_dataclass(options) or isinstance(options, type):
        return {}
    raw = asdict(options)
    profile = getattr(options, "profile", None)
    raw["profile"] = getattr(profile, "name", str(profile))
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, (tuple, frozenset, set)):
            value = sorted(value) if isinstance(value, (frozenset, set)) else list(value)
        if key in _URL_OPTIONS and isinstance(value, str):
            value = mask_url(value)
        values[key] = value
    masked = mask_data(values)
    return masked if isinstance(masked, dict) else {}


def contract_digests() -> dict[str, str]:
    """SHA-256 of every contract file and of ``rules.json``, by path under ``contracts/``."""
    root = contracts_dir()
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.json"))
    }


def describe_run(options: Any, seed: object) -> dict[str, Any]:
    return {
        "seed": seed,
        "contracts": contract_digests(),
        "options": masked_options(options),
        "python": platform.python_version(),
        "packages": package_versions(),
    }
