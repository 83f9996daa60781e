"""The ``session-conformance`` command line: openapi, run, serve, diff, matrix, merge, the matrices,
waivers, package and verify."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence

from session_conformance import __version__
from session_conformance.apis import APIS
from session_conformance.errors import UsageError


def _cmd_openapi(args: argparse.Namespace) -> int:
    from session_conformance.contracts import openapi_document

    if args.schemathesis_config:
        from session_conformance.st_config import schemathesis_config

        sys.stdout.write(schemathesis_config(args.api))
        return 0
    json.dump(openapi_document(args.api), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from session_conformance.server.catalogue import all_faults, all_variants
    from session_conformance.server.faults import UnknownFault
    from session_conformance.server.runner import EmbeddedServer
    from session_conformance.server.state import EMBEDDED_TRINSIC_PROVIDERS
    from session_conformance.server.variants import UnknownVariant

    if args.list_faults:
        for fault in all_faults().values():
            print(f"{fault.name:40} {fault.rule:9} {fault.description}")
        return 0
    if args.list_variants:
        for variant in all_variants().values():
            print(f"{variant.name:40} {variant.source:10} {variant.description}")
        return 0
    faults = [f for chunk in args.faults for f in chunk.split(",")]
    variants = [v for chunk in args.variants for v in chunk.split(",")]
    try:
        server = EmbeddedServer(
            host=args.host, port=args.port, faults=faults, variants=variants, log_level=args.log_level
        )
    except (UnknownFault, UnknownVariant) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    primary, other = server.accounts[0], server.accounts[1]
    print(f"session-conformance reference server {__version__}")
    print(f"  URL:                {server.url}")
    print(f"  primary token:      {primary.token}")
    print(f"  other token:        {other.token}")
    print(f"  restricted token:   {server.restricted_token}  (Zitadel: session.write only)")
    print(f"  provider-state URL: {server.hook_url}")
    providers = ",".join(EMBEDDED_TRINSIC_PROVIDERS)
    print(f"  Trinsic providers:  {providers}")
    print("  Zitadel test user:  provider state 'zitadel user exists' (through the hook)")
    if faults:
        print(f"  faults:             {', '.join(faults)}")
    if variants:
        print(f"  variants:           {', '.join(sorted(server.state.variants.names))}")
    print("  Point the suite at it with:")
    print(f"    CONFORMANCE_BASE_URL={server.url} CONFORMANCE_TOKEN={primary.token} \\")
    print(f"    CONFORMANCE_OTHER_TOKEN={other.token} CONFORMANCE_PROVIDER_STATE_URL={server.hook_url} \\")
    print(f"    CONFORMANCE_TRINSIC_PROVIDER={providers} \\")
    print(f"    CONFORMANCE_ZITADEL_RESTRICTED_TOKEN={server.restricted_token}")
    print("  or run every check against it in one line:")
    print(
        f"    session-conformance run --base-url {server.url} --token {primary.token} "
        f"--other-token {other.token} --provider-state-url {server.hook_url} --trinsic-provider {providers} "
        f"--zitadel-restricted-token {server.restricted_token}"
    )
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _show(text: str, written: Sequence[object]) -> None:
    """Print a result after its files are written (a closed pipe, e.g. `| head`, must not lose them)."""
    print(text)
    for path in written:
        print(f"written: {path}")


def _cmd_diff(args: argparse.Namespace) -> int:
    from pathlib import Path

    from session_conformance.reporting import compare

    result = compare.diff(compare.load(Path(args.old)), compare.load(Path(args.new)))
    text = compare.diff_markdown(result)
    _show(text, compare.write(Path(args.output), text, result))
    return 1 if result["regressions"] and args.fail_on_regression else 0


def _cmd_matrix(args: argparse.Namespace) -> int:
    from pathlib import Path

    from session_conformance.reporting import compare

    summaries = []
    for given in args.summaries:
        label, _, path = given.rpartition("=") if "=" in given else ("", "", given)
        summary = compare.load(Path(path))
        summaries.append((label or str(summary.get("target", path)), summary))
    table = compare.matrix(summaries)
    text = compare.matrix_markdown(table)
    _show(text, compare.write(Path(args.output), text, table, compare.matrix_html(table)))
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from session_conformance.reporting.merge import main as merge_main

    return merge_main(args.folders, args.output)


def _cmd_waivers(args: argparse.Namespace) -> int:
    from pathlib import Path

    from session_conformance.reporting.compare import load
    from session_conformance.waivers import starting_file

    text = starting_file(load(Path(args.source)))
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    output = Path(args.output)
    if output.exists() and not args.force:
        raise UsageError(f"{output} exists: give --force to replace it, or another --output")
    output.write_text(text, encoding="utf-8")
    print(f"written: {output} ({text.count('[[waiver]]')} waiver(s) to fill in: reason, link, expires)")
    return 0


def _cmd_package(args: argparse.Namespace) -> int:
    from pathlib import Path

    from session_conformance.reporting.package import package

    manifest = package(Path(args.run_dir), Path(args.output))
    print(manifest["headline"])
    print(f"written: {args.output} ({len(manifest['files'])} file(s) + manifest)")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from session_conformance.reporting.package import verify

    good, lines = verify(Path(args.package))
    print("\n".join(lines))
    return 0 if good else 1


def _cmd_fault_matrix(args: argparse.Namespace) -> int:
    from session_conformance.faultmatrix import main as fault_matrix_main

    return fault_matrix_main(args)


def _cmd_variant_matrix(args: argparse.Namespace) -> int:
    from session_conformance.variantmatrix import main as variant_matrix_main

    return variant_matrix_main(args)


def _matrix_options(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument(
        "--profile",
        default="smoke",
        choices=["smoke", "standard", "deep"],
        help="example budget of each run (default: %(default)s)",
    )
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (default: %(default)s)")
    p.add_argument(
        "--output", default=f"reports/{name}.json", help="where the JSON record goes (default: %(default)s)"
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed for one run (default: %(default)s)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="session-conformance", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("openapi", help="print the OpenAPI 3.1 document assembled from the contracts")
    p.add_argument("--api", required=True, choices=APIS, help="which API's document (required)")
    p.add_argument(
        "--schemathesis-config",
        action="store_true",
        help="print the schemathesis.toml for plain `st run` over the document instead (default: off)",
    )
    p.set_defaults(func=_cmd_openapi)

    p = sub.add_parser(
        "run",
        help="run the conformance suites (embedded server, or --base-url ...): any pytest or suite option",
        description="Runs the packaged suites like `tox -e conformance` (two xdist workers unless -n is "
        "given; reports in ./reports). Every option of the README's options table applies, e.g. "
        "`session-conformance run --base-url URL --token T --profile smoke`.",
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="suite and pytest options (default: none)")
    # no func: `main` hands everything after `run` to pytest before argparse would claim its options

    p = sub.add_parser(
        "diff", help="what changed between two runs: regressions, fixes, new and removed rules"
    )
    p.add_argument("old", help="the earlier conformance-summary.json (or its folder)")
    p.add_argument("new", help="the later conformance-summary.json (or its folder)")
    p.add_argument(
        "--output", default="reports/diff", help="written as OUTPUT.md and OUTPUT.json (default: %(default)s)"
    )
    p.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when a rule regressed (default: exit 0)"
    )
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser("matrix", help="one table of rules by runs (targets, versions) as Markdown and HTML")
    p.add_argument(
        "summaries", nargs="+", metavar="[LABEL=]SUMMARY", help="conformance-summary.json files or folders"
    )
    p.add_argument(
        "--output",
        default="reports/matrix",
        help="written as OUTPUT.md, OUTPUT.json and OUTPUT.html (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_matrix)

    p = sub.add_parser("merge", help="join the reports of a sharded run (--shard I/N) into one")
    p.add_argument("folders", nargs="+", metavar="DIR", help="each part's reports folder")
    p.add_argument(
        "--output", default="reports/merged", help="where the joined reports go (default: %(default)s)"
    )
    p.set_defaults(func=_cmd_merge)

    p = sub.add_parser(
        "waivers", help="write the waiver file a team starts from: every failed rule of a run, expiry empty"
    )
    p.add_argument("--from", dest="source", required=True, metavar="SUMMARY", help="conformance-summary.json")
    p.add_argument(
        "--output", default="waivers.toml", help="where it goes; - for stdout (default: %(default)s)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing file (default: refuse)")
    p.set_defaults(func=_cmd_waivers)

    p = sub.add_parser(
        "package",
        help="bundle one run (summary, JUnit, Allure, HTML, waivers, manifest) as a certification zip",
    )
    p.add_argument(
        "run_dir", metavar="RUN_DIR", help="the run's reports folder (reports/ or reports/runs/...)"
    )
    p.add_argument("--output", required=True, metavar="FILE.zip", help="the package to write (required)")
    p.set_defaults(func=_cmd_package)

    p = sub.add_parser(
        "verify", help="check a certification package: every digest, no file missing or added; its verdicts"
    )
    p.add_argument("package", metavar="FILE.zip", help="the package to check")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("serve", help="run the embedded reference server")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument(
        "--port", type=int, default=8800, help="port to listen on; 0 picks a free one (default: %(default)s)"
    )
    p.add_argument(
        "--faults",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="break documented rules on purpose (see --list-faults)",
    )
    p.add_argument("--list-faults", action="store_true", help="list the fault switches and exit")
    p.add_argument(
        "--variants",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="take other readings the sheets allow (conformant; `all`: every one; see --list-variants)",
    )
    p.add_argument("--list-variants", action="store_true", help="list the conformant variants and exit")
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser(
        "fault-matrix", help="run the suites once per fault switch: each must fail under the rule it breaks"
    )
    _matrix_options(p, "fault-matrix")
    p.add_argument(
        "--faults",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="only these faults (default: every registered fault)",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="reach each server as a live target (a separate `serve` process; default: embedded)",
    )
    p.set_defaults(func=_cmd_fault_matrix)

    p = sub.add_parser(
        "variant-matrix",
        help="run the suites once per conformant variant and once with all: every run must be clean",
    )
    _matrix_options(p, "variant-matrix")
    p.add_argument(
        "--variants",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="only these variants, without the all-at-once run (default: every variant, then all at once)",
    )
    p.add_argument(
        "--embedded",
        action="store_true",
        help="use the embedded server (default: a separate `serve` process reached as a live target)",
    )
    p.add_argument(
        "-n",
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run each run's suites with N pytest-xdist workers, each other's other clients (default: one "
        "process)",
    )
    p.set_defaults(func=_cmd_variant_matrix)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"] and not {"-h", "--help"} & set(argv[1:2]):
        from session_conformance.runner import main as run_main

        return run_main(argv[1:])  # everything after `run` belongs to pytest and the suites
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"session-conformance: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `session-conformance openapi --api trinsic | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
