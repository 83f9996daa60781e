"""What the suite knows about one API family, apart from its contracts: the one type each family fills in.

A family is a set of APIs that share a rule catalogue (``TRN-``, ``ZTD-``), an error shape, a server
package and suites (``suites/<family>/``). Every module that needs a family-specific answer (which rule a
wrong status breaks, how a created session is found and ended, how a live target is probed) asks the
family's descriptor (``apis/trinsic.py``, ``apis/zitadel.py``) instead of branching on its name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the report env (no httpx) reads the descriptors too
    import httpx


@dataclass(frozen=True)
class Api:
    """One API of a family: one contracts folder, one OpenAPI document, one ``--api`` value."""

    name: str  # "zitadel-v2": the contracts folder and the --api value
    title: str  # the OpenAPI document's info.title
    version: str
    path_prefix: str  # every path of the API starts with it ("/v2")


@dataclass(frozen=True)
class CreatedSession:
    """A session a run created; the cleanup ends it at the end of the run."""

    api: str
    session_id: str
    base_url: str
    token: str | None  # bearer token the session was created with
    session_token: str | None = None  # a per-session secret the end call needs (Zitadel)


@dataclass(frozen=True)
class Probe:
    """One authenticated read that tells whether a live target is there and accepts a token."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None


class ApiFamily(ABC):
    """The descriptor of one API family. Subclasses set the class attributes and the methods."""

    name: ClassVar[str]  # "trinsic": the suites folder, the server package, the family of --faults
    rule_prefix: ClassVar[str]  # "TRN-": every rule ID of the family starts with it
    switch_prefix: ClassVar[str]  # "trn-": every fault and variant name of the family starts with it
    apis: ClassVar[tuple[Api, ...]]
    server_package: ClassVar[str]  # the embedded server's package (named, not imported, here)
    generic_rules: ClassVar[tuple[str, ...]]  # every rule a generic (Schemathesis) check can report
    malformed_rule: ClassVar[str]  # the rule an error answer in the wrong shape breaks
    error_def: ClassVar[str]  # the contract definition of the family's error body
    documented_5xx: ClassVar[tuple[str, ...]] = ()  # 5xx statuses the contracts document (not a crash)
    empty_body_is_empty_message: ClassVar[bool] = False  # an empty JSON body reads as {} (protojson)
    create_status: ClassVar[int | None] = None  # the one success status of a create, if documented so
    no_nulls: ClassVar[bool] = False  # success bodies never hold null (protojson leaves unset fields out)
    optional_apis: ClassVar[frozenset[str]] = (
        frozenset()
    )  # APIs some releases lack (probed, skipped: ``unserved``)
    # non-GET operations (operationIds) a repeat answers as the first send would have: re-sent after a
    # lost answer (retry.py); a create never is
    repeatable_operations: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def response_rule(self, status: int, *, create: bool, kind: str) -> str:
        """The rule a response breaks when its status or body is not as documented.

        ``kind``: ``status`` (undocumented status), ``content_type``, ``body``, ``enum`` (a value outside
        its enum) or ``null`` (a null in the body).
        """

    @abstractmethod
    def generic_rule(self, check: str, *, negative: bool, description: str | None) -> str | None:
        """The rule of a failed Schemathesis check, or None: judge it as a contract difference."""

    @abstractmethod
    def error_code(self, status: int) -> int | None:
        """The error code an error body must carry for a transport-level status (404, 405), if any."""

    @abstractmethod
    def is_create(self, method: str, rel_path: str) -> bool:
        """Whether the request creates a session."""

    @abstractmethod
    def create_path(self, api: str) -> str:
        """Where ``POST {}`` creates a session with every default."""

    def created_session(
        self, api: str, method: str, rel_path: str, body: Any, *, base_url: str, token: str | None
    ) -> CreatedSession | None:
        """The session a successful answer created (its ``sessionId``), if the request was a create."""
        session_id = body.get("sessionId") if isinstance(body, dict) else None
        if not self.is_create(method, rel_path) or not isinstance(session_id, str) or not session_id:
            return None
        return CreatedSession(api, session_id, base_url, token, self.session_token(body))

    def session_token(self, created: dict[str, Any]) -> str | None:
        """The per-session secret a create answered that ending the session needs (none by default)."""
        return None

    def rotated_token(
        self, method: str, rel_path: str, body: Any, sent: bytes = b""
    ) -> tuple[str, str, str] | None:
        """``(api, session_id, new_token)`` when a successful change (request body ``sent``, answer
        ``body``) issued a new session token."""
        return None

    @abstractmethod
    def end_session(self, client: httpx.Client, session: CreatedSession) -> int:
        """End a session the run created; the answer's status (a 4xx other than auth: already gone)."""

    @staticmethod
    def auth(session: CreatedSession) -> dict[str, str]:
        """The headers that end a session as the account that created it."""
        return {"Authorization": f"Bearer {session.token}"} if session.token else {}

    @abstractmethod
    def probe(self, api: str) -> Probe:
        """The pre-flight read of a live target."""

    # --- per API (a family whose APIs differ in transport overrides these; Zitadel over Connect) ---

    def response_rule_of(self, api: str, status: int, *, create: bool, kind: str) -> str:
        """:meth:`response_rule` for one API of the family."""
        return self.response_rule(status, create=create, kind=kind)

    def generic_rule_of(self, api: str, check: str, *, negative: bool, description: str | None) -> str | None:
        """:meth:`generic_rule` for one API of the family."""
        return self.generic_rule(check, negative=negative, description=description)

    def error_code_of(self, api: str, status: int) -> int | None:
        """:meth:`error_code` for one API; None also when that answer carries no error body at all."""
        return self.error_code(status)

    def transport_answer_has_body(self, api: str, status: int) -> bool:
        """Whether the API's own answer to an undocumented method or path (404, 405) has an error body."""
        return True

    def undocumented_method_rule(self, api: str) -> str:
        """The rule a wrong answer to an undocumented method on a documented path breaks."""
        return self.malformed_rule

    def create_status_of(self, api: str) -> int | None:
        """The one success status of a create on this API (``create_status`` unless it differs)."""
        return self.create_status

    def reads_empty_body_as_empty_message(self, api: str) -> bool:
        """Whether an empty JSON body reads as ``{}`` on this API."""
        return self.empty_body_is_empty_message

    def fault_apis(self, fault: str) -> tuple[str, ...]:
        """The APIs a fault-matrix run of ``fault`` covers: enough to show it (every API by default)."""
        return tuple(api.name for api in self.apis)

    def applies(self, rule_id: str, api: str) -> bool:
        """Whether a rule of the family is judged on this API (a transport's own rules are not on another)."""
        return self.owns_rule(rule_id)

    def unserved(self, api: str, status: int, content_type: str) -> str | None:
        """Why a live target does not serve this API, from the answer to its probe (None: it does)."""
        return None

    # --- derived ---

    def api(self, name: str) -> Api:
        return next(api for api in self.apis if api.name == name)

    def api_of_path(self, rel_path: str) -> str | None:
        """The API a path belongs to (longest prefix first: ``/v2beta`` before ``/v2``)."""
        for api in sorted(self.apis, key=lambda a: len(a.path_prefix), reverse=True):
            if rel_path == api.path_prefix or rel_path.startswith(api.path_prefix + "/"):
                return api.name
        return None

    def owns_rule(self, rule_id: str) -> bool:
        return rule_id.startswith(self.rule_prefix)
