"""A cache of Schemathesis' coverage-phase cases: built once per operation, contract and library version.

Schemathesis builds an operation's coverage cases at collection time, in every process and on every run
(docs/decisions/bench.md F9, F11). They do not depend on the run's seed: the phase is deterministic
(its string draws use ``generate_one``, seeded with 0). So the raw cases of
``schema.iter_coverage_cases`` are stored, keyed by everything they depend on (the document, the
operation, the generation settings, the library versions, which undocumented methods the schema has
already probed), and read back by the next process. Auth, overrides and hooks are applied by
Schemathesis after this point, on cached and fresh cases alike.

Where: ``$SESSION_CONFORMANCE_CACHE_DIR``, else the user's cache directory (``platformdirs``:
``$XDG_CACHE_HOME/session-conformance`` on Linux), never ``reports/``. Safe to delete at any time.
``SESSION_CONFORMANCE_CASE_CACHE=off`` turns it off. Each entry is a pickle written atomically; one
that cannot be read (another version, a truncated file) is rebuilt.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from schemathesis.core import NOT_SET
from schemathesis.generation.case import Case

CACHE_ENV = "SESSION_CONFORMANCE_CASE_CACHE"
CACHE_DIR_ENV = "SESSION_CONFORMANCE_CACHE_DIR"
_OFF = {"0", "off", "false", "no"}
# Bump when what is stored, or how the key is made, changes.
FORMAT = 1
_OPERATION = "operation"
_NOT_SET = "not-set"


def enabled() -> bool:
    return os.environ.get(CACHE_ENV, "on").strip().lower() not in _OFF


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("session-conformance")) / "coverage"


def install(schema: Any) -> Any:
    """Serve ``schema``'s coverage cases from the cache.

    The schema's class becomes a subclass that overrides ``iter_coverage_cases`` only: Schemathesis'
    pytest plugin clones the schema per test (``self.__class__(...)``), and the clones keep it.
    """
    if not enabled():
        return schema
    schema.__class__ = _cached_class(type(schema))
    return schema


_CLASSES: dict[type, type] = {}
_DIGESTS: dict[int, tuple[Any, str]] = {}


def _cached_class(base: type[Any]) -> type:
    if base not in _CLASSES:

        def iter_coverage_cases(self: Any, operation: Any, **kwargs: Any) -> Iterator[Any]:
            original = functools.partial(base.iter_coverage_cases, self)
            if not enabled() or kwargs.get("extra_data_source") is not None or kwargs.get("session"):
                return original(operation, **kwargs)  # cases that depend on the run's answers: not cached
            return _cached(self, original, operation, kwargs)

        cls = type(f"Cached{base.__name__}", (base,), {"iter_coverage_cases": iter_coverage_cases})
        _CLASSES[base] = cls
    return _CLASSES[base]


def _digest(raw_schema: Any) -> str:
    """The document's digest, once per document (the clones share it)."""
    known = _DIGESTS.get(id(raw_schema))
    if known is None or known[0] is not raw_schema:
        text = json.dumps(raw_schema, sort_keys=True, default=str)
        known = (raw_schema, hashlib.sha256(text.encode()).hexdigest())
        _DIGESTS[id(raw_schema)] = known
    return known[1]


def _key(schema: Any, operation: Any, kwargs: dict[str, Any], seen: set[Any]) -> str:
    coverage = schema.config.phases_for(operation=operation).coverage
    parts = [
        FORMAT,
        schemathesis.__version__,
        hypothesis.__version__,
        _digest(schema.raw_schema),
        operation.label,
        [str(mode.value) for mode in kwargs.get("generation_modes", [])],
        repr(kwargs.get("generation_config")),
        coverage.generate_duplicate_query_parameters,
        sorted(map(str, coverage.unexpected_methods or ())),
        sorted(map(repr, seen)),
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _cached(schema: Any, original: Any, operation: Any, kwargs: dict[str, Any]) -> Iterator[Any]:
    # Undocumented methods are probed once per path and schema: the set is part of the key and of the entry.
    seen: set[Any] = schema.coverage_unexpected_methods_seen
    path = cache_dir() / f"{_key(schema, operation, kwargs, seen)}.pickle"
    entry = _read(path, operation)
    if entry is not None:
        cases, added = entry
        seen.update(added)
        yield from cases
        return
    before = set(seen)
    cases = list(original(operation, **kwargs))
    _write(path, operation, cases, seen - before)
    # The stored copy is made before Schemathesis adjusts the cases (auth, overrides, hooks).
    yield from cases


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, operation: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._operation = operation

    def persistent_id(self, obj: Any) -> str | None:
        # The operation (and through it the schema) is this process's; the entry names it only.
        # Schemathesis tests its "no body" sentinel by identity: it must stay the one of this process.
        if obj is self._operation:
            return _OPERATION
        return _NOT_SET if obj is NOT_SET else None

    def reducer_override(self, obj: Any) -> Any:
        # Case tracks attribute writes (``__setattr__``), which pickle's default restore of slots trips.
        if isinstance(obj, Case):
            slots = {name: getattr(obj, name) for name in Case.__slots__ if hasattr(obj, name)}
            return _rebuild_case, (slots,)
        return NotImplemented


def _rebuild_case(slots: dict[str, Any]) -> Any:
    case = object.__new__(Case)
    for name, value in slots.items():
        object.__setattr__(case, name, value)
    return case


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, operation: Any) -> None:
        super().__init__(file)
        self._operation = operation

    def persistent_load(self, pid: Any) -> Any:
        if pid == _OPERATION:
            return self._operation
        if pid == _NOT_SET:
            return NOT_SET
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")


def _read(path: Path, operation: Any) -> tuple[list[Any], set[Any]] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        cases, added = _Unpickler(io.BytesIO(data), operation).load()
    except Exception:  # a truncated or foreign entry is rebuilt, never fatal
        return None
    from schemathesis.generation import generate_random_case_id

    for case in cases:
        # The ID only correlates logs: every process gets fresh ones, as without the cache.
        object.__setattr__(case, "id", generate_random_case_id())
    return cases, added


def _write(path: Path, operation: Any, cases: list[Any], added: set[Any]) -> None:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, operation).dump((cases, added))
    except Exception:  # something in a case that does not pickle: this operation is not cached
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Atomic: xdist workers build the same entry at the same time.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(buffer.getvalue())
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
