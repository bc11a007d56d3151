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

from socle.record import load_record
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
    assert html.count('<rect class="track"') == 8  # one bar per measure in the chart
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


def test_every_drift_appears_with_its_diff() -> None:
    rec = load_record(FIXTURES / "audit-drift.json")
    html = render_html(rec, FakeCatalogue())
    articles = re.findall(r'<article class="finding s-drift".*?</article>', html, re.S)
    assert len(articles) == len(rec.drift_pairs()) == 5
    for host_name, cid in rec.drift_pairs():
        control = rec.hosts[host_name].controls[cid]
        matching = [a for a in articles if f"<code>{cid}</code>" in a and f"<b>{escape(host_name)}</b>" in a]
        assert len(matching) == 1, (host_name, cid)
        article = matching[0]
        assert '<pre class="diff">' in article
        assert control.diff
        for line in control.diff.rstrip("\n").split("\n"):
            assert str(escape(line)) in article, line
        assert str(escape(control.expected)) in article and str(escape(control.actual)) in article
        assert f"Justification {cid}" in article


def test_matrix_has_a_cell_per_host_and_control() -> None:
    rec = load_record(FIXTURES / "audit-drift.json")
    html = render_html(rec, FakeCatalogue())
    matrix = html[html.index('id="matrix"') : html.index('id="findings"')]
    assert matrix.count('<td class="cell s-') == 9
    assert matrix.count('<td class="cell s-drift"') == 5
    assert matrix.count('<td class="cell s-not_applicable"') == 1


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
    paths = write_reports(
        FIXTURES / "audit-drift.json", tmp_path / "out", lang="en", catalogue=FakeCatalogue()
    )
    assert set(paths) == {"html", "junit"}
    assert (
        paths["html"] == tmp_path / "out" / "report.html" and paths["junit"] == tmp_path / "out" / "junit.xml"
    )
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
