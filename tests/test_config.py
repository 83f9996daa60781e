"""Option resolution: flags win over the environment, wrong values are one readable line."""

from __future__ import annotations

import pytest

from session_conformance.config import PROFILES, UsageError, resolve_options

RULES = frozenset({"TRN-R01", "ZTD-R01"})


def test_defaults_without_flags_or_environment() -> None:
    options = resolve_options({}, {})
    assert options.apis == (
        "trinsic",
        "zitadel-v2",
        "zitadel-v2beta",
        "zitadel-v2-connect",
        "zitadel-v2beta-connect",
    )
    assert options.embedded and options.profile is PROFILES["standard"]
    assert options.request_timeout == 10.0 and not options.read_only and not options.strict


def test_environment_is_read() -> None:
    env = {
        "CONFORMANCE_API": "trinsic",
        "CONFORMANCE_PROFILE": "smoke",
        "CONFORMANCE_READ_ONLY": "1",
        "CONFORMANCE_STRICT": "1",
        "CONFORMANCE_TIMEOUT": "2.5",
        "CONFORMANCE_OTHER_TOKEN": "other",
    }
    options = resolve_options({}, env)
    assert options.apis == ("trinsic",)
    assert options.profile.name == "smoke" and options.read_only and options.strict
    assert options.request_timeout == 2.5 and options.other_token == "other"


def test_flag_wins_over_environment() -> None:
    env = {
        "CONFORMANCE_API": "trinsic",
        "CONFORMANCE_PROFILE": "deep",
        "CONFORMANCE_BASE_URL": "http://env.test",
        "CONFORMANCE_TOKEN": "env-token",
    }
    flags = {"api": "zitadel-v2", "profile": "smoke", "base_url": "https://flag.test/", "token": "flag-token"}
    options = resolve_options(flags, env)
    assert options.apis == ("zitadel-v2",)
    assert options.profile.name == "smoke"
    assert options.base_url == "https://flag.test" and options.token == "flag-token"


def test_api_list_and_all() -> None:
    assert resolve_options({"api": "zitadel-v2beta,trinsic"}, {}).apis == ("zitadel-v2beta", "trinsic")
    assert len(resolve_options({"api": "all"}, {}).apis) == 5  # Zitadel's two over REST and Connect


@pytest.mark.parametrize(
    ("flags", "env", "fragment"),
    [
        ({"profile": "huge"}, {}, "unknown profile 'huge'"),
        ({}, {"CONFORMANCE_PROFILE": "huge"}, "CONFORMANCE_PROFILE"),
        ({"api": "soap"}, {}, "unknown API 'soap'"),
        ({"base_url": "https://live.test"}, {}, "--token"),
        ({"base_url": "ftp://x"}, {}, "not an http(s) URL"),
        ({"request_timeout": "soon"}, {}, "seconds"),
        ({"request_timeout": "0"}, {}, "seconds"),
        ({"rules": "TRN-R99"}, {}, "unknown rule ID(s) TRN-R99"),
        ({"faults": "x", "base_url": "http://a.test", "token": "t"}, {}, "embedded server"),
        ({"zitadel_login_name": "alice"}, {}, "together"),
        ({}, {"CONFORMANCE_READ_ONLY": "maybe"}, "not a boolean"),
    ],
)
def test_wrong_values_are_usage_errors(flags: dict[str, str], env: dict[str, str], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_options(flags, env, known_rules=RULES, known_faults=frozenset())
    message = str(caught.value)
    assert fragment in message and "\n" not in message


def test_rules_and_faults_are_split() -> None:
    options = resolve_options(
        {"rules": "TRN-R01, ZTD-R01", "faults": "a,b"},
        {},
        known_rules=RULES,
        known_faults=frozenset({"a", "b"}),
    )
    assert options.rules == RULES and options.server_faults == ("a", "b")


def test_secrets_are_not_in_the_repr() -> None:
    options = resolve_options({"base_url": "http://x.test", "token": "sekrit-token-1"}, {})
    assert "sekrit-token-1" not in repr(options)
