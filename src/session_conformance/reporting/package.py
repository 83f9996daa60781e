"""Certification packages: ``package RUN_DIR --output FILE.zip`` bundles a run; ``verify FILE.zip`` checks it.

A package holds the run's summary (JSON and Markdown), JUnit XML, Allure results, the HTML report when
it was built, the waivers used, any HAR file of the run, and ``manifest.json``: what was run (suite
version, SHA-256 of every contract and of ``rules.json``, APIs, profile, seed, masked options, target,
start and end, Python and package versions), the verdicts, what the run did not cover, and the
SHA-256 of every other file. ``manifest.sha256`` holds the manifest's own digest.

Digests show that nothing changed since packaging; they are not a signature (publish the zip's own
digest, or sign it, where that matters). Every text file passes the redaction module again on its
way in.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from session_conformance import __version__
from session_conformance.apis import APIS
from session_conformance.errors import UsageError
from session_conformance.reporting.masking import mask_text
from session_conformance.reporting.runinfo import contract_digests

PACKAGE_FORMAT = "session-conformance-package/1"
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest.sha256"
FILES = ("conformance-summary.json", "conformance-summary.md", "junit.xml", "waivers.toml")
FOLDERS = ("allure-results", "html")
_TEXT_SUFFIXES = (".json", ".md", ".xml", ".toml", ".txt", ".properties", ".har", ".html", ".csv", ".jsonl")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run_folder(run_dir: Path) -> Path:
    """A reports folder publishes its newest run under ``latest``: the run itself lives there (unless
    a run written straight into the folder, ``--reports-dir``, came after it)."""
    latest, summary = run_dir / "latest", "conformance-summary.json"
    if not (latest / summary).is_file():
        return run_dir
    if (run_dir / summary).is_file() and (run_dir / summary).read_bytes() != (latest / summary).read_bytes():
        return run_dir
    return latest.resolve()


def _members(run_dir: Path) -> Iterator[tuple[str, Path]]:
    run = _run_folder(run_dir)
    for name in FILES:
        if (run / name).is_file():
            yield name, run / name
    for har in sorted(run.glob("*.har")):
        yield har.name, har
    for folder in FOLDERS:
        base = run / folder if (run / folder).is_dir() else run_dir / folder
        if not base.is_dir():
            continue
        for path in sorted(p for p in base.resolve().rglob("*") if p.is_file()):
            yield f"{folder}/{path.relative_to(base.resolve()).as_posix()}", path


def _masked(name: str, data: bytes) -> bytes:
    if not name.endswith(_TEXT_SUFFIXES):
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return mask_text(text).encode("utf-8")


def not_covered(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What a partial run leaves out: unselected APIs, and per API the rules no check judged, by reason."""
    run = summary.get("run") or {}
    options = run.get("options") or {}
    apis = list(summary.get("apis", []))
    out: dict[str, Any] = {
        "partial": bool(
            options.get("read_only") or options.get("rules") or options.get("shard") or set(apis) != set(APIS)
        ),
        "apis_not_selected": [api for api in APIS if api not in apis],
        "rules": {},
    }
    for rule in summary.get("rules", []):
        if rule["verdict"] not in ("skipped", "blocked"):
            continue
        reason = str(rule.get("reason") or "not checked").split(" (and ", 1)[0]
        if reason.startswith("not checked: "):
            reason = "not observable through the API (rules.json says why)"
        out["rules"].setdefault(rule["api"], {}).setdefault(reason, []).append(rule["id"])
    return out


def headline(summary: Mapping[str, Any]) -> str:
    """The first line of a package: failed and errored rules first, else the verdict, and partialness."""
    failed = [f"{r['id']} ({r['api']})" for r in summary.get("rules", []) if r["verdict"] == "failed"]
    errored = [f"{r['id']} ({r['api']})" for r in summary.get("rules", []) if r["verdict"] == "error"]
    waived = [f"{r['id']} ({r['api']})" for r in summary.get("rules", []) if r["verdict"] == "waived"]
    parts = []
    if failed:
        parts.append(f"FAILED rule(s): {', '.join(failed)}")
    if errored:
        parts.append(f"ERRORED rule(s): {', '.join(errored)}")
    if waived:
        parts.append(f"waived rule(s): {', '.join(waived)}")
    if not failed and not errored:
        parts.insert(0, "no rule failed or errored")
    gaps = not_covered(summary)
    if gaps["partial"]:
        count = sum(len(ids) for reasons in gaps["rules"].values() for ids in reasons.values())
        scope = f"; APIs not run: {', '.join(gaps['apis_not_selected'])}" if gaps["apis_not_selected"] else ""
        parts.append(f"PARTIAL run: {count} rule(s) of the selected APIs not covered{scope}")
    return "; ".join(parts)


def build_manifest(summary: Mapping[str, Any], files: Mapping[str, str]) -> dict[str, Any]:
    run = summary.get("run") or {}
    contracts = run.get("contracts") or contract_digests()
    return {
        "format": PACKAGE_FORMAT,
        "headline": headline(summary),
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "packaged_by": __version__,
        "suite_version": summary.get("suite_version"),
        "contracts_digest": summary.get("contracts_digest"),
        "contracts": contracts,
        "contracts_recorded_by_run": bool(run.get("contracts")),
        "rules_sha256": contracts.get("rules.json"),
        "apis": summary.get("apis"),
        "profile": summary.get("profile"),
        "seed": run.get("seed"),
        "options": run.get("options", {}),
        "target": summary.get("target"),
        "started": summary.get("started"),
        "finished": summary.get("finished"),
        "python": run.get("python"),
        "packages": run.get("packages", {}),
        "verdicts": summary.get("verdicts"),
        "not_covered": not_covered(summary),
        "waivers": [
            {k: w.get(k) for k in ("entry", "rule", "api", "check", "expires", "status")}
            for w in summary.get("waivers", [])
        ],
        "files": dict(sorted(files.items())),
    }


def package(run_dir: Path, output: Path) -> dict[str, Any]:
    """Write the package of the run in ``run_dir`` to ``output``; returns its manifest."""
    if not (_run_folder(run_dir) / "conformance-summary.json").is_file():
        raise UsageError(f"{run_dir}: no conformance-summary.json (give a run's reports folder)")
    contents = {name: _masked(name, path.read_bytes()) for name, path in _members(run_dir)}
    summary = json.loads(contents["conformance-summary.json"])
    manifest = build_manifest(summary, {name: sha256(data) for name, data in contents.items()})
    manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(MANIFEST_DIGEST, _digest_line(manifest_bytes))
        for name, data in contents.items():
            zf.writestr(name, data)
    return manifest


def _digest_line(manifest_bytes: bytes) -> bytes:
    """``sha256sum`` format: ``sha256sum -c manifest.sha256`` checks it too."""
    return f"{sha256(manifest_bytes)}  {MANIFEST}\n".encode("ascii")


def verify(path: Path) -> tuple[bool, list[str]]:
    """Recompute every digest of a package: (all good, the lines to print, the headline first)."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: not a readable zip file ({exc})") from None
    with zf:
        names = [info.filename for info in zf.infolist() if not info.is_dir()]
        if MANIFEST not in names:
            return False, [f"NOT VERIFIED: {path} has no {MANIFEST}"]
        manifest_bytes = zf.read(MANIFEST)
        problems: list[str] = []
        if MANIFEST_DIGEST not in names:
            problems.append(f"missing: {MANIFEST_DIGEST}")
        elif zf.read(MANIFEST_DIGEST) != _digest_line(manifest_bytes):
            recorded = zf.read(MANIFEST_DIGEST).split()[:1]
            changed = (
                MANIFEST
                if recorded and recorded[0].decode("ascii", "replace") != sha256(manifest_bytes)
                else MANIFEST_DIGEST
            )
            problems.append(f"changed: {changed} (manifest.json's digest and {MANIFEST_DIGEST} differ)")
        try:
            manifest = json.loads(manifest_bytes)
            files: dict[str, str] = dict(manifest["files"])
        except (ValueError, KeyError, TypeError):
            return False, [
                f"NOT VERIFIED: {MANIFEST} is not a package manifest",
                *(f"  {p}" for p in problems),
            ]
        for name in names:
            if name in (MANIFEST, MANIFEST_DIGEST):
                continue
            if name not in files:
                problems.append(f"extra: {name} (not in the manifest)")
            elif sha256(zf.read(name)) != files[name]:
                problems.append(f"changed: {name} (SHA-256 differs from the manifest)")
        problems += [f"missing: {name} (named in the manifest)" for name in sorted(set(files) - set(names))]
        summary: dict[str, Any] = {}
        if "conformance-summary.json" in names:
            try:
                summary = json.loads(zf.read("conformance-summary.json"))
            except ValueError:
                problems.append("unreadable: conformance-summary.json")
    lines = [str(manifest.get("headline", "?"))]
    if summary and headline(summary) != manifest.get("headline"):
        problems.append("changed: the manifest's headline does not match conformance-summary.json")
    if summary and summary.get("verdicts") != manifest.get("verdicts"):
        problems.append("changed: the manifest's verdicts do not match conformance-summary.json")
    lines.append(
        ("VERIFIED" if not problems else "NOT VERIFIED")
        + f": {len(files)} file(s) + manifest, SHA-256 "
        + ("all match" if not problems else f"{len(problems)} problem(s)")
    )
    lines += [f"  {problem}" for problem in problems]
    lines += _describe(manifest, summary)
    return not problems, lines


def _describe(manifest: Mapping[str, Any], summary: Mapping[str, Any]) -> list[str]:
    get = manifest.get
    lines = [
        f"target: {get('target')}; APIs: {', '.join(get('apis') or [])}; "
        f"profile: {get('profile')}; seed: {get('seed')}",
        f"run: {get('started')} → {get('finished')}; suite {get('suite_version')}; Python {get('python')}",
        f"contracts: {len(get('contracts') or {})} files, digest {get('contracts_digest')}; "
        f"rules.json {str(get('rules_sha256'))[:16]}…",
    ]
    here = contract_digests()
    theirs = dict(get("contracts") or {})
    differ = sorted(name for name in set(here) | set(theirs) if here.get(name) != theirs.get(name))
    lines.append(
        "contracts: the same as this installation's"
        if not differ
        else f"contracts: {len(differ)} file(s) differ from this installation's: {', '.join(differ[:8])}"
        + (" …" if len(differ) > 8 else "")
    )
    per_api = summary.get("per_api") or {}
    for api, verdict in (manifest.get("verdicts") or {}).items():
        details = per_api.get(api, {})
        counts = details.get("rules", {})
        tally = ", ".join(
            f"{counts[k]} {k}" for k in ("passed", "warning", "failed", "waived", "error") if k in counts
        )
        lines.append(f"{api}: {verdict} [rules: {tally}]")
    for waiver in manifest.get("waivers") or []:
        lines.append(
            f"waiver {waiver['entry']} {waiver['rule']} until {waiver['expires']}: {waiver.get('status')}"
        )
    gaps = manifest.get("not_covered") or {}
    if gaps.get("partial"):
        if gaps.get("apis_not_selected"):
            lines.append(f"not covered: APIs not run: {', '.join(gaps['apis_not_selected'])}")
        for api, reasons in (gaps.get("rules") or {}).items():
            for reason, ids in reasons.items():
                lines.append(f"not covered ({api}, {reason}): {', '.join(ids)}")
    return lines
