"""Waivers: validated on the controller, applied in the run record, shown in every report, counted right."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from conftest import load_project_module
from synthetic_runs import control, host, make, run_data
from test_report_html import ALLOWED_TAGS, FakeCatalogue, parse

from socle.record import parse_record
from socle.report.html import render_html
from socle.report.junit import render_junit

policy = load_project_module("action_plugins", "socle_policy")
cb = load_project_module("callback_plugins", "socle_record")

IDS = frozenset({"M4-LNX-SSH-IDLE", "M4-LNX-GNOME-LOCK", "M5-LNX-FAILLOCK"})
GOOD = {"control": "M4-LNX-SSH-IDLE", "reason": "Supervision needs long sessions", "accepted_by": "Dr Martin",
        "expires": "2027-03-31"}


# -- validation on the controller (socle_policy) ---------------------------------------------------
def test_valid_waivers_from_several_variables_add_up() -> None:
    variables = {
        "socle_waivers": [GOOD],
        "socle_waivers_facility": [{**GOOD, "control": "M5-LNX-FAILLOCK", "expires": dt.date(2026, 6, 30)}],
        "socle_waiverz": [{"nonsense": 1}],  # not a waiver variable: ignored here (and not a role variable)
    }
    waivers, errors = policy.check_waivers(variables, IDS)
    assert errors == []
    assert waivers == [
        {"control": "M4-LNX-SSH-IDLE", "reason": "Supervision needs long sessions", "accepted_by": "Dr Martin",
         "expires": "2027-03-31", "source": "socle_waivers[0]"},
        {"control": "M5-LNX-FAILLOCK", "reason": "Supervision needs long sessions", "accepted_by": "Dr Martin",
         "expires": "2026-06-30", "source": "socle_waivers_facility[0]"},
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"socle_waivers": {"control": "x"}}, "socle_waivers must be a list of waivers, got dict"),
        ({"socle_waivers": ["M4-LNX-SSH-IDLE"]}, "socle_waivers[0] must be a mapping with control, reason"),
        ({"socle_waivers": [{**GOOD, "control": "M4-LNX-SSH-IDL"}]},
         "socle_waivers[0].control: unknown control ID 'M4-LNX-SSH-IDL'; did you mean M4-LNX-SSH-IDLE?"),
        ({"socle_waivers": [{k: v for k, v in GOOD.items() if k != "reason"}]},
         "socle_waivers[0].reason: missing (why the control is waived)"),
        ({"socle_waivers": [{**GOOD, "accepted_by": "  "}]}, "socle_waivers[0].accepted_by: missing"),
        ({"socle_waivers": [{k: v for k, v in GOOD.items() if k != "control"}]}, "socle_waivers[0].control: missing"),
        ({"socle_waivers": [{**GOOD, "expires": "31/03/2027"}]},
         "socle_waivers[0].expires: 31/03/2027 is not a date (YYYY-MM-DD)"),
        ({"socle_waivers": [{**GOOD, "expires": "2027-02-30"}]}, "socle_waivers[0].expires: 2027-02-30 is not a date"),
        ({"socle_waivers": [{**GOOD, "expires": dt.datetime(2027, 3, 31, 12, 0)}]},
         "socle_waivers[0].expires: 2027-03-31 12:00:00 is not a date"),
        ({"socle_waivers": [{**GOOD, "expires": 20270331}]}, "socle_waivers[0].expires: 20270331 is not a date"),
        ({"socle_waivers": [{**GOOD, "expiry": "2027-03-31"}]},
         "socle_waivers[0].expiry: unknown field; did you mean expires?"),
        ({"socle_waivers": [{**GOOD, "reason": ["a", "b"]}]}, "socle_waivers[0].reason: must be text"),
        ({"socle_waivers": [GOOD], "socle_waivers_site": [GOOD]},
         "socle_waivers_site[0].control: M4-LNX-SSH-IDLE is already waived by socle_waivers[0]"),
    ],
)
def test_bad_waivers_name_the_field(value, message) -> None:
    waivers, errors = policy.check_waivers(value, IDS)
    assert any(message in e for e in errors), errors
    assert all(e.startswith("waivers: ") for e in errors)


def test_an_expired_waiver_is_still_valid_input() -> None:
    waivers, errors = policy.check_waivers({"socle_waivers": [{**GOOD, "expires": "2001-01-01"}]}, IDS)
    assert errors == [] and waivers[0]["expires"] == "2001-01-01"


def test_catalogue_ids_are_read_from_the_project_catalogue() -> None:
    ids = policy.catalogue_ids()
    assert "M4-LNX-SSH-IDLE" in ids and "M8-ORG-CHARTER" in ids and "M4-LNX-NOPE" not in ids


# -- applied in the run record (socle_record callback) ---------------------------------------------
WAIVER = {"control": "M4-LNX-SSH-IDLE", "reason": "r", "accepted_by": "a", "expires": "2027-03-31",
          "source": "socle_waivers[0]"}


@pytest.mark.parametrize(
    ("status", "day", "after", "expired"),
    [
        ("drift", "2027-03-30", "waived", False),
        ("drift", "2027-03-31", "waived", False),  # the expiry day is included
        ("drift", "2027-04-01", "drift", True),  # expired: drift again
        ("attestation_due", "2027-01-01", "waived", False),
        ("compliant", "2027-01-01", "compliant", False),  # shown, nothing to waive
        ("error", "2027-01-01", "error", False),  # a waiver never hides an error
        ("not_applicable", "2027-01-01", "not_applicable", False),
    ],
)
def test_apply_waiver(status, day, after, expired) -> None:
    entry = cb.apply_waiver({"status": status}, WAIVER, day)
    assert entry["status"] == after
    assert entry["waiver"] == {"reason": "r", "accepted_by": "a", "expires": "2027-03-31", "expired": expired,
                               "source": "socle_waivers[0]"}


def test_no_waiver_leaves_the_control_alone() -> None:
    assert cb.apply_waiver({"status": "drift"}, None, "2027-01-01") == {"status": "drift"}


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.delenv("SOCLE_RECORD", raising=False)
    monkeypatch.setenv("SOCLE_RUN_MODE", "audit")
    return cb.CallbackModule()


def _task(result: str) -> dict:
    return {"name": "M4-LNX-SSH-IDLE | t", "result": result, "msg": None, "expected": None, "actual": None,
            "diff": None, "finding": None}


@pytest.mark.parametrize(("started", "status", "code"), [("2027-03-31T23:59:59Z", "waived", 0),
                                                         ("2027-04-01T00:00:00Z", "drift", 2)])
def test_record_with_waiver_validates_and_sets_the_exit_code(plugin, started, status, code) -> None:
    plugin.run["started"] = started
    plugin.host("pc-01")
    plugin.tasks = {"pc-01": {"M4-LNX-SSH-IDLE": [_task("changed")], "M4-LNX-GNOME-LOCK": [_task("ok")]}}
    plugin.waivers = {"pc-01": {"M4-LNX-SSH-IDLE": WAIVER}}
    record = parse_record(plugin.record())  # the schema accepts the waiver field
    result = record.hosts["pc-01"].controls["M4-LNX-SSH-IDLE"]
    assert result.status == status and result.changed is True and result.waiver.reason == "r"
    assert record.hosts["pc-01"].controls["M4-LNX-GNOME-LOCK"].waiver is None
    assert record.exit_code() == code
    assert record.drift_pairs() == ({("pc-01", "M4-LNX-SSH-IDLE")} if code == 2 else set())


def test_policy_result_feeds_the_callback(plugin) -> None:
    class Result:  # just enough of an Ansible TaskResult
        def __init__(self) -> None:
            self._host = type("H", (), {"get_name": lambda _self: "pc-01"})()
            self._task = type("T", (), {"get_name": lambda _self: "Validate the policy variables of every role"})()
            self._result = {"changed": False, "socle_host": {"facility": "F", "check_mode": True, "waivers": [WAIVER]}}

    plugin.v2_runner_on_ok(Result())
    assert plugin.waivers == {"pc-01": {"M4-LNX-SSH-IDLE": WAIVER}}


# -- reports ---------------------------------------------------------------------------------------
HOSTILE = "<script>alert('w')</script> & \"quoted\" \u202e"


def waived_record():
    active = {"reason": HOSTILE, "accepted_by": "Dr <b>Martin</b>", "expires": "2027-03-31", "expired": False,
              "source": "socle_waivers[0]"}
    expired = {"reason": "Old exception", "accepted_by": "DSI", "expires": "2025-01-31", "expired": True,
               "source": "socle_waivers_facility[0]"}
    return make({
        "pc-<1>": host({"M4-LNX-SSH-IDLE": control("waived", changed=True, waiver=active),
                        "M4-LNX-GNOME-LOCK": control("drift", waiver=expired)}),
        "pc-2": host({"M4-LNX-SSH-IDLE": control("waived", changed=True, waiver=active)}),
    })


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_html_shows_waivers_escaped(lang) -> None:
    html = render_html(waived_record(), FakeCatalogue(), lang=lang)
    doc = parse(html)
    assert set(doc.tags) <= ALLOWED_TAGS
    assert "<script" not in html.lower() and "<b>Martin" not in html and "\u202e" not in html
    assert "&lt;script&gt;alert(&#39;w&#39;)&lt;/script&gt; &amp; &#34;quoted&#34; [U+202E]" in html
    assert 'id="waivers"' in html
    section = html.split('id="waivers"', 1)[1].split("</section>", 1)[0]
    assert section.count("<tr") == 3  # header, the waiver in force (2 hosts), the expired one
    assert "pc-&lt;1&gt;" in section and "2025-01-31" in section
    assert ("expirée" if lang == "fr" else "expired") in section
    findings = html.split('id="findings"', 1)[1].split("</section>", 1)[0]
    assert "<code>M4-LNX-GNOME-LOCK</code>" in findings and "Old exception" in findings  # expired: drift again
    assert "<code>M4-LNX-SSH-IDLE</code>" not in findings  # in force: not a finding


def test_html_verdict_and_score_count_waivers() -> None:
    record = waived_record()
    assert record.exit_code() == 2  # the expired waiver
    html = render_html(record, FakeCatalogue(), lang="en")
    assert 'id="score"' in html and "0&#160;%" in html  # 3 applicable results, none compliant
    only_active = make({"pc": host({"M4-LNX-SSH-IDLE": control("waived", waiver={
        "reason": "r", "accepted_by": "a", "expires": "2027-03-31", "expired": False})})})
    assert only_active.exit_code() == 0
    html = render_html(only_active, None, lang="en")
    assert "No drift to fix: the controls evaluated are compliant, not applicable or covered by a waiver in force " \
           "(1 result(s)" in html
    assert 'class="verdict s-compliant"' in html


def test_junit_waived_is_skipped_expired_is_a_failure() -> None:
    root = ET.fromstring(render_junit(waived_record(), None))
    cases = {(c.get("classname"), c.get("name").split()[0]): c for c in root.iter("testcase")}
    skipped = cases[("pc-2", "M4-LNX-SSH-IDLE")].find("skipped")
    assert skipped is not None and "waived until 2027-03-31" in skipped.get("message")
    assert "<script>alert('w')</script>" in skipped.get("message")  # plain text in XML, escaped by the writer
    failure = cases[("pc-<1>", "M4-LNX-GNOME-LOCK")].find("failure")
    assert failure is not None and "waiver (expired): Old exception" in failure.text
    assert root.get("failures") == "1" and root.get("skipped") == "2"


def test_waiver_field_is_validated_by_the_schema() -> None:
    data = run_data({"h": host({"M4-LNX-SSH-IDLE": control("waived", waiver={
        "reason": "r", "accepted_by": "a", "expires": "31/03/2027", "expired": False})})})
    with pytest.raises(Exception, match=r"waiver\.expires"):
        parse_record(data)
    data["hosts"]["h"]["controls"]["M4-LNX-SSH-IDLE"]["waiver"] = {"reason": "r", "accepted_by": "a",
                                                                   "expires": "2027-03-31"}
    with pytest.raises(Exception, match="'expired' is a required property"):
        parse_record(data)


# -- through Ansible itself: inventory dates, the policy action and the callback together -----------
PLAY = """
- name: Policy
  hosts: all
  gather_facts: false
  any_errors_fatal: true  # as in playbooks/site.yml
  tasks:
    - name: Validate the policy variables of every role
      socle_policy:
        roles: [session_lock]
- name: Controls
  hosts: all
  gather_facts: false
  tasks:
    - name: M4-LNX-GNOME-LOCK | would change
      ansible.builtin.debug: {msg: x}
      changed_when: true
    - name: M4-LNX-SSH-IDLE | would change
      ansible.builtin.debug: {msg: x}
      changed_when: true
"""


def _playbook(tmp_path, host_vars: str):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    tilleuls:\n      hosts:\n"
        "        pc-a: {ansible_connection: local}\n        pc-b: {ansible_connection: local}\n", encoding="utf-8")
    (tmp_path / "group_vars" / "tilleuls.yml").write_text(
        "socle_facility: EHPAD Les Tilleuls\nsocle_waivers_facility:\n  - control: M4-LNX-GNOME-LOCK\n"
        "    reason: \"Écran d'accueil <planning>\"\n    accepted_by: Mme Durand\n    expires: 2999-03-31\n",
        encoding="utf-8")
    (tmp_path / "host_vars" / "pc-b.yml").write_text(host_vars, encoding="utf-8")
    (tmp_path / "play.yml").write_text(PLAY, encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "SOCLE_RECORD": str(tmp_path / "run.json"),
           "SOCLE_RUN_MODE": "audit", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(  # noqa: S603 - our own playbook, local connection, check mode: touches nothing
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
         str(tmp_path / "play.yml"), "--check"],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )


def test_waivers_through_ansible(tmp_path) -> None:
    from socle.record import load_record

    done = _playbook(tmp_path, "socle_waivers:\n  - control: M4-LNX-SSH-IDLE\n    reason: old\n"
                               "    accepted_by: M. Martin\n    expires: '2020-01-31'\n")
    assert done.returncode == 0, done.stdout + done.stderr
    record = load_record(tmp_path / "run.json")
    statuses = {(h.name, c.id): (c.status, c.waiver.expired if c.waiver else None) for h, c in record.results()}
    assert statuses == {
        ("pc-a", "M4-LNX-GNOME-LOCK"): ("waived", False),  # unquoted YAML date from group_vars
        ("pc-a", "M4-LNX-SSH-IDLE"): ("drift", None),
        ("pc-b", "M4-LNX-GNOME-LOCK"): ("waived", False),  # the facility's list and the host's add up
        ("pc-b", "M4-LNX-SSH-IDLE"): ("drift", True),  # expired: drift again
    }
    assert record.hosts["pc-a"].controls["M4-LNX-GNOME-LOCK"].waiver.reason == "Écran d'accueil <planning>"
    assert record.exit_code() == 2


def test_bad_waiver_stops_the_run_naming_the_field(tmp_path) -> None:
    done = _playbook(tmp_path, "socle_waivers:\n  - control: M4-LNX-SSH-IDL\n    reason: old\n"
                               "    accepted_by: M. Martin\n    expiry: '2020-01-31'\n")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "socle_waivers[0].control: unknown control ID 'M4-LNX-SSH-IDL'" in out.replace("''", "'")
    assert "socle_waivers[0].expiry: unknown field; did you mean expires?" in out
    assert "M4-LNX-SSH-IDLE | would change" not in out  # no host ran any control task
