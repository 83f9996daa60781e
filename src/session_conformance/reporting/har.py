"""``--har PATH``: the run's HTTP exchanges as a HAR 1.2 file (masked), for a browser's network panel.

Entries are built with the models of ``harfile``, the library Schemathesis writes its HAR cassettes
with. Every entry comes from ``Exchange.to_dict()``, which masks through the redaction module like every
other output. Each
test process appends its entries to a part file beside ``PATH`` (pytest-xdist workers each their own);
the controller joins them into ``PATH`` when the run ends. A check keeps its last 200 exchanges
(``evidence.ExchangeLog``); an entry's start time is derived from the end of its check and the
exchanges' durations (the records hold no start time).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import harfile

from session_conformance import __version__
from session_conformance.evidence import Exchange

PART_SUFFIX = ".part-"


def _records(pairs: Iterable[tuple[str, str]]) -> list[harfile.Record]:
    return [harfile.Record(name=str(name), value=str(value)) for name, value in pairs]


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _utf8(value: Any) -> Any:
    """Lone surrogates (generated inputs send them on purpose) escaped: a HAR file is UTF-8 JSON."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8(item) for item in value]
    return value


def entry(data: dict[str, Any], started: datetime, nodeid: str) -> dict[str, Any]:
    """One HAR entry (a JSON dict) from a masked ``Exchange.to_dict()``."""
    data = _utf8(data)
    nodeid = _utf8(nodeid)
    request_headers = dict(data.get("request_headers") or {})
    response_headers = dict(data.get("response_headers") or {})
    body = str(data.get("request_body") or "")
    status = int(data.get("status") or 0)
    try:
        reason = HTTPStatus(status).phrase if status else ""
    except ValueError:
        reason = ""
    text = str(data.get("response_body") or "")
    request = harfile.Request(
        method=str(data.get("method", "GET")),
        url=str(data.get("url", "")),
        httpVersion="HTTP/1.1",
        headers=_records(request_headers.items()),
        queryString=_records(parse_qsl(urlsplit(str(data.get("url", ""))).query, keep_blank_values=True)),
        postData=harfile.PostData(mimeType=_header(request_headers, "content-type"), text=body)
        if body
        else None,
        bodySize=len(body.encode("utf-8")),
    )
    response = harfile.Response(
        status=status,
        statusText=reason,
        httpVersion="HTTP/1.1" if status else "",
        headers=_records(response_headers.items()),
        content=harfile.Content(
            size=len(text.encode("utf-8")), mimeType=_header(response_headers, "content-type"), text=text
        ),
        bodySize=len(text.encode("utf-8")) if status else -1,
        comment=str(data["error"]) if data.get("error") else None,
    )
    elapsed_ms = round(float(data.get("elapsed") or 0.0) * 1000, 3)
    return {
        "startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": elapsed_ms,
        "request": request.asdict(),
        "response": response.asdict(),
        "timings": harfile.Timings(send=0, wait=elapsed_ms, receive=0).asdict(),
        "cache": {},
        "comment": f"{nodeid} {data.get('operation') or ''}".strip(),
    }


def entries_of(
    exchanges: Sequence[Exchange], nodeid: str, ended: datetime | None = None
) -> list[dict[str, Any]]:
    """HAR entries of one check's exchanges, start times counted back from the check's end."""
    end = ended or datetime.now(UTC)
    out = []
    for exchange in reversed(exchanges):
        started = end - timedelta(seconds=exchange.elapsed)
        out.append(entry(exchange.to_dict(), started, nodeid))
        end = started
    return out[::-1]


def part_path(path: Path, worker: str) -> Path:
    return path.with_name(f"{path.name}{PART_SUFFIX}{worker}")


def append(path: Path, worker: str, entries: Sequence[dict[str, Any]]) -> None:
    if not entries:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with part_path(path, worker).open("a", encoding="utf-8") as out:
        for item in entries:
            out.write(json.dumps(item) + "\n")  # ASCII: generated inputs hold lone surrogates


def join(path: Path) -> int:
    """Write ``path`` from every part file beside it (then removed); returns the number of entries."""
    parts = sorted(path.parent.glob(f"{path.name}{PART_SUFFIX}*")) if path.parent.is_dir() else []
    lines = [line for part in parts for line in part.read_text(encoding="utf-8").split("\n") if line]
    items = [json.loads(line) for line in lines]
    items.sort(key=lambda item: item["startedDateTime"])
    log = {
        "version": harfile.HAR_VERSION,
        "creator": {"name": "session-conformance", "version": __version__},
        "browser": {"name": "", "version": ""},
        "entries": items,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"log": log}, indent=1) + "\n", encoding="utf-8")
    for part in parts:
        os.unlink(part)
    return len(items)
