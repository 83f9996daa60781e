"""Load generation from a separate process: wrk when installed, else a small asyncio HTTP/1.1 client.

``measure(...)`` is what ``bench/run.py`` calls. Run as a script, this module is the fallback
generator itself: ``python bench/load.py URL --method POST --body '{}' -H 'Authorization: Bearer t'``
prints one JSON line ``{"requests", "seconds", "rps", "non_2xx", "errors"}``.

The fallback keeps ``--connections`` keep-alive connections busy for ``--duration`` seconds. It is
one Python process, so on a 2-core machine it may saturate before the server does: its figure is a
lower bound, and ``measure`` says which tool produced a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    tool: str
    rps: float
    requests: int
    non_2xx: int
    errors: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def measure(
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    duration: float = 5.0,
    connections: int = 32,
    force_python: bool = False,
) -> LoadResult:
    """Throughput of one request shape, from a load generator running in another process."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    if shutil.which("wrk") and not force_python:
        return _wrk(url, method, body, headers, duration, connections)
    return _python(url, method, body, headers, duration, connections)


def _wrk(
    url: str, method: str, body: str | None, headers: dict[str, str], duration: float, connections: int
) -> LoadResult:
    # wrk takes the method and body from a Lua script; headers can go on the command line.
    lua = f"wrk.method = {json.dumps(method)}\n"
    if body is not None:
        lua += f"wrk.body = {json.dumps(body)}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "-s", script.name]
        for name, value in headers.items():
            cmd += ["-H", f"{name}: {value}"]
        out = subprocess.run(
            [*cmd, url], capture_output=True, text=True, check=True, timeout=duration + 30
        ).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    rps = float(_grab(r"Requests/sec:\s+([\d.]+)", out))
    requests = int(_grab(r"(\d+) requests in", out))
    non_2xx = int(_grab(r"Non-2xx or 3xx responses:\s+(\d+)", out, "0"))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult("wrk", rps, requests, non_2xx, sum(int(g) for g in errors.groups()) if errors else 0)


def _grab(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match:
        return match.group(1)
    if default is None:
        raise RuntimeError(f"unexpected load-generator output (no {pattern!r}):\n{text}")
    return default


def _python(
    url: str, method: str, body: str | None, headers: dict[str, str], duration: float, connections: int
) -> LoadResult:
    cmd = [
        sys.executable,
        __file__,
        url,
        "--method",
        method,
        "--duration",
        str(duration),
        "--connections",
        str(connections),
    ]
    if body is not None:
        cmd += ["--body", body]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return LoadResult("python-asyncio", data["rps"], data["requests"], data["non_2xx"], data["errors"])


# --- the fallback generator (runs in its own process) ---------------------------------------------


async def _connection(host: str, port: int, request: bytes, deadline: float, tally: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            status_line = await reader.readline()
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            await reader.readexactly(length)
            tally["requests"] += 1
            if not status_line.split(b" ")[1].startswith(b"2"):
                tally["non_2xx"] += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
        tally["errors"] += 1
    finally:
        writer.close()


async def _generate(
    url: str, method: str, body: str | None, headers: list[str], duration: float, connections: int
) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = (body or "").encode()
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", *headers]
    if body is not None:
        lines.append(f"Content-Length: {len(payload)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    tally = {"requests": 0, "non_2xx": 0, "errors": 0}
    start = time.monotonic()
    deadline = start + duration
    await asyncio.gather(*(_connection(host, port, request, deadline, tally) for _ in range(connections)))
    seconds = time.monotonic() - start
    return {**tally, "seconds": seconds, "rps": tally["requests"] / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="asyncio HTTP/1.1 load generator (wrk fallback)")
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body")
    parser.add_argument("-H", "--header", action="append", default=[])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    result = asyncio.run(
        _generate(args.url, args.method, args.body, args.header, args.duration, args.connections)
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
