"""Socle's command line: audit, apply, report and the lab."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from socle import __version__

EXIT_HELP = """exit codes:
  0  every control compliant (or not applicable)
  2  drift found (audit) - nothing was changed
  1  error: invalid policy, unreachable host, failed task
"""


def _run_parser(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", action="append", type=Path, required=False,
                   help="inventory file or folder (repeatable; default: the lab inventory)")
    p.add_argument("--out", type=Path, required=True, help="folder for run.json, report.html and junit.xml")
    p.add_argument("--limit", help="only these hosts or groups (Ansible pattern)")
    p.add_argument("--tags", action="append", default=[],
                   help="only these controls (control ID, e.g. M4-LNX-SSH-IDLE); repeatable")
    p.add_argument("--forks", type=int, help="hosts worked on in parallel (default from ansible.cfg: 20)")
    p.add_argument("--lang", choices=["fr", "en"], default="fr", help="report language (default: fr)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("-v", "--verbose", action="count", default=0, help="Ansible verbosity")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socle",
        description="Socle: enforce and audit the eight-point security baseline of French social and "
                    "medico-social facilities.",
        epilog="Start with: socle lab up; socle audit --out out/audit; socle apply --out out/apply",
    )
    parser.add_argument("--version", action="version", version=f"socle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub, "audit", "dry-run compliance audit (Ansible check mode): reports drift, changes nothing")
    _run_parser(sub, "apply", "apply the baseline, then report what was changed")
    rep = sub.add_parser("report", help="render report.html and junit.xml from a run.json")
    rep.add_argument("record", type=Path, help="a run.json written by audit or apply")
    rep.add_argument("--out", type=Path, help="output folder (default: the record's folder)")
    rep.add_argument("--lang", choices=["fr", "en"], default="fr")
    lab = sub.add_parser("lab", help="start or stop the built-in lab of Debian hosts (podman): up, down, status, build",
                         add_help=False)
    lab.add_argument("lab_args", nargs=argparse.REMAINDER)
    return parser


def summary_line(record) -> str:
    counts = record.summary()["overall"]
    parts = [f"{k}={v}" for k, v in sorted(counts.items()) if v]
    drift = record.drift_pairs()
    if drift:
        settings = record.setting_drift_pairs()
        parts.append(f"(drift: {len(settings)} setting(s) apply would change, "
                     f"{len(drift) - len(settings)} measured finding(s))")
    return ", ".join(parts) or "no control assessed"


def cmd_run(args) -> int:
    from socle.lab import inventory_path
    from socle.record import RecordError, load_record
    from socle.report import write_reports
    from socle.runner import RunOptions, run

    inventories = args.inventory or [inventory_path()]
    for inv in inventories:
        if not inv.exists():
            hint = ' (start the lab with "socle lab up")' if inv == inventory_path() else ""
            print(f"socle: inventory {inv} does not exist{hint}", file=sys.stderr)
            return 1
    options = RunOptions(mode=args.command, inventories=inventories, out_dir=args.out, limit=args.limit,
                         tags=args.tags, forks=args.forks, verbosity=args.verbose, progress=not args.quiet)
    record_path, status = run(options)
    if not record_path.exists():
        print(f"socle: the run ended ({status}) without a run record; Ansible's output is in "
              f"{args.out / 'ansible-output.txt'}", file=sys.stderr)
        return 1
    try:
        record = load_record(record_path)
    except RecordError as exc:
        print(f"socle: invalid run record {record_path}: {exc}", file=sys.stderr)
        return 1
    paths = write_reports(record_path, args.out, lang=args.lang, record=record)
    for message in record.run.errors:
        print(f"socle: error: {message}", file=sys.stderr)
    print(f"{args.command}: {summary_line(record)}")
    print(f"run record: {record_path}")
    for kind, path in sorted(paths.items()):
        print(f"{kind}: {path}")
    return record.exit_code()


def cmd_report(args) -> int:
    from socle.record import RecordError
    from socle.report import write_reports

    try:
        paths = write_reports(args.record, args.out or args.record.parent, lang=args.lang)
    except (RecordError, FileNotFoundError) as exc:
        print(f"socle: {exc}", file=sys.stderr)
        return 1
    for kind, path in sorted(paths.items()):
        print(f"{kind}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lab"]:  # the lab has its own options and --help
        from socle import lab

        return lab.main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command in ("audit", "apply"):
        return cmd_run(args)
    if args.command == "report":
        return cmd_report(args)
    from socle import lab

    return lab.main(args.lab_args)


if __name__ == "__main__":
    sys.exit(main())
