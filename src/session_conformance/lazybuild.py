"""Schemathesis' tests built in the process that runs them, when it first does, not in every process.

Schemathesis builds each operation's Hypothesis test (its coverage and examples phases included) while
it collects. Under xdist every worker collects everything, so every worker built every test and ran a
share of them: across a network, with a dozen workers, that was a third of the run's CPU
(docs/decisions/bench.md N6). Here the collected item holds a stand-in with the test's name, signature
and marks, and the real test is built at the item's setup, before its fixtures (which read it).

The built test is the one Schemathesis would have built at collection: its seed is derived from the
run's seed and the operation's label, not from when it is built. The one thing that depended on the
order of building is which operation of a path probes the methods the document does not declare there
(Schemathesis does it once per path and schema: the first operation built). It stays the first
operation of that path in collection order, whichever a worker happens to build first.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any

import pytest
from schemathesis.core.result import Ok, Result
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest.control_flow import fail_on_no_matches
from schemathesis.pytest.plugin import SchemathesisCase, SchemathesisMultiCase, SchemathesisPrefixedCase

# Every method Schemathesis may probe on a path (its "unexpected methods" are among these).
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "connect", "query")


class _Lazy:
    """Builds the mixin's item tests on demand (shared by the plain and the prefixed collector)."""

    schema: Any
    test_function: Callable[..., Any]
    given_kwargs: dict[str, Any]
    is_invalid_test: bool

    def _gen_items(self, result: Result[Any, Any], feedback: FeedbackSources) -> Generator[Any, None, None]:
        if self.is_invalid_test or not isinstance(result, Ok):
            yield from super()._gen_items(result, feedback)  # type: ignore[misc]
            return
        operation = result.ok()
        probed = self._probed_before(operation)
        stand_in = _stand_in(
            self.test_function, self.given_kwargs, functools.partial(self._build, operation, feedback, probed)
        )
        name = self._get_test_name(operation)  # type: ignore[attr-defined]
        yield from self._make_items(stand_in, name, operation.label, operation.tags)  # type: ignore[attr-defined]

    def _probed_before(self, operation: Any) -> frozenset[tuple[str, str]]:
        """The (path, method) pairs an earlier operation of this path probes (the collection's order)."""
        seen: dict[str, str] = self.__dict__.setdefault("_first_of_path", {})
        first = seen.setdefault(operation.path, operation.label)
        if first == operation.label:
            return frozenset()
        return frozenset((operation.path, method) for method in _METHODS)

    def _build(self, operation: Any, feedback: FeedbackSources, probed: frozenset[tuple[str, str]]) -> Any:
        from schemathesis.checks import load_all_checks
        from schemathesis.pytest._test_builder import build_operation_test

        load_all_checks()  # as Schemathesis' own collector does before it builds
        self.schema.coverage_unexpected_methods_seen = set(probed)
        return build_operation_test(
            config=self.schema.config,
            operation=operation,
            test_func=self.test_function,
            given_kwargs=self.given_kwargs,
            feedback=feedback,
        )


class LazyCase(_Lazy, SchemathesisCase):
    pass


class LazyPrefixedCase(_Lazy, SchemathesisPrefixedCase):
    pass


class LazyMultiCase(SchemathesisMultiCase):
    def collect(self) -> list[pytest.Function]:
        items: list[pytest.Function] = []
        assert self.parent is not None
        for schema_name, schema in self.schemas.items():
            case = LazyPrefixedCase.from_parent(
                self.parent,
                test_function=self.test_function,
                name=self.name,
                schema=schema,
                schema_name=schema_name,
            )
            items.extend(case.collect())
        if not items:
            fail_on_no_matches(self.nodeid)
        return items


def _stand_in(
    test: Callable[..., Any], given: dict[str, Any], build: Callable[[], Any]
) -> Callable[..., Any]:
    """A function that looks like the built test to pytest (name, signature without ``case``, marks)."""

    @functools.wraps(test)
    def stand_in(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a Schemathesis test ran before it was built (lazybuild.pytest_runtest_setup)")

    signature = inspect.signature(test)
    kept = [p for name, p in signature.parameters.items() if name != "case" and name not in given]
    stand_in.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
    stand_in._conformance_build = build  # type: ignore[attr-defined]
    return stand_in


class LazyBuild:
    """The plugin: swaps Schemathesis' collectors for the lazy ones, builds each test at its setup."""

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_pycollect_makeitem(self, collector: Any, name: str, obj: Any) -> Generator[None, Any, Any]:
        result = yield
        if type(result) is SchemathesisMultiCase:
            return LazyMultiCase.from_parent(
                collector, test_function=result.test_function, name=name, schemas=result.schemas
            )
        if type(result) is SchemathesisCase:
            return LazyCase.from_parent(collector, test_function=obj, name=name, schema=result.schema)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        build = getattr(getattr(item, "obj", None), "_conformance_build", None)
        if build is not None:
            item.obj = build()  # type: ignore[attr-defined]
