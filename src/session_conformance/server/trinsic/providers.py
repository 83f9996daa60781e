"""The identity providers the embedded Trinsic server knows, and what each one needs.

A provider's *native flow* is the launch method plus result-collection method it uses when the
integrator's UI can do everything itself (Advanced Provider Sessions); ``needs`` is the set of
``IntegrationCapability`` values that flow requires. Input-based providers also need their
``ProviderInput`` property; without it an Advanced session has an *input gap* (TRN-R16).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from session_conformance.server.state import EMBEDDED_TRINSIC_PROVIDER

LAUNCH_BROWSER = "LaunchBrowser"
DEEPLINK = "DeeplinkToMobile"
SHOW_CONTENT = "ShowContent"
REFRESH = "RefreshStepContent"
CAPTURE_REDIRECT = "CaptureRedirect"
POLL = "PollResult"

CAPABILITIES = (LAUNCH_BROWSER, DEEPLINK, SHOW_CONTENT, REFRESH, CAPTURE_REDIRECT, POLL)
HOSTED_FLOW = (LAUNCH_BROWSER, CAPTURE_REDIRECT)  # what Trinsic's hosted UI needs (TRN-R17/R18)

# Test providers beyond the default one: each exercises a different native flow.
MOBILE_TEST_PROVIDER = "conformance-test-mobile"
CONTENT_TEST_PROVIDER = "conformance-test-content"

CONTENT_TTL_SECONDS = 300  # lifetime of ShowContent step content before it must be refreshed


@dataclass(frozen=True)
class Provider:
    id: str
    launch: str  # IntegrationLaunchMethod of the native flow
    collect: str  # ResultCollectionMethod of the native flow
    input_key: str | None = None  # ProviderInput property for this provider
    input_required: bool = False  # an Advanced session without it has an input gap
    refreshable: bool = False  # the native step's content expires and can be refreshed

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({self.launch, self.collect})

    @property
    def redirect_based(self) -> bool:
        """Redirect-based flows need ``redirectUrl`` on Advanced sessions (TRN-R19)."""
        return self.collect == CAPTURE_REDIRECT


def _lookup(provider_id: str, input_key: str) -> Provider:
    """A database-lookup provider: with its input given there is nothing for the user to do."""
    return Provider(provider_id, POLL, POLL, input_key=input_key, input_required=True)


PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (
        Provider(EMBEDDED_TRINSIC_PROVIDER, LAUNCH_BROWSER, CAPTURE_REDIRECT),
        Provider(MOBILE_TEST_PROVIDER, DEEPLINK, POLL),
        Provider(CONTENT_TEST_PROVIDER, SHOW_CONTENT, POLL, refreshable=True),
        # The documented provider IDs of fact sheet 3.20, each with its ProviderInput property.
        _lookup("f-indonesia-nik", "indonesiaNik"),
        _lookup("f-mexico-curp", "mexicoCurp"),
        _lookup("f-south-africa-nid", "southAfricaNid"),
        _lookup("f-kenya-nid", "kenyaNid"),
        _lookup("f-nigeria-nin", "nigeriaNin"),
        _lookup("f-india-aadhaar-match", "aadhaar"),
        _lookup("bangladesh-nid", "bangladeshNationalId"),
        _lookup("g-brazil-cpf", "brazilCpfCheck"),
        _lookup("g-brazil-digital-cnh", "brazilDigitalCnh"),
        # Biometric match: the user takes a selfie in the browser; the input only pre-fills names.
        Provider("b-philsys-biometric", LAUNCH_BROWSER, CAPTURE_REDIRECT, input_key="philippineMatch"),
        _lookup("b-philippine-qr-digital-national-id", "philippineQR"),
        _lookup("b-philippine-qr-ephill-id", "philippineQR"),
    )
}

# --- provider-input formats (TRN-R38, TRN-R39) ---------------------------------------------------
# The contract's ProviderInput schema says the same; these checks keep the server right even while
# the contract is being edited, and give a readable detail naming the field.

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CNH_CONTENT_TYPES = ("application/pdf", "image/jpeg", "image/png")

# Required non-empty fields, exact digit counts and exact lengths per ProviderInput property.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "indonesiaNik": ("fullName", "dateOfBirth", "nikIdNumber"),
    "mexicoCurp": ("curp",),
    "southAfricaNid": ("fullName", "dateOfBirth", "gender", "nationalIdNumber"),
    "kenyaNid": ("firstName", "lastName", "dateOfBirth", "gender", "nationalIdNumber"),
    "nigeriaNin": ("firstName", "lastName", "dateOfBirth", "nationalIdNumber"),
    "brazilCpfCheck": ("cpfNumber",),
    "brazilDigitalCnh": ("cpfNumber",),
}
_DIGITS: dict[tuple[str, str], int] = {
    ("indonesiaNik", "nikIdNumber"): 16,
    ("southAfricaNid", "nationalIdNumber"): 13,
    ("kenyaNid", "nationalIdNumber"): 8,
    ("nigeriaNin", "nationalIdNumber"): 11,
    ("brazilCpfCheck", "cpfNumber"): 11,
    ("brazilDigitalCnh", "cpfNumber"): 11,
}
_LENGTH: dict[tuple[str, str], int] = {("mexicoCurp", "curp"): 18}
_DATE_FIELDS = frozenset({"dateOfBirth"})


def input_errors(provider_input: dict[str, Any]) -> list[tuple[str, str]]:
    """Format errors in a ``ProviderInput`` object, as (rule, message) pairs."""
    errors: list[tuple[str, str]] = []
    for key, value in provider_input.items():
        if value is None:
            continue
        if not isinstance(value, dict):
            errors.append(("TRN-R38", f"providerInput.{key} must be an object"))
            continue
        for field in _REQUIRED.get(key, ()):
            if not isinstance(value.get(field), str) or not value[field]:
                errors.append(
                    ("TRN-R38", f"providerInput.{key}.{field} is required and must be a non-empty string")
                )
        for field, item in value.items():
            where = f"providerInput.{key}.{field}"
            if item is None:
                continue
            if not isinstance(item, str):
                errors.append(("TRN-R38", f"{where} must be a string"))
                continue
            digits = _DIGITS.get((key, field))
            if digits is not None and not (len(item) == digits and item.isascii() and item.isdigit()):
                errors.append(("TRN-R38", f"{where} must be exactly {digits} digits"))
            length = _LENGTH.get((key, field))
            if length is not None and len(item) != length:
                errors.append(("TRN-R38", f"{where} must be exactly {length} characters"))
            if field in _DATE_FIELDS and not _is_date(item):
                errors.append(("TRN-R38", f"{where} must be a date YYYY-MM-DD"))
        content_type = value.get("digitalCnhFileContentType") if key == "brazilDigitalCnh" else None
        if content_type is not None and content_type not in CNH_CONTENT_TYPES:
            errors.append(
                (
                    "TRN-R39",
                    f"providerInput.{key}.digitalCnhFileContentType must be one of "
                    + ", ".join(CNH_CONTENT_TYPES),
                )
            )
    return errors


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    year, month, day = (int(part) for part in text.split("-"))
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def has_input(provider: Provider, provider_input: dict[str, Any] | None) -> bool:
    """Whether the request carries the input this provider needs (the QR one needs text or image)."""
    if provider.input_key is None or not provider_input:
        return False
    value = provider_input.get(provider.input_key)
    if not isinstance(value, dict):
        return False
    if provider.input_key == "philippineQR":
        return bool(value.get("qrCodeText") or value.get("qrCodeImage"))
    if provider.input_key in _REQUIRED:
        return True  # its required fields are checked by input_errors
    return any(item not in (None, "") for item in value.values())
