"""HTML report: languages, content, self-containment and escaping of hostile strings."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import escape

from socle.record import load_record, parse_record
from socle.report import main, write_reports
from socle.report.html import clean_html_text, render_html
from socle.report.i18n import LANGS, STRINGS, status_label, t

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"


# -- a small stand-in for socle.catalogue (same attributes, no file) -------------------------------
MEASURES = {n: {"fr": f"Mesure fr numéro {n}", "en": f"English measure {n}"} for n in range(1, 9)}
TITLES = {
    "M4-LNX-GNOME-LOCK": ("Verrouillage de la session GNOME", "Lock GNOME sessions"),
    "M4-LNX-SHELL-TMOUT": ("Déconnexion des shells inactifs", "Log out idle shells"),
    "M4-LNX-SSH-IDLE": ("Fermeture des sessions SSH inactives", "Close idle SSH sessions"),
}


def _entry(cid: str, fr: str, en: str) -> dict[str, Any]:
    return {
        "id": cid,
        "measure": 4,
        "platform": "linux",
        "kind": "config",
        "title": {"fr": fr, "en": en},
        "rationale": {"fr": f"Justification {cid}", "en": f"Rationale {cid}"},
        "check": {"fr": f"Vérification {cid}", "en": f"Check {cid}"},
        "references": {"anssi": ["R32"], "pgssi_s": ["PGSSI-S §4"]},
        "implemented": True,
    }


@dataclass
class FakeCatalogue:
    measures: dict[int, dict[str, str]] = field(default_factory=lambda: dict(MEASURES))
    controls: dict[str, Any] = field(
        default_factory=lambda: {cid: _entry(cid, fr, en) for cid, (fr, en) in TITLES.items()}
    )

    def title(self, control_id: str, lang: str) -> str:
        return self.controls[control_id]["title"][lang]


@dataclass
class NamespaceCatalogue(FakeCatalogue):
    """Same catalogue with attribute-style entries (as dataclasses would be)."""

    def __post_init__(self) -> None:
        self.controls = {cid: SimpleNamespace(**entry) for cid, entry in self.controls.items()}

    def title(self, control_id: str, lang: str) -> str:
        return self.controls[control_id].title[lang]


def namespace_catalogue() -> Any:
    return NamespaceCatalogue()


def render(name: str, lang: str = "fr", catalogue: Any = "fake") -> str:
    cat = FakeCatalogue() if catalogue == "fake" else catalogue
    return render_html(load_record(FIXTURES / f"{name}.json"), cat, lang=lang)


ALL = ["audit-drift", "apply", "audit-compliant", "hostile"]


# -- structure -------------------------------------------------------------------------------------
class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "main",
    "footer",
    "section",
    "article",
    "div",
    "p",
    "span",
    "b",
    "code",
    "pre",
    "h1",
    "h2",
    "h3",
    "dl",
    "dt",
    "dd",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "figure",
    "svg",
    "g",
    "rect",
    "text",
    "details",
    "summary",
    "br",
    "a",
}


def parse(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    collector.close()
    return collector


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("lang", LANGS)
def test_only_expected_tags_and_no_external_resources(name: str, lang: str) -> None:
    html = render(name, lang)
    doc = parse(html)
    assert set(doc.tags) <= ALLOWED_TAGS, set(doc.tags) - ALLOWED_TAGS
    assert "script" not in doc.tags and "link" not in doc.tags and "img" not in doc.tags
    for tag, attr, value in doc.attrs:
        assert not attr.startswith("on"), (tag, attr)
        if attr in ("src", "href", "xlink:href", "action", "srcset"):
            assert value is not None and value.startswith("#"), (tag, attr, value)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\s*\(|@import", html, re.I)
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html
    assert f'<html lang="{lang}">' in html


def test_french_by_default() -> None:
    html = render_html(load_record(FIXTURES / "audit-drift.json"), FakeCatalogue())
    assert '<html lang="fr">' in html
    for text in [
        "Rapport d&#39;audit de sécurité",
        "Audit (simulation, aucune modification effectuée)",
        "Synthèse",
        "Résultats par mesure",
        "Matrice hôtes × contrôles",
        "Écarts et erreurs (5)",
        "conforme",
        "écart",
        "non applicable",
        "erreur",
        "injoignable",
        "Verrouillage de la session GNOME",
        "Mesure fr numéro 4",
        "Justification M4-LNX-SSH-IDLE",
        "28/11/2025 09:15:00 UTC",
        "28/11/2025 09:17:42 UTC",
        "2 min 42 s",
        "2.19.14",
        "20251128T091500Z-3fa2c9d1",
    ]:
        assert text in html, text
    assert "English measure" not in html and "Close idle SSH sessions" not in html


def test_english() -> None:
    html = render("audit-drift", "en")
    assert '<html lang="en">' in html
    for text in [
        "Security audit report",
        "Audit (dry run, nothing was changed)",
        "Summary",
        "Results by measure",
        "Drift and errors (5)",
        "compliant",
        "drift",
        "not applicable",
        "error",
        "unreachable",
        "Close idle SSH sessions",
        "English measure 4",
        "Rationale M4-LNX-SSH-IDLE",
        "2025-11-28 09:15:00 UTC",
    ]:
        assert text in html, text
    for french in ["Synthèse", "écart", "conforme", "Mesure fr", "Justification"]:
        assert french not in html, french


def test_unknown_language() -> None:
    with pytest.raises(ValueError, match="unsupported report language 'de'.*fr, en"):
        render("audit-drift", "de")
    with pytest.raises(ValueError, match="unsupported"):
        t("summary", "es")


def test_i18n_tables_match() -> None:
    assert set(STRINGS["fr"]) == set(STRINGS["en"])
    expected = {
        "fr": ["conforme", "écart", "non applicable", "erreur", "injoignable"],
        "en": ["compliant", "drift", "not applicable", "error", "unreachable"],
    }
    statuses = ["compliant", "drift", "not_applicable", "error", "unreachable"]
    for lang, words in expected.items():
        assert [status_label(s, lang) for s in statuses] == words
    assert t("measure_n", "en", n=3) == "Measure 3"


def test_mode_in_words_and_apply_changes() -> None:
    html = render("apply")
    assert "Rapport d&#39;application du socle de sécurité" in html
    assert "Application (modifications effectuées sur les postes)" in html
    assert "Modifications effectuées (5)" in html
    assert html.count('<article class="finding s-compliant"') == 5
    assert "Écarts et erreurs (0)" in html and "Aucun écart ni erreur." in html
    assert "Tous les contrôles évalués sont conformes" in html


def test_eight_measures_in_order_with_catalogue_titles() -> None:
    html = render("audit-drift")
    positions = [html.index(f'id="measure-{n}"') for n in range(1, 9)]
    assert positions == sorted(positions)
    for n in range(1, 9):
        assert f"Mesure fr numéro {n}" in html
    assert html.count('<rect class="track"') == 16  # one bar per measure in each chart (statuses, scores)
    chart = html[html.index('id="score-chart"') : html.index("</figure>", html.index('id="score-chart"'))]
    assert chart.count('<rect class="track"') == 8
    measure4 = html[positions[3] : positions[4]]
    for cid, (fr, _) in TITLES.items():
        assert cid in measure4 and fr in measure4
    assert "Aucun contrôle de cette mesure" in html[positions[0] : positions[1]]


def test_measure_titles_fall_back_without_catalogue() -> None:
    html = render("audit-drift", catalogue=None)
    assert "Mesure 1" in html and "Mesure 8" in html
    assert "M4-LNX-SSH-IDLE" in html and "Contrôle absent du catalogue" in html


@pytest.mark.parametrize("catalogue", [FakeCatalogue(), namespace_catalogue()], ids=["mapping", "attributes"])
def test_catalogue_entries_as_mappings_or_objects(catalogue: Any) -> None:
    html = render("audit-drift", "en", catalogue)
    assert "Close idle SSH sessions" in html and "Rationale M4-LNX-GNOME-LOCK" in html
    assert "ANSSI" in html and "R32" in html


FINDING_RE = re.compile(r'<article class="finding s-(?P<status>[a-z_]+)".*?</article>', re.S)


def article_hosts(article: str) -> list[str]:
    """Host names (escaped, as in the page) a finding article lists: one host, or the host list."""
    hosts = article[article.index('<div class="finding-hosts">') : article.index("</header>")]
    return re.findall(r'<span class="one-host"><b>(.*?)</b>', hosts) + re.findall(r"<li>(.*?)</li>", hosts)


def findings_of(html: str, status: str = "drift") -> list[str]:
    return [m.group(0) for m in FINDING_RE.finditer(html) if m.group("status") == status]


def test_every_drift_appears_with_its_diff() -> None:
    rec = load_record(FIXTURES / "audit-drift.json")
    html = render_html(rec, FakeCatalogue())
    articles = findings_of(html)
    assert len(articles) == len(rec.drift_pairs()) == 5  # five different results: five findings
    for host_name, cid in rec.drift_pairs():
        control = rec.hosts[host_name].controls[cid]
        matching = [a for a in articles if f"<code>{cid}</code>" in a and str(escape(host_name)) in article_hosts(a)]
        assert len(matching) == 1, (host_name, cid)
        article = matching[0]
        assert f"<b>{escape(host_name)}</b>" in article  # a single host: named with its facility
        assert "EHPAD Les Tilleuls" in article
        assert '<pre class="diff">' in article
        assert control.diff
        for line in control.diff.rstrip("\n").split("\n"):
            assert str(escape(line)) in article, line
        assert str(escape(control.expected)) in article and str(escape(control.actual)) in article
        assert f"Justification {cid}" in article


def matrix_of(html: str) -> str:
    return html[html.index('id="matrix"') : html.index('id="findings"')]


def test_matrix_has_a_cell_per_host_and_control() -> None:
    rec = load_record(FIXTURES / "audit-drift.json")
    html = render_html(rec, FakeCatalogue())
    matrix = matrix_of(html)
    assert "Matrice hôtes × contrôles" in matrix
    cells = re.findall(r'<td class="([a-z])">(.)</td>', matrix)
    assert len(cells) == 9  # 3 hosts x 3 controls, one short class and one symbol each
    assert cells.count(("d", "≠")) == 5
    assert cells.count(("n", "–")) == 1
    assert cells.count(("c", "✓")) == 3
    assert "title=" not in matrix.split("<tbody>")[1]  # no repeated per-cell text, the legend is once
    assert matrix.count('<ul class="legend">') == 1
    rows = re.findall(r'<tr><td class="host">(.*?)</td>((?:<td class="[a-z]">.</td>)+)</tr>', matrix)
    for (name, row), host in zip(rows, rec.hosts.values(), strict=True):
        assert name == str(escape(host.name))
        expected = [
            "cdnexu"["compliant drift not_applicable error unreachable".split().index(host.controls[cid].status)]
            for cid in rec.control_ids()
        ]
        assert re.findall(r'class="([a-z])"', row) == expected


def test_no_control_and_na_only_runs() -> None:
    html = render("audit-compliant")
    assert "Tous les contrôles évalués sont conformes ou non applicables." in html
    assert "Écarts et erreurs (0)" in html


# -- hostile strings -------------------------------------------------------------------------------
def hostile_strings() -> list[str]:
    """Free-text values of hostile.json the report shows (details of drift, error and unreachable)."""
    data = json.loads((FIXTURES / "hostile.json").read_text(encoding="utf-8"))
    run = data["run"]
    out = [run["ansible_version"], run["socle_version"], *run["playbooks"], *run["errors"]]
    for name, h in data["hosts"].items():
        out += [name, h["facility"], h["platform"], h["message"]]
        for c in h["controls"].values():
            out.append(c["message"])  # shown for every control the report details, and for not applicable
            if c["status"] in ("drift", "error", "unreachable"):
                out += [c["expected"], c["actual"]]
                out += (c["diff"] or "").split("\n")
                for task in c["tasks"]:
                    out += [task["name"], task["msg"]]
    return [s for s in out if s]


@pytest.mark.parametrize("lang", LANGS)
def test_hostile_strings_are_escaped(lang: str) -> None:
    html = render("hostile", lang)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    for raw in [
        "<svg onload",
        "<iframe",
        "<img",
        "<b>bold",
        "<b>dev",
        "<i>skipped",
        "<!--",
        "<![CDATA",
        "</pre><",
        "</title><script>",
    ]:
        assert raw not in html, raw
    for value in hostile_strings():
        for line in value.split("\n"):
            assert str(escape(clean_html_text(line))) in html, line
    assert "&lt;script&gt;alert(&#34;host&#34;)&lt;/script&gt;.lan" in html
    assert "unreach&#39;able&#34;&amp;&lt;host&gt;" in html


def test_hostile_control_characters_and_bidi() -> None:
    html = render("hostile")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]", html)
    assert "\u202e" not in html and "[U+202E]" in html
    assert "\u00e9\u00e0\u00fc \u4e2d\u6587" in html  # ordinary unicode kept
    html.encode("utf-8")  # no lone surrogate left


def test_hostile_unknown_control_and_problem_hosts() -> None:
    html = render("hostile")
    assert "M4-LNX-UNKNOWN-CTRL" in html and "Contrôle absent du catalogue" in html
    assert 'id="problem-hosts"' in html and 'id="run-errors"' in html
    assert "Des erreurs ou des hôtes injoignables" in html
    assert "28/11/2025 10:00:00 UTC+01:00" in html


def test_unfinished_run(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "audit-compliant.json").read_text(encoding="utf-8"))
    data["run"]["finished"] = None
    (tmp_path / "run.json").write_text(json.dumps(data), encoding="utf-8")
    html = render_html(load_record(tmp_path / "run.json"), FakeCatalogue())
    assert "non terminée" in html and "ne s&#39;est pas terminée" in html


# -- writing and CLI -------------------------------------------------------------------------------
def test_write_reports(tmp_path: Path) -> None:
    paths = write_reports(FIXTURES / "audit-drift.json", tmp_path / "out", lang="en", catalogue=FakeCatalogue())
    assert set(paths) == {"html", "junit", "csv"}
    assert paths["html"] == tmp_path / "out" / "report.html" and paths["junit"] == tmp_path / "out" / "junit.xml"
    assert '<html lang="en">' in paths["html"].read_text(encoding="utf-8")
    assert paths["junit"].read_text(encoding="utf-8").startswith("<?xml")


def test_write_reports_hostile_is_valid_utf8(tmp_path: Path) -> None:
    paths = write_reports(FIXTURES / "hostile.json", tmp_path, catalogue=FakeCatalogue())
    paths["html"].read_bytes().decode("utf-8")
    paths["junit"].read_bytes().decode("utf-8")


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("socle.report._load_catalogue", lambda path=None: FakeCatalogue())
    assert main([str(FIXTURES / "audit-drift.json"), "--out", str(tmp_path), "--lang", "en"]) == 0
    assert (tmp_path / "report.html").exists() and (tmp_path / "junit.xml").exists()
    assert str(tmp_path / "report.html") in capsys.readouterr().out
    assert main([str(FIXTURES / "audit-drift.json"), "--out", str(tmp_path), "--status-exit"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    assert main([str(bad), "--out", str(tmp_path)]) == 3
    assert "'schema_version' is a required property" in capsys.readouterr().err


# -- grouping and large runs -----------------------------------------------------------------------
SSH_DIFF = (
    "--- before: /etc/ssh/sshd_config\n+++ after: /etc/ssh/sshd_config\n"
    "@@ -1 +1 @@\n-ClientAliveInterval 0\n+ClientAliveInterval 300\n"
)


def result(
    status: str = "compliant", diff: str | None = None, message: str | None = None, cid: str = "M4-LNX-SSH-IDLE"
) -> dict[str, Any]:
    drift = status == "drift"
    return {
        "status": status,
        "changed": drift,
        "expected": "ClientAliveInterval 300" if drift else None,
        "actual": "ClientAliveInterval 0" if drift else None,
        "diff": diff if drift else None,
        "message": message,
        "tasks": [{"name": f"{cid} | task", "result": "changed" if drift else "ok", "msg": None}],
    }


def synthetic(hosts: dict[str, dict[str, dict[str, Any]]]) -> Any:
    data = {
        "schema_version": 1,
        "run": {
            "id": "20251128T091500Z-3fa2c9d1",
            "mode": "audit",
            "started": "2025-11-28T09:15:00Z",
            "finished": "2025-11-28T09:17:42Z",
            "ansible_version": "2.19.14",
            "socle_version": "0.1.0",
            "playbooks": ["audit.yml"],
            "errors": [],
        },
        "hosts": {
            name: {
                "status": "ok",
                "message": None,
                "facility": "EHPAD Test",
                "platform": "Debian 12",
                "controls": controls,
            }
            for name, controls in hosts.items()
        },
    }
    return parse_record(data, "synthetic")


def test_same_drift_on_two_hosts_is_one_finding_listing_both() -> None:
    rec = synthetic(
        {
            "pc-a.lan": {"M4-LNX-SSH-IDLE": result("drift", SSH_DIFF)},
            "pc-b.lan": {"M4-LNX-SSH-IDLE": result("drift", SSH_DIFF)},
            "pc-c.lan": {"M4-LNX-SSH-IDLE": result()},
        }
    )
    html = render_html(rec, FakeCatalogue())
    [article] = findings_of(html)
    assert article_hosts(article) == ["pc-a.lan", "pc-b.lan"]
    assert "2 hôtes" in article and article.count('<pre class="diff">') == 1
    assert "Écarts et erreurs (2)" in html  # still counted per (host, control) result
    assert "2 résultats identiques regroupés en un seul constat" in html


def test_different_diffs_make_different_findings() -> None:
    other = SSH_DIFF.replace("300", "600")
    rec = synthetic(
        {
            "pc-a.lan": {"M4-LNX-SSH-IDLE": result("drift", SSH_DIFF)},
            "pc-b.lan": {"M4-LNX-SSH-IDLE": result("drift", other)},
            "pc-c.lan": {"M4-LNX-SSH-IDLE": result("drift", SSH_DIFF)},
        }
    )
    html = render_html(rec, FakeCatalogue(), lang="en")
    articles = findings_of(html)
    assert [article_hosts(a) for a in articles] == [["pc-a.lan", "pc-c.lan"], ["pc-b.lan"]]
    assert "+ClientAliveInterval 600" in articles[1] and "+ClientAliveInterval 600" not in articles[0]
    assert "3 results grouped into 2 findings" in html
    assert "grouped" not in render("audit-drift", "en")  # nothing to group: no word about it


def test_any_differing_detail_splits_a_group() -> None:
    base = result("drift", SSH_DIFF)
    variants = {
        "same.lan": dict(base),
        "message.lan": {**base, "message": "other"},
        "actual.lan": {**base, "actual": "ClientAliveInterval 5"},
        "task.lan": {**base, "tasks": [{"name": "M4-LNX-SSH-IDLE | task", "result": "changed", "msg": "x"}]},
        "same2.lan": dict(base),
    }
    rec = synthetic({name: {"M4-LNX-SSH-IDLE": c} for name, c in variants.items()})
    groups = [article_hosts(a) for a in findings_of(render_html(rec, FakeCatalogue()))]
    assert groups == [["same.lan", "same2.lan"], ["message.lan"], ["actual.lan"], ["task.lan"]]


def test_not_applicable_grouped_by_reason() -> None:
    na = "M4-LNX-GNOME-LOCK"
    rec = synthetic(
        {
            f"srv-{i}.lan": {na: result("not_applicable", message="no GNOME" if i < 3 else "headless", cid=na)}
            for i in range(4)
        }
    )
    html = render_html(rec, FakeCatalogue())
    section = html[html.index('id="not-applicable"') :]
    rows = re.findall(r"<tr>.*?</tr>", section[section.index("<tbody>") :], re.S)
    assert len(rows) == 2
    assert "no GNOME" in rows[0] and re.findall(r"<li>(.*?)</li>", rows[0]) == ["srv-0.lan", "srv-1.lan", "srv-2.lan"]
    assert "headless" in rows[1] and re.findall(r"<li>(.*?)</li>", rows[1]) == ["srv-3.lan"]
    assert "Contrôles non applicables (4)" in html


def large_record(hosts: int, controls: int = 40) -> Any:
    """``hosts`` hosts x ``controls`` controls, statuses cycling as in bench/bench.py."""
    statuses = ["compliant"] * 6 + ["drift", "not_applicable", "error"]
    ids = [f"M{i % 8 + 1}-LNX-SYNTH{i}" for i in range(controls)]
    return synthetic(
        {
            f"pc-{n:04d}.facility.lan": {
                cid: result(statuses[(n + i) % 9], SSH_DIFF, "boom" if statuses[(n + i) % 9] == "error" else None, cid)
                for i, cid in enumerate(ids)
            }
            for n in range(hosts)
        }
    )


def test_large_run_renders_in_bounded_size_and_keeps_every_drift_findable() -> None:
    rec = large_record(300)
    html = render_html(rec, FakeCatalogue())
    assert len(html.encode()) < 300 * 2_500  # bytes per host; the 1-cell-per-result layout took ~25 kB
    # The matrix is summarised per measure, and the page says why.
    matrix = matrix_of(html)
    assert "Matrice hôtes × mesures" in matrix and "au-delà de 200 hôtes" in matrix
    assert "12000 cases" in matrix
    assert matrix.count('<tr><td class="host">') == 300
    # Every drift: its host is named in a finding of its control.
    listed: dict[str, set[tuple[str, str]]] = {"drift": set(), "error": set()}
    for match in FINDING_RE.finditer(html):
        cid = re.search(r"<code>(.*?)</code>", match.group(0)).group(1)
        listed[match.group("status")] |= {(name, cid) for name in article_hosts(match.group(0))}
    assert listed["drift"] == rec.drift_pairs() and len(listed["drift"]) > 1300
    assert listed["error"] == rec.problem_pairs()
    assert len(findings_of(html)) == 40  # one finding per control: the same drift on ~33 hosts each
    assert '<details class="more-hosts">' in html
    assert "Hôtes les plus concernés (10 sur 300)" in html


def test_large_run_grows_linearly() -> None:
    small, large = (len(render_html(large_record(n), FakeCatalogue()).encode()) for n in (250, 500))
    assert (large - small) / 250 < 2_500  # bytes per extra host


def test_matrix_threshold() -> None:
    rec = large_record(3, 3)
    assert "Matrice hôtes × contrôles" in render_html(rec, FakeCatalogue())
    summary = render_html(rec, FakeCatalogue(), matrix_max_hosts=2)
    assert "Matrice hôtes × mesures" in summary and "Matrice hôtes × contrôles" not in summary


@pytest.mark.parametrize("lang", LANGS)
def test_hostile_strings_are_escaped_in_the_large_layout(lang: str) -> None:
    html = render_html(load_record(FIXTURES / "hostile.json"), FakeCatalogue(), lang=lang, matrix_max_hosts=0)
    assert "<script" not in html.lower()
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff\u202a-\u202e\u2066-\u2069]", html)
    for value in hostile_strings():
        for line in value.split("\n"):
            assert str(escape(clean_html_text(line))) in html, line
    doc = parse(html)
    assert set(doc.tags) <= ALLOWED_TAGS
