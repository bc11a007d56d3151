"""One report per facility, the MSP overview, the score charts and the PDF export."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from markupsafe import escape
from synthetic_runs import control, host, make, run_id, started, write
from test_report_html import ALLOWED_TAGS, FakeCatalogue, parse

from socle.cli import main as socle_main
from socle.record import load_record
from socle.report import main as report_main
from socle.report import write_reports
from socle.report.facilities import (
    NO_FACILITY_SLUG,
    facility_slug,
    render_overview,
    split_by_facility,
    subset_record,
)
from socle.report.html import clean_html_text, render_html

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
SSH = "M4-LNX-SSH-IDLE"
GNOME = "M4-LNX-GNOME-LOCK"
TMOUT = "M4-LNX-SHELL-TMOUT"

HOSTILE_FACILITY = '<script>alert("fac")</script>../../../etc/"><img src=x onerror=alert(1)>'


def three_facilities(extra: dict | None = None) -> dict:
    return {
        "tilleuls-pc1": host({SSH: control("drift"), GNOME: control()}, facility="EHPAD Les Tilleuls"),
        "tilleuls-srv": host({SSH: control(), GNOME: control()}, facility="EHPAD Les Tilleuls"),
        "oasis-srv": host({SSH: control(), TMOUT: control("drift")}, facility="Centre de jour L'Oasis"),
        "cedres-pc": host({SSH: control(), GNOME: control()}, facility="FAM Les Cèdres"),
        **(extra or {}),
    }


# -- slugs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("EHPAD Les Tilleuls", "ehpad-les-tilleuls"),
        ("Centre de jour L'Oasis", "centre-de-jour-l-oasis"),
        ("FAM Les Cèdres", "fam-les-cedres"),
        ("../../etc/passwd", "etc-passwd"),
        ("..", "facility"),
        ("", "facility"),
        ("/", "facility"),
        ("🏥", "facility"),
        ("CON", "con-site"),
        ("nul", "nul-site"),
        ("C:\\Windows\\System32", "c-windows-system32"),
        ("a\x00b\u202ec", "a-bc"),
        (HOSTILE_FACILITY, "script-alert-fac-script-etc-img-src-x-onerror-alert-1"),
    ],
)
def test_slug_is_safe(name: str, slug: str) -> None:
    assert facility_slug(name) == slug
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) and len(slug) <= 60


def test_slug_of_a_long_name_is_cut() -> None:
    slug = facility_slug("Établissement " * 20)
    assert len(slug) <= 60 and not slug.endswith("-") and slug.startswith("etablissement-")


def test_split_sorts_dedupes_and_puts_hosts_without_facility_last() -> None:
    record = make({
        "b": host({SSH: control()}, facility="Les Pins"),
        "a": host({SSH: control()}, facility="les pins"),
        "x": host({SSH: control()}, facility=None),
        "c": host({SSH: control()}, facility="Amandiers"),
    })
    parts = split_by_facility(record)
    assert [(p.name, p.slug, list(p.record.hosts)) for p in parts] == [
        ("Amandiers", "amandiers", ["c"]),
        ("Les Pins", "les-pins", ["b"]),
        ("les pins", "les-pins-2", ["a"]),
        (None, NO_FACILITY_SLUG, ["x"]),
    ]
    assert parts[-1].folder == "facilities/_no-facility"


def test_subset_keeps_only_the_errors_of_its_hosts() -> None:
    data = three_facilities()
    record = make(data)
    record = record.__class__(record.schema_version, record.run.__class__(
        **{**record.run.__dict__, "errors": ("oasis-srv: Gathering Facts: boom", "tilleuls-pc1: t: x", "callback: y")}
    ), record.hosts)
    part = subset_record(record, ["oasis-srv"])
    assert part.run.errors == ("oasis-srv: Gathering Facts: boom", "callback: y")
    assert list(part.hosts) == ["oasis-srv"] and part.run.id == record.run.id


# -- files written ---------------------------------------------------------------------------------
def test_one_report_per_facility_and_an_overview(tmp_path: Path) -> None:
    path = write(tmp_path / "run.json", three_facilities())
    paths = write_reports(path, tmp_path / "out", catalogue=FakeCatalogue())
    out = tmp_path / "out"
    assert paths["overview"] == out / "overview.html" and paths["facilities"] == out / "facilities"
    assert (out / "report.html").exists()  # the whole run, as before
    folders = sorted(p.name for p in (out / "facilities").iterdir())
    assert folders == ["centre-de-jour-l-oasis", "ehpad-les-tilleuls", "fam-les-cedres"]
    hosts_of = {"centre-de-jour-l-oasis": {"oasis-srv"}, "ehpad-les-tilleuls": {"tilleuls-pc1", "tilleuls-srv"},
                "fam-les-cedres": {"cedres-pc"}}
    every = set().union(*hosts_of.values())
    for folder, hosts in hosts_of.items():
        files = {p.name for p in (out / "facilities" / folder).iterdir()}
        assert files == {"report.html", "junit.xml", "results.csv"}
        html = (out / "facilities" / folder / "report.html").read_text(encoding="utf-8")
        for name in hosts:
            assert name in html
        for name in every - hosts:
            assert name not in html, (folder, name)
        csv = (out / "facilities" / folder / "results.csv").read_text(encoding="utf-8")
        assert all(n in csv for n in hosts) and not any(n in csv for n in every - hosts)
        junit = (out / "facilities" / folder / "junit.xml").read_text(encoding="utf-8")
        assert not any(n in junit for n in every - hosts)
        assert '<a href="../../overview.html">' in html
    overview = paths["overview"].read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]+)"', overview)
    assert sorted(hrefs) == sorted(["report.html"] + [f"facilities/{f}/report.html" for f in hosts_of])
    for href in hrefs:
        assert (out / href).is_file()


def test_one_facility_keeps_the_single_report(tmp_path: Path) -> None:
    paths = write_reports(FIXTURES / "audit-drift.json", tmp_path, catalogue=FakeCatalogue())
    assert set(paths) == {"html", "junit", "csv"}
    assert not (tmp_path / "overview.html").exists() and not (tmp_path / "facilities").exists()
    assert "../../overview.html" not in paths["html"].read_text(encoding="utf-8")


def test_overview_rows_scores_and_counts() -> None:
    waiver = {"reason": "r", "accepted_by": "a", "expires": "2099-01-01", "expired": False}
    record = make(three_facilities({
        "pins-pc": host({SSH: control("waived", waiver=waiver)}, facility="Les Pins"),
        "lost": host({}, status="unreachable", facility="Les Pins", message="timeout"),
    }))
    parts = split_by_facility(record)
    html = render_overview(record, parts, FakeCatalogue(), "en")
    rows = re.findall(r'<tr class="facility">(.*?)</tr>', html, re.S)
    assert len(rows) == 4
    names = [re.search(r'<a href="[^"]+">([^<]+)</a>', r).group(1) for r in rows]
    assert names == ["Centre de jour L&#39;Oasis", "EHPAD Les Tilleuls", "FAM Les Cèdres", "Les Pins"]
    tilleuls = rows[1]
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', tilleuls, re.S)
    # hosts, overall score, M1..M8, drift, waived, errors
    assert cells[0] == "2"
    assert cells[1] == "<b>75&#160;%</b>"  # M4: 3 compliant of 4
    assert cells[5] == "75&#160;%" and '<span class="none">' in cells[2]
    assert cells[10:13] == ["1", "0", "0"]
    pins = rows[3]
    assert "1 unreachable or in error" in pins
    assert re.findall(r'<td class="num[^"]*">(.*?)</td>', pins, re.S)[10:13] == ["0", "1", "0"]
    assert 'id="facility-chart"' in html and 'id="score-chart"' in html
    assert html.count('class="score-bar') >= 3  # one bar per facility with a score, and per measure scored
    assert "no previous run" in html


def test_overview_compares_each_facility_with_the_previous_run() -> None:
    before = make(three_facilities(), run_id=run_id(1), started=started(1))
    now_hosts = three_facilities()
    now_hosts["tilleuls-pc1"] = host({SSH: control(), GNOME: control()}, facility="EHPAD Les Tilleuls")
    now_hosts["cedres-pc"] = host({SSH: control("drift"), GNOME: control()}, facility="FAM Les Cèdres")
    now = make(now_hosts, run_id=run_id(2), started=started(2))
    parts = split_by_facility(now, before)
    assert all(p.previous is not None for p in parts)
    assert list(parts[1].previous.hosts) == ["tilleuls-pc1", "tilleuls-srv"]
    html = render_overview(now, parts, FakeCatalogue(), "en")
    rows = re.findall(r'<tr class="facility">(.*?)</tr>', html, re.S)
    assert "Score 75&#160;% → 100&#160;%" in rows[1] and "0 regressed or new, 1 fixed" in rows[1]
    assert "Score 100&#160;% → 50&#160;%" in rows[2] and "1 regressed or new, 0 fixed" in rows[2]


def test_facility_report_compares_with_the_same_facility_only(tmp_path: Path) -> None:
    before = make(three_facilities(), run_id=run_id(1), started=started(1))
    path = write(tmp_path / "run.json", three_facilities(), run_id=run_id(2), started=started(2))
    write_reports(path, tmp_path / "out", catalogue=FakeCatalogue(), previous=before, lang="en")
    html = (tmp_path / "out/facilities/fam-les-cedres/report.html").read_text(encoding="utf-8")
    assert 'id="changes-since"' in html
    assert "tilleuls" not in html and "oasis" not in html  # the other facilities' hosts are not "gone"


# -- charts ----------------------------------------------------------------------------------------
def test_report_has_a_score_chart_per_measure() -> None:
    record = make(three_facilities())
    html = render_html(record, FakeCatalogue(), "en")
    chart = html[html.index('id="score-chart"') : html.index("</figure>", html.index('id="score-chart"'))]
    assert chart.count('<rect class="track"') == 8
    bars = re.findall(r'<rect class="score-bar b-(\w+)"[^>]* width="([\d.]+)"[^>]*fill="(#[0-9a-f]{6})"', chart)
    assert bars == [("mid", "315.0", "#c9a400")]  # M4: 6 compliant of 8 = 75
    assert ">75 %</text>" in chart and chart.count(">—</text>") == 7


# -- escaping --------------------------------------------------------------------------------------
def hostile_hosts() -> dict:
    return {
        '<script>alert("h")</script>': host({SSH: control("drift")}, facility=HOSTILE_FACILITY),
        "bidi\u202eevil": host({SSH: control()}, facility="Foyer \u202e<Les Pins> & \"Cie\""),
        "ok-host": host({SSH: control()}, facility="EHPAD Les Tilleuls"),
    }


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_hostile_facility_and_host_names_are_escaped_everywhere(tmp_path: Path, lang: str) -> None:
    path = write(tmp_path / "run.json", hostile_hosts())
    out = tmp_path / "out"
    write_reports(path, out, catalogue=FakeCatalogue(), lang=lang)
    for page in out.rglob("*.html"):
        assert page.resolve().is_relative_to(out.resolve())
        html = page.read_text(encoding="utf-8")
        doc = parse(html)
        assert set(doc.tags) <= ALLOWED_TAGS, (page, set(doc.tags) - ALLOWED_TAGS)
        for tag, attr, value in doc.attrs:
            assert not attr.startswith("on"), (page, tag, attr)
            if attr == "href":
                assert value.startswith("#") or re.fullmatch(r"(\.\./\.\./)?[a-z0-9_/.-]+\.html", value), value
                assert "//" not in value and not value.startswith("/")
        assert "<script" not in html and "<img" not in html and "\u202e" not in html
    overview = (out / "overview.html").read_text(encoding="utf-8")
    assert str(escape(HOSTILE_FACILITY)) in overview
    assert str(escape(clean_html_text("Foyer \u202e<Les Pins> & \"Cie\""))) in overview
    folders = sorted(p.name for p in (out / "facilities").iterdir())
    assert folders == ["ehpad-les-tilleuls", "foyer-les-pins-cie", facility_slug(HOSTILE_FACILITY)]
    report = (out / "facilities" / folders[2] / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#34;h&#34;)&lt;/script&gt;" in report and "ok-host" not in report


def test_hostile_fixture_splits_with_hosts_without_facility(tmp_path: Path) -> None:
    paths = write_reports(FIXTURES / "hostile.json", tmp_path, catalogue=FakeCatalogue())
    assert (tmp_path / "facilities" / NO_FACILITY_SLUG / "report.html").exists()
    overview = paths["overview"].read_text(encoding="utf-8")
    assert "(sans établissement)" in overview
    assert "EHPAD &#34;L&#39;Étoile&#34; &amp; Cie &lt;b&gt;" in overview
    # the run error about the host without facility stays in its own report, not in the others
    err = "Gathering Facts: &lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;"
    assert err in (tmp_path / "facilities" / NO_FACILITY_SLUG / "report.html").read_text(encoding="utf-8")
    for folder in (tmp_path / "facilities").iterdir():
        if folder.name != NO_FACILITY_SLUG:
            assert err not in (folder / "report.html").read_text(encoding="utf-8")


# -- PDF -------------------------------------------------------------------------------------------
def pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages)
    return re.sub(r"\s+", "", text)  # WeasyPrint spaces out some glyph runs: compare without spaces


def test_pdf_of_each_report(tmp_path: Path) -> None:
    pytest.importorskip("weasyprint")
    path = write(tmp_path / "run.json", three_facilities())
    paths = write_reports(path, tmp_path / "out", catalogue=FakeCatalogue(), pdf=True)
    out = tmp_path / "out"
    assert paths["pdf"] == out / "report.pdf"
    pdfs = sorted(str(p.relative_to(out)) for p in out.rglob("*.pdf"))
    assert pdfs == ["facilities/centre-de-jour-l-oasis/report.pdf", "facilities/ehpad-les-tilleuls/report.pdf",
                    "facilities/fam-les-cedres/report.pdf", "overview.pdf", "report.pdf"]
    for pdf in out.rglob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF-")
    text = pdf_text(out / "facilities/centre-de-jour-l-oasis/report.pdf")
    assert "CentredejourL'Oasis" in text and "M4-LNX-SHELL-TMOUT" in text and "oasis-srv" in text
    assert "tilleuls" not in text
    overview = pdf_text(out / "overview.pdf")
    assert "FAMLesCèdres" in overview and "EHPADLesTilleuls" in overview


def test_report_cli_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("weasyprint")
    monkeypatch.setattr("socle.report._load_catalogue", lambda path=None: FakeCatalogue())
    monkeypatch.setenv("SOCLE_HISTORY", str(tmp_path / "history.sqlite"))
    record = tmp_path / "run.json"
    record.write_text((FIXTURES / "audit-drift.json").read_text(encoding="utf-8"), encoding="utf-8")
    assert socle_main(["report", str(record), "--pdf", "--no-history"]) == 0
    assert f"pdf: {tmp_path / 'report.pdf'}" in capsys.readouterr().out
    text = pdf_text(tmp_path / "report.pdf")
    assert "EHPADLesTilleuls" in text and "M4-LNX-SSH-IDLE" in text
    assert report_main([str(record), "--out", str(tmp_path / "b"), "--pdf"]) == 0
    assert (tmp_path / "b" / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_pdf_unavailable_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from socle.report import pdf as pdfmod

    def missing(html: str) -> bytes:
        raise pdfmod.PdfUnavailable("PDF export needs WeasyPrint")

    monkeypatch.setattr(pdfmod, "html_to_pdf", missing)
    monkeypatch.setattr("socle.report._load_catalogue", lambda path=None: FakeCatalogue())
    assert report_main([str(FIXTURES / "audit-drift.json"), "--out", str(tmp_path), "--pdf"]) == 3
    assert "WeasyPrint" in capsys.readouterr().err
    assert (tmp_path / "report.html").exists()


def test_the_pdf_engine_fetches_nothing() -> None:
    from socle.report.pdf import _no_fetch

    with pytest.raises(ValueError, match="does not fetch"):
        _no_fetch("https://example.org/x.css")


def test_record_round_trip_of_the_overview_fixture(tmp_path: Path) -> None:
    """The synthetic record used above is a valid run record (as the callback writes it)."""
    path = write(tmp_path / "run.json", three_facilities())
    assert json.loads(path.read_text(encoding="utf-8"))["schema_version"] == 1
    assert {h.facility for h in load_record(path).hosts.values()} == {
        "EHPAD Les Tilleuls", "Centre de jour L'Oasis", "FAM Les Cèdres"}


# -- audit / apply on the command line ------------------------------------------------------------------
@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Replace the Ansible run by copying a prepared record to <out>/run.json."""
    from socle import runner

    queue: list[Path] = []

    def run(options, meanwhile=None):
        if meanwhile is not None:
            meanwhile()
        options.out_dir.mkdir(parents=True, exist_ok=True)
        record = options.out_dir / "run.json"
        record.write_bytes(queue.pop(0).read_bytes())
        return record, "successful"

    monkeypatch.setattr(runner, "run", run)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all: {}\n", encoding="utf-8")
    return queue, inventory


def test_audit_writes_the_overview_and_compares_each_facility(fake_run, tmp_path: Path, capsys) -> None:
    queue, inventory = fake_run
    queue.append(write(tmp_path / "r1.json", three_facilities(), run_id=run_id(1), started=started(1)))
    fixed = three_facilities()
    fixed["tilleuls-pc1"] = host({SSH: control(), GNOME: control()}, facility="EHPAD Les Tilleuls")
    queue.append(write(tmp_path / "r2.json", fixed, run_id=run_id(2), started=started(2)))
    common = ["-i", str(inventory), "-q", "--history", str(tmp_path / "h.sqlite"), "--lang", "en"]
    assert socle_main(["audit", "--out", str(tmp_path / "a"), *common]) == 2
    out = capsys.readouterr().out
    assert f"overview: {tmp_path / 'a' / 'overview.html'}" in out
    assert f"facilities: {tmp_path / 'a' / 'facilities'}" in out
    assert socle_main(["audit", "--out", str(tmp_path / "b"), *common]) == 2  # the Oasis still drifts
    overview = (tmp_path / "b" / "overview.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr class="facility">(.*?)</tr>', overview, re.S)
    assert "0 regressed or new, 1 fixed" in rows[1] and "0 regressed or new, 0 fixed" in rows[0]
    tilleuls = (tmp_path / "b" / "facilities" / "ehpad-les-tilleuls" / "report.html").read_text(encoding="utf-8")
    assert 'id="changes-since"' in tilleuls and "oasis-srv" not in tilleuls


def test_audit_pdf_without_weasyprint_warns_and_keeps_the_html(fake_run, tmp_path: Path, monkeypatch,
                                                               capsys) -> None:
    from socle.report import pdf as pdfmod

    def unavailable() -> None:
        raise pdfmod.PdfUnavailable("PDF export needs WeasyPrint and Pango")

    monkeypatch.setattr(pdfmod, "check_pdf", unavailable)
    queue, inventory = fake_run
    queue.append(FIXTURES / "audit-drift.json")
    assert socle_main(["audit", "--out", str(tmp_path / "o"), "-i", str(inventory), "-q", "--no-history",
                       "--pdf"]) == 2
    assert "no PDF written: PDF export needs WeasyPrint" in capsys.readouterr().err
    assert (tmp_path / "o" / "report.html").exists() and not (tmp_path / "o" / "report.pdf").exists()


def test_apply_pdf(fake_run, tmp_path: Path, capsys) -> None:
    pytest.importorskip("weasyprint")
    queue, inventory = fake_run
    queue.append(FIXTURES / "apply.json")
    assert socle_main(["apply", "--out", str(tmp_path / "o"), "-i", str(inventory), "-q", "--no-history",
                       "--pdf"]) == 0
    assert f"pdf: {tmp_path / 'o' / 'report.pdf'}" in capsys.readouterr().out
    assert (tmp_path / "o" / "report.pdf").read_bytes().startswith(b"%PDF-")
