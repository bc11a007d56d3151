"""An MSP run on the lab: three facilities, one audit, one report per facility and the overview.

Each lab host is put in a facility of its own by a second inventory file (in a temporary folder)
that sets only ``socle_facility`` per host; the lab's inventory keeps every connection setting.
One ``socle audit`` covers them all; the test then checks the files written, that each facility's
report holds only its hosts, and opens the overview and a facility report in headless Chromium.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_report_chromium import CHROMIUM, open_page

from socle import lab
from socle.record import load_record
from socle.report.facilities import facility_slug

pytestmark = pytest.mark.lab

HOSTS = sorted(h.name for h in lab.read_state())
FACILITIES = ["Lab - EHPAD Les Tilleuls", "Lab - Centre de jour L'Oasis", 'Lab - FAM <Les "Cèdres"> & Cie']


def mentions(html: str, name: str) -> bool:
    """``name`` appears in the page as a whole host name (not as part of a longer one)."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", html) is not None


@pytest.fixture(scope="module")
def msp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, dict]:
    assert len(HOSTS) >= 3, "needs a lab of 3 hosts or more: `socle lab up`"
    assert CHROMIUM is not None, "chromium is not installed: run `make deps`"
    tmp = tmp_path_factory.mktemp("msp")
    facility_of = {name: FACILITIES[i % 3] for i, name in enumerate(HOSTS)}
    extra = tmp / "facilities.yml"
    extra.write_text(
        yaml.safe_dump({"all": {"hosts": {name: {"socle_facility": f} for name, f in facility_of.items()}}},
                       allow_unicode=True),
        encoding="utf-8",
    )
    out = tmp / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "socle", "audit", "-q", "-i", str(lab.inventory_path()), "-i", str(extra),
         "--out", str(out)],
        capture_output=True, text=True, timeout=1800, check=False,
    )
    return proc, out, facility_of


def test_one_audit_exits_drift_or_compliant(msp_run) -> None:
    proc, out, facility_of = msp_run
    assert proc.returncode in (0, 2), proc.stdout[-3000:] + proc.stderr[-3000:]
    record = load_record(out / "run.json")
    assert {name: h.facility for name, h in record.hosts.items()} == facility_of


def test_one_report_per_facility_with_only_its_hosts(msp_run) -> None:
    _proc, out, facility_of = msp_run
    assert (out / "report.html").is_file() and (out / "overview.html").is_file()
    folders = {p.name for p in (out / "facilities").iterdir()}
    assert folders == {facility_slug(f) for f in FACILITIES}
    for facility in FACILITIES:
        folder = out / "facilities" / facility_slug(facility)
        assert {p.name for p in folder.iterdir()} >= {"report.html", "junit.xml", "results.csv"}
        html = (folder / "report.html").read_text(encoding="utf-8")
        own = {h for h, f in facility_of.items() if f == facility}
        for name in HOSTS:
            assert mentions(html, name) == (name in own), (facility, name)
        csv = (folder / "results.csv").read_text(encoding="utf-8")
        assert all(mentions(csv, h) == (h in own) for h in HOSTS)


def test_overview_links_every_facility(msp_run) -> None:
    _proc, out, _facility_of = msp_run
    html = (out / "overview.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="(facilities/[^"]+/report\.html)">', html)
    assert sorted(links) == sorted(f"facilities/{facility_slug(f)}/report.html" for f in FACILITIES)
    assert all((out / link).is_file() for link in links)
    assert "Lab - FAM &lt;Les &#34;Cèdres&#34;&gt; &amp; Cie" in html


def test_overview_and_a_facility_report_open_in_chromium(msp_run, tmp_path: Path) -> None:
    _proc, out, _facility_of = msp_run
    dom, console = open_page(tmp_path, (out / "overview.html").as_uri())
    assert console == [] and len(re.findall(r'<a href="facilities/', dom)) == 3
    report = out / "facilities" / facility_slug(FACILITIES[1]) / "report.html"
    dom, console = open_page(tmp_path, report.as_uri())
    assert console == [] and 'href="../../overview.html"' in dom and 'id="score-chart"' in dom
    assert "Lab - Centre de jour L'Oasis" in dom  # the DOM's text, unescaped
