"""The suite's configuration: every option of the outside interface, resolved flags > environment > defaults.

``resolve_options`` turns raw flag values and an environment into ``Options`` (pure, no I/O) and raises
``UsageError`` with one readable line for anything wrong. ``Target`` is what the suites see once the
embedded server (when there is no ``--base-url``) has been started and wired in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from session_conformance.apis import API_FAMILY, APIS
from session_conformance.errors import UsageError
from session_conformance.ratelimit import parse_rate

__all__ = ["UsageError"]


@dataclass(frozen=True)
class Profile:
    """An example budget; ``max_examples`` applies per generated test (Schemathesis: per operation, mode)."""

    name: str
    max_examples: int  # Hypothesis examples per test
    stateful_steps: int  # maximum steps of one stateful scenario
    stateful_examples: int  # stateful scenarios per API
    coverage_phase: bool  # Schemathesis' deterministic boundary/coverage cases on top of random ones


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", max_examples=5, stateful_steps=6, stateful_examples=4, coverage_phase=False),
    "standard": Profile(
        "standard", max_examples=25, stateful_steps=12, stateful_examples=15, coverage_phase=True
    ),
    "deep": Profile("deep", max_examples=200, stateful_steps=30, stateful_examples=100, coverage_phase=True),
}
DEFAULT_PROFILE = "standard"
DEFAULT_TIMEOUT = 10.0
API_CHOICES = (*APIS, "all")


@dataclass(frozen=True)
class OptionSpec:
    flag: str  # "--base-url"
    env: str  # "CONFORMANCE_BASE_URL"
    help: str
    boolean: bool = False
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return "conformance_" + self.flag.lstrip("-").replace("-", "_")

    @property
    def key(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "--api",
        "CONFORMANCE_API",
        "trinsic, zitadel-v2, zitadel-v2beta or all (comma list allowed)",
        metavar="API",
    ),
    OptionSpec(
        "--base-url",
        "CONFORMANCE_BASE_URL",
        "root URL of the target (default: start the embedded server)",
        metavar="URL",
    ),
    OptionSpec("--token", "CONFORMANCE_TOKEN", "bearer token of the primary account", metavar="TOKEN"),
    OptionSpec(
        "--other-token",
        "CONFORMANCE_OTHER_TOKEN",
        "bearer token of a second, unrelated account",
        metavar="TOKEN",
    ),
    OptionSpec(
        "--provider-state-url",
        "CONFORMANCE_PROVIDER_STATE_URL",
        "URL of the provider-state hook",
        metavar="URL",
    ),
    OptionSpec(
        "--trinsic-provider",
        "CONFORMANCE_TRINSIC_PROVIDER",
        "provider ID(s) the primary account has enabled (comma list; each provider's flow is "
        "discovered from the target's answers)",
        metavar="IDS",
    ),
    OptionSpec(
        "--zitadel-login-name",
        "CONFORMANCE_ZITADEL_LOGIN_NAME",
        "login name of an existing human user",
        metavar="NAME",
    ),
    OptionSpec(
        "--zitadel-password", "CONFORMANCE_ZITADEL_PASSWORD", "password of that user", metavar="PASSWORD"
    ),
    OptionSpec(
        "--zitadel-restricted-token",
        "CONFORMANCE_ZITADEL_RESTRICTED_TOKEN",
        "bearer token of a caller in the primary account's Zitadel instance that holds session.write but "
        "neither session.read nor session.delete",
        metavar="TOKEN",
    ),
    OptionSpec("--profile", "CONFORMANCE_PROFILE", "example budget: smoke, standard or deep", metavar="NAME"),
    OptionSpec(
        "--read-only", "CONFORMANCE_READ_ONLY", "send nothing that creates, changes or deletes", boolean=True
    ),
    OptionSpec(
        "--strict-properties", "CONFORMANCE_STRICT", "undocumented response properties fail", boolean=True
    ),
    OptionSpec(
        "--request-timeout",
        "CONFORMANCE_TIMEOUT",
        "per-request timeout in seconds (default 10)",
        metavar="SECONDS",
    ),
    OptionSpec(
        "--rules", "CONFORMANCE_RULES", "only run checks of these rule IDs (comma list)", metavar="IDS"
    ),
    OptionSpec(
        "--faults",
        "CONFORMANCE_FAULTS",
        "dev: start the embedded server with these faults (comma list)",
        metavar="NAMES",
    ),
    OptionSpec(
        "--variants",
        "CONFORMANCE_VARIANTS",
        "dev: start the embedded server with these conformant variants (comma list, or all)",
        metavar="NAMES",
    ),
    OptionSpec(
        "--fail-on",
        "CONFORMANCE_FAIL_ON",
        "lowest verdict that makes the exit status non-zero: failed (default) or warning; add stale "
        "(comma list) to fail on waivers whose rule passed",
        metavar="LEVEL",
    ),
    OptionSpec(
        "--shard",
        "CONFORMANCE_SHARD",
        "run only part I of N of the selected checks, split by measured cost, e.g. 2/3 "
        "(join the parts with `session-conformance merge`)",
        metavar="I/N",
    ),
    OptionSpec(
        "--min-coverage",
        "CONFORMANCE_MIN_COVERAGE",
        "fail the run when an API's operations, documented statuses or judged rules are below PERCENT "
        "(default: no minimum)",
        metavar="PERCENT",
    ),
    OptionSpec(
        "--waivers",
        "CONFORMANCE_WAIVERS",
        "TOML file of known defects (rule, reason, link, expiry): their failures are waived, not failed",
        metavar="FILE",
    ),
    OptionSpec(
        "--har",
        "CONFORMANCE_HAR",
        "also write the run's HTTP exchanges (masked) as a HAR 1.2 file",
        metavar="PATH",
    ),
    OptionSpec(
        "--rate-limit",
        "CONFORMANCE_RATE_LIMIT",
        "at most N requests per second for the whole run, all workers together, e.g. 20/s "
        "(default: no limit)",
        metavar="N/s",
    ),
)
FAIL_ON_LEVELS = ("failed", "warning")
FAIL_ON_EXTRA = ("stale",)  # not a verdict level: a waiver whose rule passed
OPTION_BY_KEY = {spec.key: spec for spec in OPTIONS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Options:
    """Resolved option values (before the embedded server is known)."""

    apis: tuple[str, ...] = APIS
    base_url: str | None = None
    token: str | None = field(default=None, repr=False)
    other_token: str | None = field(default=None, repr=False)
    provider_state_url: str | None = None
    trinsic_providers: tuple[str, ...] = ()
    zitadel_login_name: str | None = field(default=None, repr=False)
    zitadel_password: str | None = field(default=None, repr=False)
    zitadel_restricted_token: str | None = field(default=None, repr=False)
    profile: Profile = PROFILES[DEFAULT_PROFILE]
    read_only: bool = False
    strict: bool = False
    request_timeout: float = DEFAULT_TIMEOUT
    rules: frozenset[str] | None = None
    server_faults: tuple[str, ...] = ()
    server_variants: tuple[str, ...] = ()
    fail_on: str = "failed"
    min_coverage: float | None = None
    shard: tuple[int, int] | None = None  # (index from 1, count)
    waivers: str | None = None  # path of the waiver file (loaded by the pytest plugin)
    har: str | None = None  # where the run's exchanges go as HAR (reporting/har.py)
    fail_on_stale: bool = False
    rate_limit: float | None = None  # requests per second, the whole run

    @property
    def trinsic_provider(self) -> str | None:
        return self.trinsic_providers[0] if self.trinsic_providers else None

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    def source_of(self, key: str) -> str:
        spec = OPTION_BY_KEY[key]
        return f"{spec.flag} / {spec.env}"


@dataclass(frozen=True)
class Target:
    """The configuration the suites run with (the ``target`` fixture)."""

    base_url: str
    token: str = field(repr=False)
    other_token: str | None = field(repr=False)
    provider_state_url: str | None
    trinsic_providers: tuple[str, ...]
    zitadel_login_name: str | None = field(repr=False)
    zitadel_password: str | None = field(repr=False)
    profile: Profile
    read_only: bool
    apis: tuple[str, ...]
    strict: bool
    embedded: bool
    request_timeout: float = DEFAULT_TIMEOUT
    rules: frozenset[str] | None = None
    server_faults: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    zitadel_restricted_token: str | None = field(default=None, repr=False)

    @property
    def trinsic_provider(self) -> str | None:
        """The first configured provider (checks that need just one use it)."""
        return self.trinsic_providers[0] if self.trinsic_providers else None

    @property
    def zitadel_apis(self) -> tuple[str, ...]:
        return tuple(api for api in self.apis if API_FAMILY[api] == "zitadel")

    def selects(self, api: str) -> bool:
        return api in self.apis


def raw_value(spec: OptionSpec, flags: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Any, str]:
    """The raw value of one option and where it came from (``flag``, ``env`` or ``default``)."""
    value = flags.get(spec.key)
    if value is not None and value is not False:
        return value, "flag"
    if spec.env in environ:
        return environ[spec.env], "env"
    return None, "default"


def _bool(spec: OptionSpec, value: Any, origin: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{spec.env}={value!r} is not a boolean (use 1 or 0)")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _origin_label(spec: OptionSpec, origin: str) -> str:
    return spec.flag if origin == "flag" else spec.env


def _url(spec: OptionSpec, value: str, origin: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{_origin_label(spec, origin)}: {value!r} is not an http(s) URL")
    return value.rstrip("/")


def resolve_options(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    known_rules: frozenset[str] | None = None,
    known_faults: frozenset[str] | None = None,
    known_variants: frozenset[str] | None = None,
) -> Options:
    """Resolve every option (flag wins over environment) and validate the values.

    ``flags`` is keyed by ``OptionSpec.key`` (``base_url``, ``read_only``, ...); ``None``/``False`` mean
    "flag not given".
    """
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for spec in OPTIONS:
        values[spec.key], origins[spec.key] = raw_value(spec, flags, environ)

    def text(key: str) -> str | None:
        return _text(values[key])

    api_spec = OPTION_BY_KEY["api"]
    apis: list[str] = []
    for name in _split(text("api")) or ["all"]:
        if name not in API_CHOICES:
            raise UsageError(
                f"{_origin_label(api_spec, origins['api'])}: unknown API {name!r} "
                f"(choose {', '.join(API_CHOICES)})"
            )
        for api in APIS if name == "all" else (name,):
            if api not in apis:
                apis.append(api)

    profile_spec = OPTION_BY_KEY["profile"]
    profile_name = text("profile") or DEFAULT_PROFILE
    if profile_name not in PROFILES:
        raise UsageError(
            f"{_origin_label(profile_spec, origins['profile'])}: unknown profile {profile_name!r} "
            f"(choose {', '.join(PROFILES)})"
        )

    timeout_spec = OPTION_BY_KEY["request_timeout"]
    timeout = DEFAULT_TIMEOUT
    if text("request_timeout") is not None:
        try:
            timeout = float(str(text("request_timeout")))
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 3600:
            raise UsageError(
                f"{_origin_label(timeout_spec, origins['request_timeout'])}: "
                f"{text('request_timeout')!r} is not a number of seconds between 0 and 3600"
            )

    base_url = text("base_url")
    if base_url is not None:
        base_url = _url(OPTION_BY_KEY["base_url"], base_url, origins["base_url"])
    hook = text("provider_state_url")
    if hook is not None:
        hook = _url(OPTION_BY_KEY["provider_state_url"], hook, origins["provider_state_url"])

    token = text("token")
    if base_url is not None and token is None:
        raise UsageError(
            "--base-url / CONFORMANCE_BASE_URL points at a live target: give its bearer token "
            "with --token or CONFORMANCE_TOKEN"
        )

    rules: frozenset[str] | None = None
    if text("rules") is not None:
        rules = frozenset(_split(text("rules")))
        unknown = sorted(rules - known_rules) if known_rules is not None else []
        if unknown:
            raise UsageError(
                f"{_origin_label(OPTION_BY_KEY['rules'], origins['rules'])}: unknown rule ID(s) "
                f"{', '.join(unknown)}"
            )
        if not rules:
            rules = None

    faults = tuple(_split(text("faults")))
    if faults:
        if base_url is not None:
            raise UsageError(
                "--faults / CONFORMANCE_FAULTS only applies to the embedded server; drop --base-url"
            )
        unknown = sorted(set(faults) - known_faults) if known_faults is not None else []
        if unknown:
            raise UsageError(
                f"{_origin_label(OPTION_BY_KEY['faults'], origins['faults'])}: "
                f"unknown fault(s) {', '.join(unknown)} (see `session-conformance serve --list-faults`)"
            )

    variants = tuple(_split(text("variants")))
    if variants:
        if base_url is not None:
            raise UsageError(
                "--variants / CONFORMANCE_VARIANTS only applies to the embedded server; "
                "drop --base-url (or start `session-conformance serve --variants ...`)"
            )
        known = (known_variants or frozenset()) | {"all"}
        unknown = sorted(set(variants) - known) if known_variants is not None else []
        if unknown:
            raise UsageError(
                f"{_origin_label(OPTION_BY_KEY['variants'], origins['variants'])}: "
                f"unknown variant(s) {', '.join(unknown)} (see `session-conformance serve --list-variants`)"
            )

    fail_on_given = _split(text("fail_on")) or ["failed"]
    for level in fail_on_given:
        if level not in FAIL_ON_LEVELS + FAIL_ON_EXTRA:
            raise UsageError(
                f"{_origin_label(OPTION_BY_KEY['fail_on'], origins['fail_on'])}: unknown level {level!r} "
                f"(choose {', '.join(FAIL_ON_LEVELS + FAIL_ON_EXTRA)}; comma list allowed)"
            )
    fail_on = "warning" if "warning" in fail_on_given else "failed"

    min_coverage: float | None = None
    if text("min_coverage") is not None:
        try:
            min_coverage = float(str(text("min_coverage")).rstrip("%"))
        except ValueError:
            min_coverage = -1.0
        if not 0 <= min_coverage <= 100:
            raise UsageError(
                f"{_origin_label(OPTION_BY_KEY['min_coverage'], origins['min_coverage'])}: "
                f"{text('min_coverage')!r} is not a percentage between 0 and 100"
            )

    shard: tuple[int, int] | None = None
    if text("shard") is not None:
        index, _, count = str(text("shard")).partition("/")
        if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
            raise UsageError(
                f"{_origin_label(OPTION_BY_KEY['shard'], origins['shard'])}: {text('shard')!r} is not "
                "I/N with 1 <= I <= N (e.g. 2/3)"
            )
        shard = (int(index), int(count))

    rate_limit: float | None = None
    if text("rate_limit") is not None:
        source = _origin_label(OPTION_BY_KEY["rate_limit"], origins["rate_limit"])
        rate_limit = parse_rate(str(text("rate_limit")), source)

    login, password = text("zitadel_login_name"), text("zitadel_password")
    if (login is None) != (password is None):
        raise UsageError(
            "--zitadel-login-name and --zitadel-password (CONFORMANCE_ZITADEL_LOGIN_NAME / "
            "CONFORMANCE_ZITADEL_PASSWORD) must be given together"
        )

    return Options(
        apis=tuple(apis),
        base_url=base_url,
        token=token,
        other_token=text("other_token"),
        provider_state_url=hook,
        trinsic_providers=tuple(_split(text("trinsic_provider"))),
        zitadel_login_name=login,
        zitadel_password=password,
        zitadel_restricted_token=text("zitadel_restricted_token"),
        profile=PROFILES[profile_name],
        read_only=_bool(OPTION_BY_KEY["read_only"], values["read_only"], origins["read_only"]),
        strict=_bool(
            OPTION_BY_KEY["strict_properties"], values["strict_properties"], origins["strict_properties"]
        ),
        request_timeout=timeout,
        rules=rules,
        server_faults=faults,
        server_variants=variants,
        fail_on=fail_on,
        min_coverage=min_coverage,
        shard=shard,
        waivers=text("waivers"),
        har=text("har"),
        fail_on_stale="stale" in fail_on_given,
        rate_limit=rate_limit,
    )


def live_target(options: Options) -> Target:
    """The ``Target`` of a run against a live server (``--base-url`` given)."""
    assert options.base_url is not None and options.token is not None
    return Target(
        base_url=options.base_url,
        token=options.token,
        other_token=options.other_token,
        provider_state_url=options.provider_state_url,
        trinsic_providers=options.trinsic_providers,
        zitadel_login_name=options.zitadel_login_name,
        zitadel_password=options.zitadel_password,
        profile=options.profile,
        read_only=options.read_only,
        apis=options.apis,
        strict=options.strict,
        embedded=False,
        request_timeout=options.request_timeout,
        rules=options.rules,
        server_faults=(),
        zitadel_restricted_token=options.zitadel_restricted_token,
    )


def embedded_target(
    options: Options,
    *,
    url: str,
    primary_token: str,
    other_token: str,
    hook_url: str,
    trinsic_providers: tuple[str, ...],
    restricted_token: str | None = None,
) -> Target:
    """The ``Target`` of a run against the embedded server; explicit options still win where they apply."""
    return Target(
        base_url=url,
        token=primary_token,
        other_token=other_token,
        provider_state_url=hook_url,
        trinsic_providers=options.trinsic_providers or trinsic_providers,
        zitadel_login_name=options.zitadel_login_name,
        zitadel_password=options.zitadel_password,
        profile=options.profile,
        read_only=options.read_only,
        apis=options.apis,
        strict=options.strict,
        embedded=True,
        request_timeout=options.request_timeout,
        rules=options.rules,
        server_faults=options.server_faults,
        zitadel_restricted_token=options.zitadel_restricted_token or restricted_token,
    )
