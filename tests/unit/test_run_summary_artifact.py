"""The run summary that the last play of site.yml publishes with set_stats (AWX job artifacts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, load_project_module

cb = load_project_module("callback_plugins", "socle_record")

RECORD = {
    "schema_version": 1,
    "run": {"id": "20261128T000000Z-0a1b2c3d", "mode": "audit", "started": "2026-11-28T00:00:00Z",
            "finished": None, "errors": ["pc2: boom"]},
    "hosts": {
        "pc1": {"status": "ok", "facility": "EHPAD A", "controls": {
            "M4-LNX-SHELL-TMOUT": {"status": "drift", "expected": "TMOUT=900 secret-ish", "diff": "-a\n+b\n"},
            "M5-LNX-PWQUALITY": {"status": "compliant"},
            "M8-ORG-CHARTER": {"status": "attestation_due"}}},
        "pc2": {"status": "error", "facility": "EHPAD A", "controls": {
            "M2-LNX-NFT-BASELINE": {"status": "error", "message": "boom"}}},
    },
}


def test_summary_keeps_counts_and_ids_but_no_values_or_diffs():
    summary = cb.run_summary(RECORD)
    assert summary["id"] == "20261128T000000Z-0a1b2c3d" and summary["mode"] == "audit" and summary["errors"] == 1
    assert summary["hosts"]["pc1"] == {"status": "ok", "facility": "EHPAD A",
                                       "counts": {"drift": 1, "compliant": 1, "attestation_due": 1},
                                       "drift": ["M4-LNX-SHELL-TMOUT"], "attestation_due": ["M8-ORG-CHARTER"]}
    assert summary["hosts"]["pc2"]["error"] == ["M2-LNX-NFT-BASELINE"]
    text = json.dumps(summary)
    assert "secret-ish" not in text and "+b" not in text and "boom" not in text


HOSTILE_TASK = (
    "    - name: M5-LNX-PWQUALITY | fails with a message that looks like a template\n"
    "      ansible.builtin.fail:\n"
    "        msg: \"{{ '{{' }} lookup('ansible.builtin.pipe', 'touch {marker}') }}\"\n"
    "      ignore_errors: true\n"
)


def publish(tmp_path: Path, **env_extra: str) -> dict:
    """A real ansible-playbook run (local connection) ending with publish.yml; its custom stats."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: A control\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: M4-LNX-SHELL-TMOUT | drifts\n      ansible.builtin.debug: {msg: x}\n      changed_when: true\n"
        + HOSTILE_TASK.replace("{marker}", str(tmp_path / "templated")) +
        f"- name: Publish\n  ansible.builtin.import_playbook: {ROOT / 'playbooks' / 'publish.yml'}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_SHOW_CUSTOM_STATS": "true",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
           "TMPDIR": str(tmp_path / "t"), **env_extra}
    (tmp_path / "t").mkdir()
    env.pop("SOCLE_RUN_SUMMARY", None)
    proc = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "pc1,pc2,", "-c", "local",
                           "--check", str(playbook)], capture_output=True, text=True, env=env, check=False,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # The temporary summary file is removed at the end of the run.
    assert not list((tmp_path / "t").glob("socle-run-summary-*"))
    return json.loads(proc.stdout)["global_custom_stats"]


def test_the_last_play_publishes_the_summary_and_the_record(tmp_path: Path):
    custom = publish(tmp_path)
    stats = custom["socle_run"]
    assert stats["mode"] == "audit"
    assert {h: s["drift"] for h, s in stats["hosts"].items()} == {"pc1": ["M4-LNX-SHELL-TMOUT"],
                                                                  "pc2": ["M4-LNX-SHELL-TMOUT"]}
    record = custom["socle_record"]
    assert record["run"]["id"] == stats["id"] and record["schema_version"] == 1
    assert record["hosts"]["pc1"]["controls"]["M4-LNX-SHELL-TMOUT"]["status"] == "drift"
    assert int(custom["socle_record_bytes"]) == len(json.dumps(record, ensure_ascii=False).encode())
    # A message that looks like a template is published as text, never evaluated.
    message = record["hosts"]["pc1"]["controls"]["M5-LNX-PWQUALITY"]["message"]
    assert message == f"{{{{ lookup('ansible.builtin.pipe', 'touch {tmp_path / 'templated'}') }}}}"
    assert not (tmp_path / "templated").exists()


def test_a_record_over_the_size_limit_is_left_out_with_its_size(tmp_path: Path):
    custom = publish(tmp_path, SOCLE_ARTIFACT_MAX_BYTES="100")
    assert custom["socle_record"] is None and int(custom["socle_record_bytes"]) > 100
    assert custom["socle_run"]["hosts"]["pc1"]["drift"] == ["M4-LNX-SHELL-TMOUT"]


def test_site_yml_ends_with_the_publishing_play():
    text = (ROOT / "playbooks" / "site.yml").read_text(encoding="utf-8").rstrip()
    assert text.endswith("ansible.builtin.import_playbook: publish.yml")
