"""Socle's command line: audit, apply, report, history, diff and the lab."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from socle import __version__

EXIT_HELP = """exit codes:
  0  every control compliant, not applicable, or waived (a waiver that has not expired)
  2  drift found (audit) - nothing was changed
  1  error: invalid policy, unreachable host, failed task
"""


def _run_parser(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", action="append", type=Path, required=False,
                   help="inventory file or folder (repeatable; default: the lab inventory)")
    p.add_argument("--out", type=Path, required=True,
                   help="folder for run.json and the reports (several facilities: also overview.html and "
                        "facilities/<name>/)")
    p.add_argument("--limit", help="only these hosts or groups (Ansible pattern)")
    p.add_argument("--tags", action="append", default=[],
                   help="only these controls: a control ID (M4-LNX-SSH-IDLE), a measure (M4) or a measure and "
                        "platform (M4-LNX); comma-separated or repeatable")
    p.add_argument("--facility", help="only the hosts of this facility (their socle_facility)")
    if name == "apply":
        p.add_argument("--from-run", metavar="RUN",
                       help="re-apply only the settings that drifted in this run (run.json path or run ID "
                            "from the history), on the hosts where they drifted")
    p.add_argument("--forks", type=int, help="hosts worked on in parallel (default from ansible.cfg: 20)")
    p.add_argument("--lang", choices=["fr", "en"], default="fr", help="report language (default: fr)")
    _pdf_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("-v", "--verbose", action="count", default=0, help="Ansible verbosity")
    _history_options(p)
    return p


def _pdf_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pdf", action="store_true",
                   help="also write report.pdf next to each HTML page (per facility and overview.pdf too)")


def _history_options(p: argparse.ArgumentParser, store: bool = True) -> None:
    p.add_argument("--history", type=Path, metavar="PATH",
                   help="run history database (default: $SOCLE_HISTORY, else "
                        "$XDG_DATA_HOME/socle/history.sqlite, i.e. ~/.local/share/socle/history.sqlite)")
    if store:
        p.add_argument("--no-history", action="store_true",
                       help="do not read or write the run history")


DIFF_EXIT_HELP = """exit codes:
  0  nothing regressed and no new problem
  2  something regressed (e.g. compliant -> drift, an expired waiver) or a new problem appeared
  1  error: a run could not be found or read
"""


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
    rep = sub.add_parser("report", help="render the reports of a run.json again (per facility and overview when "
                                        "several; PDF with --pdf)",
                         description="Render the reports of a run record again: report.html, junit.xml and "
                                     "results.csv; for a run over several facilities also facilities/<name>/ "
                                     "(the same files, that facility's hosts only) and overview.html (one row "
                                     "per facility).")
    rep.add_argument("record", type=Path, help="a run.json written by audit or apply")
    rep.add_argument("--out", type=Path, help="output folder (default: the record's folder)")
    rep.add_argument("--lang", choices=["fr", "en"], default="fr")
    _pdf_option(rep)
    _history_options(rep)
    his = sub.add_parser("history", help="list stored runs with their scores and drift counts (newest first)",
                         description="List the runs stored in the history, newest first, with the score per "
                                     "measure and overall (docs/scores.md) and the counts, limited to a facility "
                                     "or a host if asked; the score column shows the change from the run below.")
    his.add_argument("--facility", help="only this facility's hosts (the inventory's socle_facility)")
    his.add_argument("--host", help="only this host (inventory name)")
    his.add_argument("--limit", type=int, default=20, help="at most this many runs (default: 20)")
    his.add_argument("--json", action="store_true", help="JSON output for scripts")
    his.add_argument("--by-facility", action="store_true",
                     help="MSP overview: one line per facility, its latest run and the change from the one before")
    his.add_argument("--import", dest="imports", action="append", type=Path, default=[], metavar="RUN_JSON",
                     help="store this run record first (repeatable): runs made with plain ansible-playbook or AWX "
                          "(SOCLE_RECORD / SOCLE_RECORD_DIR), or archived ones; already stored runs are skipped")
    _history_options(his, store=False)
    dif = sub.add_parser("diff", help="what changed between two runs, per host and control",
                         description="Compare two runs, each given by a run.json path or a run ID from the "
                                     "history (a unique start or end of one is enough): regressed, new, fixed, "
                                     "no longer assessed, still failing.",
                         epilog=DIFF_EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    dif.add_argument("old", help="the earlier run: run.json path or run ID")
    dif.add_argument("new", help="the later run: run.json path or run ID")
    dif.add_argument("--all", action="store_true", help="also list the pairs still failing in both runs")
    dif.add_argument("--json", action="store_true", help="JSON output for scripts")
    _history_options(dif, store=False)
    gpo = sub.add_parser("gpo", help="write a facility's Windows policy as a GPO backup (Registry.pol, GptTmpl.inf)",
                         description="Write the Windows policy of a facility (its first Windows host's variables, "
                                     "or --host) as a GPO backup tree for a domain administrator to import: "
                                     "DomainSysvol/GPO/Machine/registry.pol, User/registry.pol and "
                                     "Machine/microsoft/windows nt/SecEdit/GptTmpl.inf under a folder named by a "
                                     "GUID stable per facility, with Backup.xml and bkupInfo.xml as GPMC "
                                     "writes them (no domain, owner or security descriptor: an import keeps "
                                     "the target GPO's own). "
                                     "Nothing is sent to any host. Import with Import-GPO -BackupGpoName, "
                                     "or on one PC with LGPO.exe /g. Never tested on a Windows host or "
                                     "domain.")
    gpo.add_argument("-i", "--inventory", action="append", type=Path,
                     help="inventory file or folder (repeatable; default: the lab inventory)")
    gpo.add_argument("--facility", help="the facility (its hosts' socle_facility)")
    gpo.add_argument("--host", help="take the policy of this inventory host")
    gpo.add_argument("--out", type=Path, required=True, help="folder that receives the {GUID} folder")
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


def _warn(message: str) -> None:
    from socle.report.changes import term_safe

    print(f"socle: warning: {term_safe(message)}", file=sys.stderr)


def _history(args):
    """The History to use, or None with --no-history."""
    from socle.history import History, default_history_path

    if getattr(args, "no_history", False):
        return None
    return History(args.history or default_history_path())


def _previous(history, record):
    """The previous run of the same hosts from the history, or None (a broken history only warns)."""
    from socle.history import HistoryError
    from socle.record import RecordError

    if history is None:
        return None
    try:
        return history.previous(record)
    except (HistoryError, RecordError) as exc:
        _warn(f"no comparison with the previous run: {exc}")
        return None


class SelectionError(Exception):
    """The hosts or controls asked for on the command line cannot be resolved."""


def expand_tags(tags: list[str], catalogue) -> list[str]:
    """Control IDs for --tags values: IDs as they are, measures (M4) and measure-platform prefixes (M4-LNX)
    expanded to their implemented controls. Unknown values raise, with the nearest ID."""
    import difflib
    import re

    wanted: list[str] = []
    for tag in (t.strip() for value in tags for t in value.split(",")):
        if not tag:
            continue
        if tag in catalogue.controls:
            wanted.append(tag)
        elif re.fullmatch(r"M[1-8](-(LNX|WIN|ORG))?", tag):
            found = [cid for cid in catalogue.implemented() if cid.startswith(tag + "-")]
            if not found:
                raise SelectionError(f"--tags {tag}: no implemented control in it")
            wanted += found
        else:
            near = difflib.get_close_matches(tag, list(catalogue.controls), n=1, cutoff=0.6)
            raise SelectionError(f"--tags {tag}: unknown control" + (f"; did you mean {near[0]}?" if near else ""))
    return sorted(set(wanted))


def facility_hosts(facility: str, hostvars: dict[str, dict]) -> list[str]:
    """The inventory hosts whose socle_facility is ``facility``."""
    hosts = sorted(h for h, v in hostvars.items() if (v or {}).get("socle_facility") == facility)
    if not hosts:
        known = sorted({v.get("socle_facility") for v in hostvars.values() if v and v.get("socle_facility")})
        raise SelectionError(f"--facility {facility!r}: no host of the inventory has this socle_facility"
                             + (f" (known: {', '.join(known)})" if known else ""))
    return hosts


def inventory_hostvars(inventories: list[Path]) -> dict[str, dict]:
    """Every host's variables, as ansible-inventory resolves them (group_vars and host_vars included)."""
    import json
    import os
    import subprocess

    from socle.runner import ROOT

    tool = Path(sys.executable).with_name("ansible-inventory")
    cmd = [str(tool) if tool.exists() else "ansible-inventory", "--list"]
    for inv in inventories:
        cmd += ["-i", str(inv)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")})
    if proc.returncode != 0:
        raise SelectionError(f"ansible-inventory failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout).get("_meta", {}).get("hostvars", {})


def from_run_selection(record) -> tuple[list[str], list[str]]:
    """Hosts and controls to re-apply after a run: the settings that drifted (findings are left out:
    apply cannot change what they measure)."""
    pairs = record.setting_drift_pairs()
    return sorted({h for h, _c in pairs}), sorted({c for _h, c in pairs})


def combine_limit(hosts: list[str] | None, limit: str | None) -> str | None:
    """An Ansible --limit pattern: these hosts, intersected with the user's own --limit if any."""
    if hosts is None:
        return limit
    pattern = ":".join(hosts)
    return f"{pattern}:&{limit}" if limit else pattern


def _selection(args, inventories: list[Path]) -> tuple[str | None, list[str]] | None:
    """--limit and --tags after --facility, --from-run and measure tags; None when there is nothing to do."""
    from socle.catalogue import load_catalogue

    tags = expand_tags(args.tags, load_catalogue()) if args.tags else []
    hosts = None
    if args.facility:
        hosts = facility_hosts(args.facility, inventory_hostvars(inventories))
    if getattr(args, "from_run", None):
        from socle.history import HistoryError, load_run

        try:
            record = load_run(args.from_run, _history(args))
        except (HistoryError, OSError, ValueError) as exc:
            raise SelectionError(f"--from-run {args.from_run}: {exc}") from exc
        drifted_hosts, controls = from_run_selection(record)
        if not controls:
            print(f"apply --from-run: no setting drifted in run {record.run.id}: nothing to re-apply")
            return None
        hosts = drifted_hosts if hosts is None else sorted(set(hosts) & set(drifted_hosts))
        tags = controls if not tags else sorted(set(tags) & set(controls))
        if not hosts or not tags:
            print("apply --from-run: nothing left to re-apply once --facility and --tags are applied")
            return None
        print(f"apply --from-run {record.run.id}: {len(tags)} control(s) on {len(hosts)} host(s)",
              file=sys.stderr)
    return combine_limit(hosts, args.limit), tags


def _load_report_code() -> None:
    """What the command line needs once the run ends: loaded while ansible-playbook runs, not before."""
    import socle.history  # noqa: F401
    import socle.record  # noqa: F401
    import socle.report  # noqa: F401
    import socle.report.pdf  # noqa: F401


def cmd_run(args) -> int:
    from socle.runner import RunOptions, run

    if args.inventory:
        inventories, lab_inventory = args.inventory, None
    else:
        from socle.lab import inventory_path

        inventories = [lab_inventory := inventory_path()]
    for inv in inventories:
        if not inv.exists():
            hint = ' (start the lab with "socle lab up")' if inv == lab_inventory else ""
            print(f"socle: inventory {inv} does not exist{hint}", file=sys.stderr)
            return 1
    try:
        selection = _selection(args, inventories)
    except SelectionError as exc:
        print(f"socle: {exc}", file=sys.stderr)
        return 1
    if selection is None:
        return 0
    limit, tags = selection
    options = RunOptions(mode=args.command, inventories=inventories, out_dir=args.out, limit=limit,
                         tags=tags, forks=args.forks, verbosity=args.verbose, progress=not args.quiet)
    record_path, status = run(options, meanwhile=_load_report_code)
    from socle.record import RecordError, load_record
    from socle.report import write_reports
    from socle.report.pdf import PdfUnavailable, check_pdf

    if not record_path.exists():
        print(f"socle: the run ended ({status}) without a run record; Ansible's output is in "
              f"{args.out / 'ansible-output.txt'}", file=sys.stderr)
        return 1
    try:
        record = load_record(record_path)
    except RecordError as exc:
        print(f"socle: invalid run record {record_path}: {exc}", file=sys.stderr)
        return 1
    history = _history(args)
    previous = _previous(history, record)
    pdf = args.pdf
    if pdf:
        try:
            check_pdf()
        except PdfUnavailable as exc:  # the run is done: its HTML reports and history still matter
            _warn(f"no PDF written: {exc}")
            pdf = False
    paths = write_reports(record_path, args.out, lang=args.lang, record=record, previous=previous, pdf=pdf)
    if history is not None:
        from socle.history import HistoryError

        try:
            history.store(record, record_path.read_bytes())
            paths["history"] = history.path
        except (HistoryError, OSError) as exc:
            _warn(f"the run was not stored in the history: {exc}")
    for message in record.run.errors:
        print(f"socle: error: {message}", file=sys.stderr)
    print(f"{args.command}: {summary_line(record)}")
    print(f"run record: {record_path}")
    for kind, path in sorted(paths.items()):
        print(f"{kind}: {path}")
    return record.exit_code()


def cmd_report(args) -> int:
    from socle.record import RecordError, load_record
    from socle.report import write_reports
    from socle.report.pdf import PdfUnavailable

    try:
        record = load_record(args.record)
        previous = _previous(_history(args), record)
        paths = write_reports(args.record, args.out or args.record.parent, lang=args.lang, record=record,
                              previous=previous, pdf=args.pdf)
    except (RecordError, FileNotFoundError, PdfUnavailable) as exc:
        print(f"socle: {exc}", file=sys.stderr)
        return 1
    for kind, path in sorted(paths.items()):
        print(f"{kind}: {path}")
    return 0


def _pct(value: int | None) -> str:
    return "-" if value is None else str(value)


def cmd_history(args) -> int:
    import json

    from socle.history import HistoryError
    from socle.record import MEASURES, RecordError
    from socle.report.changes import term_safe

    history = _history(args)
    for path in args.imports:
        try:
            record, new = history.store_file(path)
        except (HistoryError, RecordError, OSError) as exc:
            print(f"socle: {term_safe(exc)}", file=sys.stderr)
            return 1
        print(f"{'stored' if new else 'already stored'}: {term_safe(record.run.id)} ({term_safe(path)})",
              file=sys.stderr)
    if args.by_facility:
        return _by_facility(history, args.json)
    try:
        rows = history.runs(facility=args.facility, host=args.host, limit=max(1, args.limit))
    except HistoryError as exc:
        print(f"socle: {term_safe(exc)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
        return 0
    scope = " ".join(f"{k} {term_safe(v)!r}" for k, v in (("facility", args.facility), ("host", args.host)) if v)
    print(f"history: {term_safe(history.path)}{' - ' + scope if scope else ''}")
    if not rows:
        print("no run stored" + (f" for {scope}" if scope else ""))
        return 0
    head = (f"{'RUN ID':<26} {'STARTED':<25} {'MODE':<5} {'HOSTS':>5} {'SCORE':>5} {'TREND':>5} "
            + " ".join(f"{'M' + str(m):>3}" for m in MEASURES) + f" {'DRIFT':>5} {'WAIVED':>6} {'ERR':>4} EXIT")
    print(head)
    for index, row in enumerate(rows):
        older = rows[index + 1] if index + 1 < len(rows) else None
        trend = ""
        if older is not None and row.scores.overall is not None and older.scores.overall is not None:
            delta = row.scores.overall - older.scores.overall
            trend = f"{delta:+d}" if delta else "="
        hosts = f"{row.hosts}" + (f"!{row.hosts_not_ok}" if row.hosts_not_ok else "")
        errors = row.counts.get("error", 0) + row.counts.get("unreachable", 0)
        drift = row.counts.get("drift", 0) + row.counts.get("attestation_due", 0)
        print(f"{term_safe(row.id):<26} {term_safe(row.started):<25} {row.mode:<5} {hosts:>5} "
              f"{_pct(row.scores.overall):>5} {trend:>5} "
              + " ".join(f"{_pct(row.scores.measures[m]):>3}" for m in MEASURES)
              + f" {drift:>5} {row.counts.get('waived', 0):>6} {errors:>4} {row.exit_code:>4}")
    print("SCORE: overall score, 0-100 (docs/scores.md); TREND: change from the run below; "
          "HOSTS n!k: k hosts unreachable or in error")
    return 0


def _by_facility(history, as_json: bool) -> int:
    """One line per facility: its latest run, score, trend and counts (figures over its hosts only)."""
    import json

    from socle.history import HistoryError
    from socle.report.changes import term_safe

    try:
        latest = {}
        for facility in history.facilities():
            if facility is not None:
                latest[facility] = history.runs(facility=facility, limit=2)
    except HistoryError as exc:
        print(f"socle: {term_safe(exc)}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps([{"facility": f, "latest": rows[0].as_dict(),
                           "previous": rows[1].as_dict() if len(rows) > 1 else None}
                          for f, rows in latest.items()], indent=2, ensure_ascii=False))
        return 0
    print(f"history: {term_safe(history.path)} - latest run per facility")
    if not latest:
        print("no run stored")
        return 0
    width = max(8, *(len(term_safe(f)) for f in latest))
    print(f"{'FACILITY':<{width}} {'LATEST RUN':<26} {'MODE':<5} {'HOSTS':>5} {'SCORE':>5} {'TREND':>5} "
          f"{'DRIFT':>5} {'WAIVED':>6} {'ERR':>4} EXIT")
    for facility, rows in latest.items():
        row = rows[0]
        trend = ""
        if len(rows) > 1 and row.scores.overall is not None and rows[1].scores.overall is not None:
            delta = row.scores.overall - rows[1].scores.overall
            trend = f"{delta:+d}" if delta else "="
        hosts = f"{row.hosts}" + (f"!{row.hosts_not_ok}" if row.hosts_not_ok else "")
        errors = row.counts.get("error", 0) + row.counts.get("unreachable", 0)
        drift = row.counts.get("drift", 0) + row.counts.get("attestation_due", 0)
        print(f"{term_safe(facility):<{width}} {term_safe(row.id):<26} {row.mode:<5} {hosts:>5} "
              f"{_pct(row.scores.overall):>5} {trend:>5} {drift:>5} {row.counts.get('waived', 0):>6} {errors:>4} "
              f"{row.exit_code:>4}")
    print("figures over each facility's hosts only; TREND: change from that facility's run before; "
          "EXIT: the whole run's exit code")
    return 0


def cmd_diff(args) -> int:
    import json

    from socle.history import History, HistoryError, default_history_path, load_run
    from socle.record import RecordError
    from socle.report.changes import diff_records, term_safe
    from socle.score import scores_of

    history = History(args.history or default_history_path())
    try:
        old = load_run(args.old, history)
        new = load_run(args.new, history)
    except (HistoryError, RecordError, OSError) as exc:
        print(f"socle: {term_safe(exc)}", file=sys.stderr)
        return 1
    diff = diff_records(old, new)
    code = 2 if diff.worse else 0
    before = scores_of(old, hosts=list(new.hosts)).overall
    after = scores_of(new).overall
    if args.json:
        print(json.dumps({
            "old": old.run.id, "new": new.run.id, "worse": diff.worse, "counts": diff.counts(),
            "score": {"old": before, "new": after},
            "changes": [{"kind": c.kind, "host": c.host, "facility": c.facility, "control": c.control,
                         "before": c.before, "after": c.after} for c in diff.changes],
        }, indent=2, ensure_ascii=False))
        return code
    print(f"diff: {term_safe(old.run.id)} ({old.run.mode}, {term_safe(old.run.started)}) -> "
          f"{term_safe(new.run.id)} ({new.run.mode}, {term_safe(new.run.started)})")
    if old.run.started_at > new.run.started_at:
        print("note: the first run started after the second one; the changes read from the first to the second")
    print(f"score: {_pct(before)} -> {_pct(after)}")
    counts = diff.counts()
    words = {"regressed": "regressed", "new": "new", "fixed": "fixed", "gone": "no longer assessed",
             "failing": "still failing", "other": "other changes"}
    print(", ".join(f"{words[k]} {n}" for k, n in counts.items()))
    for host, changes in diff.by_host().items():
        shown = [c for c in changes if args.all or c.kind != "failing"]
        if not shown:
            continue
        facility = f" ({term_safe(shown[0].facility)})" if shown[0].facility else ""
        print(f"{term_safe(host)}{facility}")
        for c in shown:
            before, after = c.before or "(not assessed)", c.after or "(not assessed)"
            print(f"  {words[c.kind]:<18} {c.control:<28} {before} -> {after}")
    if all(c.kind == "failing" for c in diff.changes):
        print("no change of status" + (" (--all lists what is still failing)" if diff.changes and not args.all else ""))
    return code


def _is_windows(hostvars: dict) -> bool:
    """Reached over WinRM or PSRP, or SSH with PowerShell: as site.yml sorts the hosts."""
    connection = str(hostvars.get("ansible_connection") or "ssh").split(".")[-1]
    return connection in ("winrm", "psrp") or str(hostvars.get("ansible_shell_type") or "") in ("powershell", "cmd")


def cmd_gpo(args) -> int:
    from socle import gpo
    from socle.lab import inventory_path

    try:
        hostvars = inventory_hostvars(args.inventory or [inventory_path()])
        names = [args.host] if args.host else sorted(hostvars)
        if args.facility:
            names = [h for h in facility_hosts(args.facility, hostvars) if h in names]
        windows = [h for h in names if h in hostvars and _is_windows(hostvars[h])]
    except SelectionError as exc:
        print(f"socle gpo: {exc}", file=sys.stderr)
        return 1
    if not windows:
        print("socle gpo: no Windows host (WinRM, PSRP or SSH with PowerShell) matches --facility/--host",
              file=sys.stderr)
        return 1
    host = windows[0]
    facility = args.facility or hostvars[host].get("socle_facility") or host
    try:
        settings = gpo.policy_settings(gpo.facility_variables(hostvars[host]))
        paths = gpo.write_policy_gpo(args.out, gpo.facility_guid(facility), settings)
    except (gpo.PolError, KeyError, ValueError) as exc:
        print(f"socle gpo: {exc}", file=sys.stderr)
        return 1
    print(f"policy of {host} ({facility}):")
    for path in paths:
        print(f"  {path}")
    backup = paths[-1].parent
    name = settings.get("display_name") or "Socle"
    print(f'import into a domain GPO: Import-GPO -BackupGpoName "{name}" -Path "{backup.parent}" '
          f'-TargetName "{name}" -CreateIfNeeded')
    print(f"import on one PC: LGPO.exe /g {backup}")
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
    if args.command == "history":
        return cmd_history(args)
    if args.command == "diff":
        return cmd_diff(args)
    if args.command == "gpo":
        return cmd_gpo(args)
    from socle import lab

    return lab.main(args.lab_args)


if __name__ == "__main__":
    sys.exit(main())
