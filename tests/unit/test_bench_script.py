"""The benchmark script's helpers (bench/bench.py): no timing here, only what it computes from its measurements."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("socle_bench", ROOT / "bench" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECAP = """PLAY RECAP *********************************************************************
deb12-1                    : ok=34   changed=2    unreachable=0    failed=1    skipped=12   rescued=0    ignored=0
"""


def test_tasks_per_host_reads_the_recap(bench, tmp_path):
    out = tmp_path / "ansible-output.txt"
    out.write_text("TASK [x] ***\nok: [deb12-1]\n" + RECAP, encoding="utf-8")
    assert bench.tasks_per_host(out) == 34 + 1 + 12  # changed results are counted in ok
    out.write_text("no recap here\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no PLAY RECAP"):
        bench.tasks_per_host(out)


def test_noop_playbook_has_the_number_of_tasks_asked(bench, tmp_path):
    path = bench.noop_playbook(tmp_path, 7)
    listed = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,",
                             "--list-tasks", str(path)], capture_output=True, text=True, check=True).stdout
    assert listed.count("No-op ") == 7


def test_cpu_bound_spreads_the_measured_cpu_over_the_cores(bench, monkeypatch):
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 2)
    r = {"audit_converged_scale_hosts": 20, "audit_converged_scale_s": 20.0, "audit_converged_s": 2.5,
         "audit_converged_scale_controller_cpu_s": 27.0, "audit_converged_scale_hosts_cpu_s": 9.0,
         "audit_tasks_per_host": 46, "noop_46_20_s": 10.5, "noop_46_1_s": 1.5}
    text = " ".join(bench.cpu_bound(r))
    assert "36.0 s of CPU" in text and "90 % of the machine" in text
    assert "at least 18.0 s, 7.20× one converged host" in text
    assert "takes 7.00× as long on 20 hosts" in text
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 8)
    assert "at least 4.5 s, 1.80× one" in " ".join(bench.cpu_bound(r))
    # Without the hosts' CPU (cgroups unreadable) no bound is claimed.
    del r["audit_converged_scale_hosts_cpu_s"]
    assert bench.cpu_bound(r) == []
