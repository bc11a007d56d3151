"""Open the HTML report in headless Chromium: the DOM it builds and a screenshot."""

from __future__ import annotations

import html as htmlmod
import json
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from socle.record import load_record
from socle.report import write_reports

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runs"
CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")


@pytest.fixture(autouse=True, scope="module")
def _chromium_present():
    assert CHROMIUM is not None, "chromium is not installed: run `make deps` (apt-get install chromium)"


TITLES = {
    "M4-LNX-GNOME-LOCK": ("Verrouillage de la session graphique GNOME", "Lock GNOME sessions"),
    "M4-LNX-SHELL-TMOUT": ("Déconnexion des shells inactifs (TMOUT)", "Log out idle shells"),
    "M4-LNX-SSH-IDLE": ("Fermeture des sessions SSH inactives", "Close idle SSH sessions"),
}


@dataclass
class FakeCatalogue:
    """Stand-in for socle.catalogue with the three session-lock controls."""

    measures: dict[int, dict[str, str]] = field(
        default_factory=lambda: {n: {"fr": f"Mesure de test {n}", "en": f"Test measure {n}"} for n in range(1, 9)}
    )
    controls: dict[str, Any] = field(
        default_factory=lambda: {
            cid: {
                "id": cid,
                "measure": 4,
                "platform": "linux",
                "kind": "config",
                "title": {"fr": fr, "en": en},
                "rationale": {"fr": "Une session ouverte expose les dossiers des résidents.", "en": "r"},
                "check": {"fr": "Lire la configuration.", "en": "c"},
                "references": {"anssi": ["R32"], "pgssi_s": ["§4"]},
                "implemented": True,
            }
            for cid, (fr, en) in TITLES.items()
        }
    )

    def title(self, control_id: str, lang: str) -> str:
        return self.controls[control_id]["title"][lang]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    paths = write_reports(FIXTURES / "audit-drift.json", tmp_path / "out", catalogue=FakeCatalogue())
    return paths["html"]


def test_dom_has_french_title_and_drift_rows(tmp_path: Path, report: Path) -> None:
    result = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "Rapport d'audit de sécurité" in dom
    assert 'lang="fr"' in dom
    rec = load_record(FIXTURES / "audit-drift.json")
    assert dom.count('class="finding s-drift"') == len(rec.drift_pairs()) == 5
    for host, cid in rec.drift_pairs():
        control = rec.hosts[host].controls[cid]
        assert host in dom and cid in dom and TITLES[cid][0] in dom
        assert control.diff
        for line in control.diff.rstrip("\n").split("\n"):
            assert htmlmod.escape(line, quote=False) in dom, line
    matrix = dom[dom.index('id="matrix"') : dom.index('id="findings"')]
    assert matrix.count('<td class="d">≠</td>') == 5  # one short class per cell, the legend says what it means


def test_screenshot_is_a_non_empty_png(tmp_path: Path, report: Path) -> None:
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 20_000  # a blank page compresses to a few kB


def test_large_report_dom_names_every_host_in_drift(tmp_path: Path) -> None:
    """300 hosts: the summarised matrix, and every host in drift present in the DOM Chromium builds."""
    data = json.loads((FIXTURES / "audit-drift.json").read_text(encoding="utf-8"))
    template = data["hosts"]["soins-pc02.tilleuls.lan"]
    data["hosts"] = {f"pc-{n:03d}.tilleuls.lan": template for n in range(300)}
    (tmp_path / "run.json").write_text(json.dumps(data), encoding="utf-8")
    report = write_reports(tmp_path / "run.json", tmp_path / "out", catalogue=FakeCatalogue())["html"]
    assert report.stat().st_size < 300 * 2_500
    result = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert "Matrice hôtes × mesures" in dom and "au-delà de 200 hôtes" in dom
    drift = re.findall(r'<article class="finding s-drift".*?</article>', dom, re.S)
    assert len(drift) == 2  # the same two drifts on every host: two findings
    for article in drift:
        assert "300 hôtes" in article
        assert all(f"<li>pc-{n:03d}.tilleuls.lan</li>" in article for n in range(300))


# -- console errors, facility reports and the overview -----------------------------------------------
def open_page(tmp_path: Path, url: str) -> tuple[str, list[str]]:
    """The DOM Chromium builds for ``url`` and every message the page wrote to the console.

    A Socle page has no script: any console line (an error, a blocked resource, a CSP report) is a bug.
    """
    result = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def test_console_check_sees_errors(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("boom"); missing();</script></body></html>', encoding="utf-8")
    _dom, console = open_page(tmp_path, page.as_uri())
    assert any("boom" in line for line in console) and any("missing" in line for line in console)


FACILITY_OF = {
    "accueil-pc01.tilleuls.lan": "EHPAD Les Tilleuls",
    "soins-pc02.tilleuls.lan": "Centre de jour L'Oasis",
    "srv-dossiers.tilleuls.lan": 'FAM <Les "Cèdres">',
}


@pytest.fixture
def msp_reports(tmp_path: Path) -> dict[str, Path]:
    data = json.loads((FIXTURES / "audit-drift.json").read_text(encoding="utf-8"))
    for name, facility in FACILITY_OF.items():
        data["hosts"][name]["facility"] = facility
    (tmp_path / "run.json").write_text(json.dumps(data), encoding="utf-8")
    return write_reports(tmp_path / "run.json", tmp_path / "out", catalogue=FakeCatalogue())


def test_overview_and_a_facility_report_open_without_console_errors(tmp_path: Path, msp_reports) -> None:
    dom, console = open_page(tmp_path, msp_reports["overview"].as_uri())
    assert console == []
    assert "Vue d'ensemble des établissements" in dom
    links = re.findall(r'<a href="(facilities/[^"]+)">', dom)
    assert len(links) == 3 and all((msp_reports["overview"].parent / link).is_file() for link in links)
    assert "FAM &lt;Les \"Cèdres\"&gt;" in dom  # escaped: text, not markup
    assert 'id="facility-chart"' in dom and 'id="score-chart"' in dom
    report = msp_reports["facilities"] / "centre-de-jour-l-oasis" / "report.html"
    dom, console = open_page(tmp_path, report.as_uri())
    assert console == []
    assert "soins-pc02.tilleuls.lan" in dom
    assert "accueil-pc01.tilleuls.lan" not in dom and "srv-dossiers.tilleuls.lan" not in dom
    assert 'href="../../overview.html"' in dom and 'id="score-chart"' in dom


@pytest.mark.parametrize("page", ["overview.html", "facilities/fam-les-cedres/report.html"])
def test_overview_and_facility_screenshots(tmp_path: Path, msp_reports, page: str) -> None:
    shot = tmp_path / "shot.png"
    url = (tmp_path / "out" / page).as_uri()
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", url)
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 1600)
    assert len(data) > 20_000


def test_print_layout_has_no_dark_background(tmp_path: Path, msp_reports) -> None:
    """Printed (Chromium's own PDF): the page prints, and the masthead's dark blue is gone in print CSS."""
    pdf = tmp_path / "overview.pdf"
    result = chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", msp_reports["overview"].as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert pdf.read_bytes().startswith(b"%PDF-")
    html = msp_reports["overview"].read_text(encoding="utf-8")
    print_css = html[html.index("@media print") :]
    assert ".masthead { background: #fff;" in print_css and "break-before: page" in print_css
