"""Command-line selection: --tags by measure, --facility, apply --from-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from socle import cli
from socle.catalogue import load_catalogue
from socle.record import load_record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
CATALOGUE = load_catalogue()


def test_control_ids_are_kept_and_measures_expand_to_their_implemented_controls():
    assert cli.expand_tags(["M4-LNX-SSH-IDLE"], CATALOGUE) == ["M4-LNX-SSH-IDLE"]
    m4_linux = cli.expand_tags(["M4-LNX"], CATALOGUE)
    assert m4_linux == sorted(c for c in CATALOGUE.implemented() if c.startswith("M4-LNX-"))
    assert {"M4-LNX-GNOME-LOCK", "M4-LNX-SHELL-TMOUT", "M4-LNX-SSH-IDLE"} <= set(m4_linux)
    m4 = cli.expand_tags(["M4"], CATALOGUE)
    assert set(m4_linux) < set(m4) and all(c.startswith("M4-") for c in m4)
    assert all(CATALOGUE.controls[c]["implemented"] for c in m4)
    both = cli.expand_tags(["M4-LNX-SSH-IDLE,M1-LNX-LAST-RUN", "M4-LNX-SSH-IDLE"], CATALOGUE)
    assert both == ["M1-LNX-LAST-RUN", "M4-LNX-SSH-IDLE"]


@pytest.mark.parametrize(("tag", "words"), [
    ("M4-LNX-SSH-IDEL", "did you mean M4-LNX-SSH-IDLE"),
    ("ssh", "unknown control"),
    ("M9", "unknown control"),
])
def test_unknown_tags_are_refused_with_the_nearest_id(tag, words):
    with pytest.raises(cli.SelectionError, match=words):
        cli.expand_tags([tag], CATALOGUE)


def test_facility_hosts_from_the_inventory_variables():
    hostvars = {"pc1": {"socle_facility": "EHPAD A"}, "pc2": {"socle_facility": "EHPAD B"},
                "pc3": {"socle_facility": "EHPAD A"}, "nas": {}}
    assert cli.facility_hosts("EHPAD A", hostvars) == ["pc1", "pc3"]
    with pytest.raises(cli.SelectionError, match="known: EHPAD A, EHPAD B"):
        cli.facility_hosts("EHPAD C", hostvars)


def test_from_run_takes_the_drifted_settings_and_leaves_findings_out():
    record = load_record(FIXTURES / "audit-drift.json")
    hosts, controls = cli.from_run_selection(record)
    pairs = record.setting_drift_pairs()
    assert pairs and set(hosts) == {h for h, _c in pairs} and set(controls) == {c for _h, c in pairs}
    findings_only = {c for h, c in record.drift_pairs() if record.hosts[h].controls[c].finding}
    findings_only -= {c for _h, c in pairs}
    assert not findings_only & set(controls)


def test_limit_patterns():
    assert cli.combine_limit(None, None) is None
    assert cli.combine_limit(None, "desk") == "desk"
    assert cli.combine_limit(["a", "b"], None) == "a:b"
    assert cli.combine_limit(["a", "b"], "desk") == "a:b:&desk"


def test_apply_from_a_compliant_run_does_nothing(tmp_path, capsys):
    code = cli.main(["apply", "--no-history", "--out", str(tmp_path / "out"), "-i", str(FIXTURES),
                     "--from-run", str(FIXTURES / "audit-compliant.json")])
    assert code == 0
    assert "nothing to re-apply" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_bad_tag_stops_before_anything_runs(tmp_path, capsys):
    code = cli.main(["audit", "--no-history", "--out", str(tmp_path / "out"), "-i", str(FIXTURES),
                     "--tags", "M4-LNX-SSH-IDEL"])
    assert code == 1
    assert "did you mean M4-LNX-SSH-IDLE" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
