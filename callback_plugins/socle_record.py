"""Write Socle's run record: per host and per control, status, expected, actual and diff."""

from __future__ import annotations

DOCUMENTATION = r"""
name: socle_record
type: aggregate
short_description: Write the Socle run record (run.json)
description:
  - Groups task results by the control ID that starts each task name (C(M4-LNX-SSH-IDLE | ...)) and
    writes, at the end of the run, one JSON record per run (schema in docs/run-record.md).
  - Writes nothing unless the environment variable C(SOCLE_RECORD) names the output file, or
    C(SOCLE_RECORD_DIR) names a folder (one file per run, C(<run id>-<mode>.json)).
  - A module result may carry C(socle_finding) with C(status) (compliant, drift, not_applicable, or for
    organisational evidence attested or attestation_due),
    C(expected) and C(actual) - a measurement such as a signature age or a last backup age. Its status
    is the control's in audit and apply alike, and the control is marked C(finding).
  - A task that measures or sets several controls in one call carries the tag C(socle_controls) and the
    control IDs as tags; its name starts with no ID. When it succeeds, its result's C(socle_findings) (control
    ID to finding) gives each listed control its finding, exactly as a C(socle_finding) task would, and its
    C(socle_results) (control ID to C(changed), C(diff), C(expected), C(actual)) gives each control its own
    share of the changes, as if that control had had its own task (C(skipped) true - as if that task had been
    skipped, for a control the call had nothing to do for); when
    it fails, is skipped or the host is unreachable, every listed control gets that outcome (so one
    skipped include of a role's task file makes each of its controls C(not_applicable)). Only the
    controls selected by C(--tags) and not by C(--skip-tags) are recorded.
  - Waivers come from the C(socle_policy) action's result (C(socle_host.waivers), validated there from the
    inventory's C(socle_waivers*) variables). A waiver is attached to its control on that host; a control
    in drift (or attestation_due) under a waiver that has not expired becomes C(waived). A waiver expires
    after its C(expires) day, compared with the run's start date (UTC); the control then keeps its status.
  - Results of C(no_log) tasks are censored by Ansible before they reach this plugin; the plugin also
    drops their diff, expected and actual values.
  - When the play named C(Publish the run summary) starts (C(playbooks/publish.yml), the last play of
    C(site.yml)), the plugin writes a summary of the record so far (run, and per host its status,
    facility, counts by status and the controls in drift or error) to a private temporary file and
    names it in the environment variable C(SOCLE_RUN_SUMMARY); that play publishes it with C(set_stats),
    which AWX keeps as the job's artifacts. The file also holds the run record itself (the same content
    as run.json, which carries no secret) when its JSON is at most C(SOCLE_ARTIFACT_MAX_BYTES) (default
    1000000); a larger record is left out, with its size, so a run over hundreds of hosts does not load
    AWX's database (keep it with C(SOCLE_RECORD_DIR)).
requirements: []
"""

import contextlib
import datetime as dt
import difflib
import json
import os
import re
import secrets
import tempfile

from ansible import __version__ as ansible_version
from ansible import context
from ansible.plugins.callback import CallbackBase

CONTROL_RE = re.compile(r"^(M[1-8]-(?:LNX|WIN|ORG)-[A-Z0-9]+(?:-[A-Z0-9]+)*) \|")
ROLE_PREFIX_RE = re.compile(r"^[\w.-]+ : ")  # get_name() puts "role : " before a role's task names
MAX_TEXT = 20000
#: Statuses a ``socle_finding`` may carry; attested / attestation_due are organisational evidence.
FINDING_STATUSES = {"compliant", "drift", "not_applicable", "attested", "attestation_due"}
SCHEMA_VERSION = 1
#: Statuses a waiver that has not expired turns into ``waived``; any other status is kept.
WAIVABLE = ("drift", "attestation_due")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


def clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n[... cut by Socle: too long]\n"


def apply_waiver(control: dict, waiver: dict | None, run_day: str) -> dict:
    """Attach ``waiver`` to a control's record entry; ``waived`` if it covers the status and holds on ``run_day``.

    ``run_day`` and ``waiver["expires"]`` are ``YYYY-MM-DD``: the waiver holds through its expiry day.
    """
    if not waiver:
        return control
    expired = run_day > str(waiver["expires"])
    control["waiver"] = {"reason": str(waiver["reason"]), "accepted_by": str(waiver["accepted_by"]),
                         "expires": str(waiver["expires"]), "expired": expired, "source": waiver.get("source")}
    if not expired and control["status"] in WAIVABLE:
        control["status"] = "waived"
    return control


PUBLISH_PLAY = "Publish the run summary"
NOT_COMPLIANT = ("drift", "attestation_due", "error", "unreachable")


def run_summary(record: dict) -> dict:
    """A compact view of a run record for AWX's job artifacts: no expected/actual values, no diffs."""
    hosts = {}
    for name, entry in record["hosts"].items():
        counts: dict[str, int] = {}
        for control in entry["controls"].values():
            counts[control["status"]] = counts.get(control["status"], 0) + 1
        hosts[name] = {
            "status": entry["status"], "facility": entry.get("facility"), "counts": counts,
            **{status: sorted(cid for cid, c in entry["controls"].items() if c["status"] == status)
               for status in NOT_COMPLIANT if counts.get(status)},
        }
    run = record["run"]
    return {"schema_version": record["schema_version"], "id": run["id"], "mode": run["mode"],
            "started": run["started"], "errors": len(run["errors"]), "hosts": hosts}


MULTI_TAG = "socle_controls"
CONTROL_ID_RE = re.compile(r"^M[1-8]-(?:LNX|WIN|ORG)-[A-Z0-9]+(?:-[A-Z0-9]+)*$")


def selected_controls(tags) -> list[str]:
    """The control IDs among a task's tags that this run selects (--tags, --skip-tags)."""
    def split(values) -> set[str]:
        return {t.strip() for v in (values or ()) for t in str(v).split(",") if t.strip()}

    wanted, skipped = split(context.CLIARGS.get("tags")), split(context.CLIARGS.get("skip_tags"))
    ids = [t for t in dict.fromkeys(tags or []) if CONTROL_ID_RE.match(str(t))]
    if wanted and not wanted & {"all", "always", "untagged"}:
        ids = [t for t in ids if t in wanted]
    return [t for t in ids if t not in skipped]


def unified(diff: dict) -> str:
    """Unified diff text for one Ansible diff entry."""
    before, after = diff.get("before", ""), diff.get("after", "")
    if not isinstance(before, str) or not isinstance(after, str):
        before, after = json.dumps(before, indent=1, sort_keys=True), json.dumps(after, indent=1, sort_keys=True)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=str(diff.get("before_header", "before")), tofile=str(diff.get("after_header", "after")),
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if diff.get("prepared"):
        text += str(diff["prepared"])
    return text


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "socle_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = os.environ.get("SOCLE_RECORD")
        self.folder = os.environ.get("SOCLE_RECORD_DIR")
        self.run = {
            "id": os.environ.get("SOCLE_RUN_ID") or new_run_id(),
            "mode": os.environ.get("SOCLE_RUN_MODE") or ("audit" if context.CLIARGS.get("check") else "apply"),
            "started": now(), "finished": None, "ansible_version": ansible_version,
            "socle_version": os.environ.get("SOCLE_VERSION", "0.1.0"), "playbooks": [], "errors": [],
        }
        self.hosts: dict[str, dict] = {}
        self.tasks: dict[str, dict[str, list]] = {}
        self.waivers: dict[str, dict[str, dict]] = {}  # host -> control ID -> waiver (from socle_policy)
        self.summary_path: str | None = None  # the summary written for the publishing play

    # -- collection ----------------------------------------------------------------------------
    def host(self, name: str) -> dict:
        return self.hosts.setdefault(name, {"status": "ok", "message": None, "facility": None, "platform": None})

    def v2_playbook_on_start(self, playbook):
        self.run["playbooks"].append(os.path.basename(playbook._file_name))

    def v2_playbook_on_play_start(self, play):
        if play.get_name().strip() == PUBLISH_PLAY:
            self.publish_summary()
            return
        try:
            inventory = play.get_variable_manager()._inventory
            for host in inventory.get_hosts(play.hosts):
                self.host(host.name)
        except Exception as exc:  # noqa: BLE001 - the host list is a convenience; results still name hosts
            self._display.vvv(f"socle_record: could not list the play's hosts: {exc}")

    def _record(self, result, outcome: str) -> None:
        host = result._host.get_name()
        entry = self.host(host)
        res = result._result
        facts = res.get("ansible_facts") or {}
        if isinstance(facts.get("socle"), dict):
            entry["platform"] = facts["socle"].get("platform")
        if isinstance(res.get("socle_host"), dict):
            entry["facility"] = res["socle_host"].get("facility")
            waivers = res["socle_host"].get("waivers") or []
            self.waivers[host] = {w["control"]: w for w in waivers if isinstance(w, dict) and "control" in w}
            if res["socle_host"].get("check_mode") is not None and not os.environ.get("SOCLE_RUN_MODE"):
                self.run["mode"] = "audit" if res["socle_host"]["check_mode"] else "apply"
        name = ROLE_PREFIX_RE.sub("", result._task.get_name().strip())
        match = CONTROL_RE.match(name)
        msg = res.get("msg") if outcome in ("failed", "unreachable") else None
        tags = getattr(result._task, "tags", None) or []
        if not match and MULTI_TAG in tags:
            self._record_several(host, name, tags, res, outcome, msg)
            return
        if not match:
            if outcome == "failed":
                entry["status"] = "error"
                entry["message"] = f"{name}: {msg}"
                if f"{host}: {name}: {msg}" not in self.run["errors"]:
                    self.run["errors"].append(f"{host}: {name}: {msg}")
            return
        secret = bool(res.get("_ansible_no_log")) or "censored" in res
        self.tasks.setdefault(host, {}).setdefault(match.group(1), []).append({
            "name": name, "result": outcome, "msg": None if msg is None else str(msg),
            "expected": None if secret else res.get("expected"),
            "actual": None if secret else res.get("actual"),
            "diff": None if secret else res.get("diff"),
            "finding": None if secret or not isinstance(res.get("socle_finding"), dict) else res["socle_finding"],
        })

    def _record_several(self, host: str, name: str, tags, res: dict, outcome: str, msg) -> None:
        """A task measuring several controls (tag socle_controls): one entry per selected control."""
        findings = res.get("socle_findings") if isinstance(res.get("socle_findings"), dict) else {}
        results = res.get("socle_results") if isinstance(res.get("socle_results"), dict) else {}
        secret = bool(res.get("_ansible_no_log")) or "censored" in res
        for cid in selected_controls(tags):
            entry = {"expected": None, "actual": None, "diff": None}
            if outcome in ("ok", "changed"):
                finding, result = findings.get(cid), results.get(cid)
                if not isinstance(finding, dict) and not isinstance(result, dict):
                    continue  # this call neither measured nor set that control
                if isinstance(finding, dict) and secret:  # the status only: expected and actual may hold secrets
                    finding = {"status": finding.get("status")}
                entry.update(result="ok", msg=None, finding=finding if isinstance(finding, dict) else None)
                if isinstance(result, dict):  # the control's own share of the call: changed or not, its diff
                    entry["result"] = ("skipped" if result.get("skipped")
                                       else "changed" if result.get("changed") else "ok")
                    if not secret:
                        entry.update(expected=result.get("expected"), actual=result.get("actual"),
                                     diff=result.get("diff"))
            else:
                entry.update(result=outcome, msg=None if msg is None else str(msg), finding=None)
            self.tasks.setdefault(host, {}).setdefault(cid, []).append({"name": f"{cid} | {name}", **entry})

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        entry = self.host(result._host.get_name())
        entry["status"] = "unreachable"
        entry["message"] = str(result._result.get("msg", "unreachable"))
        self._record(result, "unreachable")

    # -- aggregation ---------------------------------------------------------------------------
    def control(self, tasks: list[dict]) -> dict:
        outcomes = [t["result"] for t in tasks]
        changed = "changed" in outcomes
        findings = [t["finding"] for t in tasks if t["finding"]]
        finding_status = {str(f.get("status")) for f in findings}
        if "unreachable" in outcomes:
            status = "unreachable"
        elif "failed" in outcomes or finding_status - FINDING_STATUSES:
            status = "error"
        elif all(o == "skipped" for o in outcomes) or (findings and finding_status == {"not_applicable"}):
            status = "not_applicable"
        elif (changed and self.run["mode"] == "audit") or "drift" in finding_status:
            status = "drift"
        elif finding_status & {"attestation_due", "attested"}:  # organisational evidence (measures 6-8)
            status = "attestation_due" if "attestation_due" in finding_status else "attested"
        else:
            status = "compliant"
        expected = [str(t["expected"]) for t in tasks if t["expected"] not in (None, "")]
        actual = [str(t["actual"]) for t in tasks if t["actual"] not in (None, "")]
        expected += [str(f["expected"]) for f in findings if f.get("expected") not in (None, "")]
        actual += [str(f["actual"]) for f in findings if f.get("actual") not in (None, "")]
        diffs = []
        for task in tasks:
            if task["result"] != "changed" or not task["diff"]:
                continue
            entries = task["diff"] if isinstance(task["diff"], list) else [task["diff"]]
            diffs += [unified(d) for d in entries if isinstance(d, dict)]
        if changed and not expected:
            entries = [d for t in tasks if t["result"] == "changed" and t["diff"]
                       for d in (t["diff"] if isinstance(t["diff"], list) else [t["diff"]]) if isinstance(d, dict)]
            expected = [d["after"] for d in entries if isinstance(d.get("after"), str)]
            actual = [d["before"] for d in entries if isinstance(d.get("before"), str)]
        messages = [t["msg"] for t in tasks if t["msg"]]
        return {
            "status": status, "changed": changed,
            "expected": clip("\n".join(expected)) if expected else None,
            "actual": clip("\n".join(actual)) if actual else None,
            "diff": clip("".join(diffs)) if diffs else None,
            "message": clip("; ".join(messages)) if messages else None,
            "finding": bool(findings),
            "tasks": [{"name": t["name"], "result": t["result"], "msg": t["msg"]} for t in tasks],
        }

    def record(self) -> dict:
        hosts = {}
        for name, entry in sorted(self.hosts.items()):
            waivers = self.waivers.get(name, {})
            controls = {cid: apply_waiver(self.control(tasks), waivers.get(cid), self.run["started"][:10])
                        for cid, tasks in sorted(self.tasks.get(name, {}).items())}
            hosts[name] = {**entry, "controls": controls}
        return {"schema_version": SCHEMA_VERSION, "run": {**self.run, "finished": now()}, "hosts": hosts}

    def publish_summary(self) -> None:
        """Write the summary for the publishing play; its tasks read it through SOCLE_RUN_SUMMARY."""
        record = self.record()
        text = json.dumps(record, ensure_ascii=False)
        try:
            limit = int(os.environ.get("SOCLE_ARTIFACT_MAX_BYTES", "1000000"))
        except ValueError:
            limit = 1000000
        size = len(text.encode("utf-8"))
        data = {"summary": run_summary(record), "record": record if size <= limit else None,
                "record_bytes": size, "record_max_bytes": limit}
        fd, path = tempfile.mkstemp(prefix="socle-run-summary-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)
        if self.summary_path:
            with contextlib.suppress(OSError):
                os.unlink(self.summary_path)
        self.summary_path = path
        # Worker processes are forked after this, so the publishing task's lookups see the variable.
        os.environ["SOCLE_RUN_SUMMARY"] = path

    def v2_playbook_on_stats(self, stats):
        if self.summary_path:
            with contextlib.suppress(OSError):
                os.unlink(self.summary_path)
            os.environ.pop("SOCLE_RUN_SUMMARY", None)
        if not self.path and not self.folder:
            return
        data = self.record()
        if not self.path:
            self.path = os.path.join(self.folder, f"{self.run['id']}-{self.run['mode']}.json")
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        tmp = f"{self.path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=False)
            handle.write("\n")
        os.replace(tmp, self.path)
