"""What changed between two runs (socle diff, the HTML section) and the published score formula."""

from __future__ import annotations

import pytest
from synthetic_runs import control, host, make, run_id

from socle.report.changes import KINDS, diff_records, term_safe
from socle.score import measure_score, scores_from_counts, scores_of

SSH, LOCK = "M4-LNX-SSH-IDLE", "M4-LNX-GNOME-LOCK"


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        ("compliant", "drift", "regressed"),
        ("waived", "drift", "regressed"),  # a waiver that expired
        ("not_applicable", "error", "regressed"),
        (None, "drift", "new"),
        (None, "compliant", None),
        ("drift", "compliant", "fixed"),
        ("error", "waived", "fixed"),
        ("drift", None, "gone"),
        ("compliant", None, None),
        ("drift", "drift", "failing"),
        ("drift", "error", "failing"),
        ("compliant", "waived", "other"),
        ("compliant", "compliant", None),
    ],
)
def test_kind_of_change(before, after, kind) -> None:
    old = make({"h": host({SSH: control(before)} if before else {})}, run_id=run_id(1))
    new = make({"h": host({SSH: control(after)} if after else {})}, run_id=run_id(2))
    diff = diff_records(old, new)
    assert [(c.kind, c.before, c.after) for c in diff.changes] == ([(kind, before, after)] if kind else [])
    assert diff.worse is (kind in ("regressed", "new"))


def test_unreachable_host_is_a_regression_not_a_fix() -> None:
    old = make({"h": host({SSH: control("drift"), LOCK: control()})}, run_id=run_id(1))
    new = make({"h": host({}, status="unreachable", message="ssh: timeout")}, run_id=run_id(2))
    kinds = {c.control: (c.kind, c.after) for c in diff_records(old, new).changes}
    assert kinds == {SSH: ("failing", "unreachable"), LOCK: ("regressed", "unreachable")}


def test_host_left_out_is_gone_and_new_host_is_new() -> None:
    old = make({"a": host({SSH: control("drift")})}, run_id=run_id(1))
    new = make({"b": host({SSH: control("drift"), LOCK: control()})}, run_id=run_id(2))
    diff = diff_records(old, new)
    assert [(c.kind, c.host) for c in diff.changes] == [("new", "b"), ("gone", "a")]
    assert diff.counts() == {"regressed": 0, "new": 1, "fixed": 0, "gone": 1, "failing": 0, "other": 0}
    assert list(diff.counts()) == list(KINDS)
    assert list(diff.by_host()) == ["b", "a"]


def test_term_safe_neutralises_terminal_escapes() -> None:
    hostile = "pc\x1b[2J\x1b]0;owned\x07\u202eexe.txt\r\nnext\x9b"
    text = term_safe(hostile)
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text and "\x9b" not in text
    assert text == "pc\\x1b[2J\\x1b]0;owned\\x07\\u202eexe.txt\\x0d\\x0anext\\x9b"
    assert term_safe("EHPAD « Les Tilleuls » é 🏥") == "EHPAD « Les Tilleuls » é 🏥"


# -- scores ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("counts", "score"),
    [
        ({}, None),
        ({"not_applicable": 4}, None),
        ({"compliant": 3}, 100),
        ({"compliant": 2, "drift": 1}, 66),  # 66.7 rounded down
        ({"compliant": 199, "drift": 1}, 99),  # 99.5: only a full measure shows 100
        ({"compliant": 1, "waived": 1}, 50),  # a waiver is an accepted gap, still a gap
        ({"compliant": 1, "error": 1, "unreachable": 2}, 25),
        ({"compliant": 1, "not_applicable": 9}, 100),
        ({"attested": 1, "attestation_due": 1}, 50),
    ],
)
def test_measure_score(counts, score) -> None:
    assert measure_score(counts) == score


def test_overall_is_the_mean_of_measures_with_a_score() -> None:
    scores = scores_from_counts({1: {"compliant": 1}, 4: {"compliant": 1, "drift": 2}, 5: {"not_applicable": 3}})
    assert scores.measures[1] == 100 and scores.measures[4] == 33 and scores.measures[5] is None
    assert scores.overall == 66  # (100 + 33) / 2 = 66.5, rounded down; measure 5 has no score
    assert scores_from_counts({}).overall is None
    assert scores.as_dict()["measures"]["4"] == 33


def test_scores_of_a_record_and_a_subset_of_hosts() -> None:
    record = make({"a": host({SSH: control("drift"), "M5-LNX-FAILLOCK": control()}),
                   "b": host({SSH: control()})})
    assert scores_of(record).measures == {1: None, 2: None, 3: None, 4: 50, 5: 100, 6: None, 7: None, 8: None}
    assert scores_of(record).overall == 75
    assert scores_of(record, hosts=["b"]).overall == 100
    assert scores_of(record, hosts=[]).overall is None


def test_the_worked_example_of_docs_scores() -> None:
    scores = scores_from_counts({4: {"compliant": 6, "drift": 1, "waived": 1, "not_applicable": 1},
                                 5: {"compliant": 5, "drift": 1}})
    assert (scores.measures[4], scores.measures[5], scores.overall) == (75, 83, 79)


def test_changes_section_escapes_hostile_names() -> None:
    import json
    from pathlib import Path

    from test_report_html import ALLOWED_TAGS, FakeCatalogue, parse

    from socle.record import load_record, parse_record
    from socle.report.html import render_html

    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "runs" / "hostile.json"
    current = load_record(fixture)
    data = json.loads(fixture.read_text(encoding="utf-8"))
    data["run"]["id"] = run_id(1)
    for entry in data["hosts"].values():
        entry["status"] = "ok"
        for result in entry["controls"].values():
            result["status"] = "compliant"
    previous = parse_record(data)
    for lang in ("fr", "en"):
        html = render_html(current, FakeCatalogue(), lang=lang, previous=previous)
        assert set(parse(html).tags) <= ALLOWED_TAGS and "<script" not in html.lower()
        section = html.split('id="changes-since"', 1)[1].split("</section>", 1)[0]
        assert "&lt;script&gt;alert(&#34;host&#34;)&lt;/script&gt;.lan" in section
        assert "[U+202E]" in section and "\u202e" not in section
        assert section.count('<tr class="k-regressed">') == 4  # drift and error on host 1, both on host 3
        assert section.count('<tr class="k-other">') == 1  # compliant -> not applicable
