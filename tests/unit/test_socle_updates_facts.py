"""socle_updates_facts and module_utils/socle_updates: findings of measure 1, RHEL decisions."""

from __future__ import annotations

import gzip
import os
import sys
import time
from datetime import datetime, timedelta
from unittest import mock

import pytest
from ansible.module_utils import socle_updates as su
from conftest import load_project_module

facts = load_project_module("library", "socle_updates_facts")
apt_host = sys.modules["ansible.module_utils.socle_updates_host"]  # what the module runs
reuse = sys.modules["ansible.module_utils.socle_reuse"]
dnf_module = load_project_module("library", "socle_dnf_automatic")

# Recorded from `apt-get -s upgrade` on Debian 12 (bookworm) and Debian 13 (trixie).
SIMULATION = """\
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  libssl3 openssl tzdata
3 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable, Debian:stable-updates [all])
Inst libc6 (2.41-12 Debian:13.1/stable [amd64])
Conf libssl3 (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
Conf openssl (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
"""
NONE_PENDING = "Reading package lists...\nCalculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove.\n"

OK_LOG = """\
2026-11-20 06:12:01,101 INFO Starting unattended upgrades script
2026-11-20 06:12:01,102 INFO Allowed origins are: origin=Debian,codename=bookworm-security
2026-11-20 06:12:04,400 INFO No packages found that can be upgraded unattended and no pending auto-removals
2026-11-21 06:30:11,001 INFO Starting unattended upgrades script
2026-11-21 06:30:12,001 INFO Packages that will be upgraded: openssl libssl3
2026-11-21 06:31:02,551 INFO All upgrades installed
2026-11-22 06:10:00,000 INFO Starting unattended upgrades script
2026-11-22 06:10:05,000 ERROR Installing the upgrades failed!
"""


def test_pending_security_counts_security_origins_only():
    assert su.pending_security(SIMULATION) == ["libssl3 3.0.15-1~deb12u1", "openssl 3.0.15-1~deb12u1"]
    assert su.pending_security(NONE_PENDING) == []
    names = [p["name"] for p in su.pending_upgrades(SIMULATION)]
    assert names == ["libssl3", "openssl", "tzdata", "libc6"]


@pytest.mark.parametrize(("packages", "limit", "status"), [
    ([], 0, "compliant"), (["a 1"], 0, "drift"), (["a 1"], 1, "compliant"), (["a 1", "b 2"], 1, "drift"),
])
def test_decide_pending(packages, limit, status):
    assert su.decide_pending(packages, limit)["status"] == status


def test_last_successful_run_skips_failed_runs():
    assert su.last_successful_run(OK_LOG) == datetime(2026, 11, 21, 6, 31, 2)
    assert su.last_successful_run("") is None
    assert su.last_successful_run("2026-11-22 06:10:05,000 ERROR Installing the upgrades failed!\n") is None
    assert su.last_successful_run("garbage\nnot a log line\n") is None


@pytest.mark.parametrize(("last", "age_limit", "status", "words"), [
    (None, 48, "drift", "no successful"),
    (datetime(2026, 11, 28, 6, 0), 48, "compliant", "6 h ago"),
    (datetime(2026, 11, 25, 6, 0), 48, "drift", "78 h ago"),
    (datetime(2026, 11, 29, 12, 0), 48, "drift", "future"),
])
def test_decide_last_run(last, age_limit, status, words):
    found = su.decide_last_run(last, datetime(2026, 11, 28, 12, 0), age_limit)
    assert found["status"] == status and words in found["actual"]


@pytest.mark.parametrize(("held", "allowed", "status"), [
    ([], [], "compliant"), (["linux-image-amd64"], [], "drift"),
    (["linux-image-amd64"], ["linux-image-amd64"], "compliant"), (["a", "b"], ["a"], "drift"),
])
def test_decide_holds(held, allowed, status):
    assert su.decide_holds(held, allowed)["status"] == status


@pytest.mark.parametrize(("present", "age", "status"), [
    (False, None, "compliant"), (True, 2.0, "compliant"), (True, 200.0, "drift"),
])
def test_decide_reboot(present, age, status):
    assert su.decide_reboot(present, age, 168, ["linux-image-6.1.0-28-amd64"])["status"] == status


# -- the module: every finding in one call ---------------------------------------------------------
IDS = {"M1-LNX-PENDING-SECURITY", "M1-LNX-LAST-RUN", "M1-LNX-HELD-PACKAGES", "M1-LNX-REBOOT-REQUIRED"}


def run_with(run_module, args, outputs, check_mode=False):
    """Run the module with run_command answering from `outputs` (apt-get -s upgrade, apt-mark showhold)."""
    calls = []

    def fake_run(self, cmd, **_kw):
        calls.append(cmd)
        return outputs[cmd[0]]

    with mock.patch("ansible.module_utils.basic.AnsibleModule.run_command", fake_run):
        return run_module(facts, args, check_mode=check_mode), calls


def fresh(tmp_path, simulation=SIMULATION, held="") -> tuple[dict, dict]:
    args = {"log_dir": str(tmp_path / "log"), "reboot_flag": str(tmp_path / "reboot-required")}
    return args, {"apt-get": (0, simulation, ""), "apt-mark": (0, held, "")}


@pytest.mark.parametrize("check_mode", [True, False])
def test_module_measures_everything_in_one_call(run_module, tmp_path, check_mode):
    args, outputs = fresh(tmp_path)
    result, calls = run_with(run_module, args, outputs, check_mode)
    assert result["changed"] is False and set(result["socle_findings"]) == IDS
    assert [c[0] for c in calls] == ["apt-get", "apt-mark"]
    assert calls[0][:2] == ["apt-get", "-s"]
    status = {cid: f["status"] for cid, f in result["socle_findings"].items()}
    assert status == {"M1-LNX-PENDING-SECURITY": "drift", "M1-LNX-LAST-RUN": "drift",
                      "M1-LNX-HELD-PACKAGES": "compliant", "M1-LNX-REBOOT-REQUIRED": "compliant"}
    assert result["pending"] == ["libssl3 3.0.15-1~deb12u1", "openssl 3.0.15-1~deb12u1"]
    # idempotency: a second call measures the same and still changes nothing
    again, _ = run_with(run_module, args, outputs, check_mode)
    assert again == result


def test_module_thresholds(run_module, tmp_path):
    args, outputs = fresh(tmp_path, held="openssl\nzlib1g\n")
    result, _ = run_with(run_module, {**args, "max_pending_security": 2, "allowed_holds": ["zlib1g"]}, outputs)
    assert result["socle_findings"]["M1-LNX-PENDING-SECURITY"]["status"] == "compliant"
    assert result["socle_findings"]["M1-LNX-HELD-PACKAGES"]["status"] == "drift"
    assert result["held"] == ["openssl", "zlib1g"]
    result, _ = run_with(run_module, {**args, "allowed_holds": ["zlib1g", "openssl"]}, outputs)
    assert result["socle_findings"]["M1-LNX-HELD-PACKAGES"]["status"] == "compliant"


def test_module_failed_simulation_is_an_error_of_that_control_only(run_module, tmp_path):
    args, outputs = fresh(tmp_path)
    outputs["apt-get"] = (100, "", "E: The package lists or status file could not be parsed")
    result, _ = run_with(run_module, args, outputs)
    assert result["socle_findings"]["M1-LNX-PENDING-SECURITY"]["status"] == "error"
    assert "could not be parsed" in result["socle_findings"]["M1-LNX-PENDING-SECURITY"]["actual"]
    assert result["socle_findings"]["M1-LNX-HELD-PACKAGES"]["status"] == "compliant"


def test_module_last_run_from_logs(run_module, tmp_path):
    args, outputs = fresh(tmp_path)
    logs = tmp_path / "log"
    logs.mkdir()
    recent = datetime.now() - timedelta(hours=3)
    old = datetime.now() - timedelta(days=10)
    with gzip.open(logs / "unattended-upgrades.log.1.gz", "wt") as handle:
        handle.write(f"{old:%Y-%m-%d %H:%M:%S},000 INFO Starting unattended upgrades script\n"
                     f"{old:%Y-%m-%d %H:%M:%S},500 INFO All upgrades installed\n")
    result, _ = run_with(run_module, args, outputs)
    last = result["socle_findings"]["M1-LNX-LAST-RUN"]
    assert last["status"] == "drift" and "240 h ago" in last["actual"]
    (logs / "unattended-upgrades.log").write_text(
        f"{recent:%Y-%m-%d %H:%M:%S},000 INFO Starting unattended upgrades script\n"
        f"{recent:%Y-%m-%d %H:%M:%S},100 INFO No packages found that can be upgraded unattended and no pending"
        " auto-removals\n")
    result, _ = run_with(run_module, args, outputs)
    assert result["socle_findings"]["M1-LNX-LAST-RUN"]["status"] == "compliant"
    assert result["last_run"].startswith(f"{recent:%Y-%m-%dT%H:%M}")


def test_module_never_ran(run_module, tmp_path):
    args, outputs = fresh(tmp_path)
    result, _ = run_with(run_module, args, outputs)
    assert result["socle_findings"]["M1-LNX-LAST-RUN"] == {
        "status": "drift", "expected": "a successful unattended-upgrades run less than 48 h ago",
        "actual": "no successful unattended-upgrades run recorded"}


def test_module_reboot_required(run_module, tmp_path):
    args, outputs = fresh(tmp_path)
    flag = tmp_path / "reboot-required"
    flag.write_text("*** System restart required ***\n")
    (tmp_path / "reboot-required.pkgs").write_text("linux-image-6.1.0-28-amd64\n")
    result, _ = run_with(run_module, args, outputs)
    assert result["socle_findings"]["M1-LNX-REBOOT-REQUIRED"]["status"] == "compliant"
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(flag, (week_ago, week_ago))
    result, _ = run_with(run_module, args, outputs)
    reboot = result["socle_findings"]["M1-LNX-REBOOT-REQUIRED"]
    assert reboot["status"] == "drift" and "linux-image-6.1.0-28-amd64" in reboot["actual"]


@pytest.mark.parametrize(("args", "words"), [
    ({"max_run_age_h": -1}, "max_run_age_h"),
    ({"max_pending_security": -2}, "max_pending_security"),
    ({"max_run_age_h": "deux jours"}, "max_run_age_h"),
    ({"finding": "last_run"}, "finding"),
])
def test_module_bad_arguments(run_module, tmp_path, args, words):
    result, _ = run_with(run_module, args, {"apt-get": (0, "", ""), "apt-mark": (0, "", "")})
    assert result["failed"] and words in result["msg"]


# -- RHEL family: dnf-automatic (decision code, not run live) -------------------------------------
DNF4_CONF = """\
[commands]
#  What kind of upgrade to perform:
# default                            = all available upgrades
# security                           = only the security upgrades
upgrade_type = default
random_sleep = 0
network_online_timeout = 60
download_updates = yes
apply_updates = no

[emitters]
emit_via = stdio

[email]
email_from = root@example.com
"""


def test_dnf4_settings_and_merge_keep_comments():
    settings = su.dnf_automatic_settings("dnf", "security", "window")
    assert "reboot" not in settings["commands"]
    merged = su.merge_ini(DNF4_CONF, settings)
    values = su.effective_ini(merged)
    assert values["commands"]["upgrade_type"] == "security"
    assert values["commands"]["apply_updates"] == "yes"
    assert values["commands"]["random_sleep"] == "0"
    assert values["emitters"]["emit_via"] == "motd"
    assert values["email"]["email_from"] == "root@example.com"
    assert "# security                           = only the security upgrades" in merged
    assert su.dnf_drift(merged, settings) == []
    assert su.merge_ini(merged, settings) == merged


def test_dnf5_creates_the_override_with_reboot():
    settings = su.dnf_automatic_settings("dnf5", "all", "window")
    merged = su.merge_ini("", settings)
    assert su.effective_ini(merged) == {
        "commands": {"upgrade_type": "default", "download_updates": "yes", "apply_updates": "yes",
                     "reboot": "when-needed"},
        "emitters": {"emit_via": "motd"}}
    assert su.dnf_automatic_settings("dnf5", "security", "never")["commands"]["reboot"] == "never"
    with pytest.raises(ValueError):
        su.dnf_automatic_settings("yum", "security", "never")


def test_dnf_drift_lists_each_setting():
    drift = su.dnf_drift(DNF4_CONF, su.dnf_automatic_settings("dnf", "security", "never"))
    assert drift == ["commands.upgrade_type: default -> security", "commands.apply_updates: no -> yes",
                     "emitters.emit_via: stdio -> motd"]


def test_dnf_check_update_security():
    out = ("\nopenssl-libs.x86_64                 1:3.0.7-27.el9         baseos\n"
           "kernel.x86_64                       5.14.0-427.el9         baseos\n")
    assert su.dnf_security_pending(100, out) == ["kernel 5.14.0-427.el9", "openssl-libs 1:3.0.7-27.el9"]
    assert su.dnf_security_pending(0, "") == []
    assert su.dnf_security_pending(1, "Error: Failed to download metadata") is None


@pytest.mark.parametrize("check_mode", [True, False])
def test_dnf_module_writes_once(run_module, tmp_path, check_mode):
    conf = tmp_path / "automatic.conf"
    conf.write_text(DNF4_CONF)
    args = {"flavour": "dnf", "scope": "security", "path": str(conf)}
    result = run_module(dnf_module, args, check_mode=check_mode)
    assert result["changed"] is True and "commands.upgrade_type: default -> security" in result["drift"]
    assert "upgrade_type = security" in result["diff"]["after"]
    assert (conf.read_text() == DNF4_CONF) is check_mode
    if not check_mode:
        again = run_module(dnf_module, args)
        assert again["changed"] is False and again["drift"] == []


def test_dnf_module_refuses_a_missing_dnf4_file(run_module, tmp_path):
    result = run_module(dnf_module, {"flavour": "dnf", "path": str(tmp_path / "none.conf")})
    assert result["failed"] and "install dnf-automatic" in result["msg"]
    created = run_module(dnf_module, {"flavour": "dnf5", "path": str(tmp_path / "new.conf")})
    assert created["changed"] is True and "reboot = never" in (tmp_path / "new.conf").read_text()


# -- the effective apt configuration: what apt reads once every file is read -----------------------
DUMP = r"""APT "";
APT::Periodic "";
APT::Periodic::Update-Package-Lists "1";
DPkg "";
DPkg::Options "";
DPkg::Options:: "--force-confdef";
DPkg::Options:: "--force-confold";
Unattended-Upgrade "";
Unattended-Upgrade::Origins-Pattern "";
Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename},label=Debian-Security";
Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
Unattended-Upgrade::Package-Blacklist "";
Unattended-Upgrade::Automatic-Reboot "false";
Unattended-Upgrade::Automatic-Reboot-Time "03:00";
Acquire::http::User-Agent "a \"quoted\" value";
"""
WANT = {
    "Unattended-Upgrade::Origins-Pattern": ["origin=Debian,codename=${distro_codename},label=Debian-Security",
                                            "origin=Debian,codename=${distro_codename}-security,label=Debian-Security"],
    "Unattended-Upgrade::Package-Blacklist": [],
    "Dpkg::Options": ["--force-confdef", "--force-confold"],
    "Unattended-Upgrade::Automatic-Reboot": "false",
    "Unattended-Upgrade::Automatic-Reboot-Time": "03:00",
}


def test_apt_config_dump_is_parsed_with_lists_in_order_and_keys_case_insensitive():
    values = su.parse_apt_config_dump(DUMP)
    assert values["dpkg::options"] == ["--force-confdef", "--force-confold"]
    assert values["unattended-upgrade::package-blacklist"] == []
    assert values["unattended-upgrade::automatic-reboot-time"] == "03:00"
    assert values["acquire::http::user-agent"] == 'a \\"quoted\\" value'
    assert su.apt_config_overrides(DUMP, WANT) == {}


def test_a_later_file_adding_an_origin_or_changing_the_reboot_is_an_override():
    later = DUMP.replace('Unattended-Upgrade::Package-Blacklist "";',
                         'Unattended-Upgrade::Origins-Pattern:: "origin=*";\nUnattended-Upgrade::Package-Blacklist "";')
    later = later.replace('Automatic-Reboot "false"', 'Automatic-Reboot "true"')
    overrides = su.apt_config_overrides(later, WANT)
    assert set(overrides) == {"Unattended-Upgrade::Origins-Pattern", "Unattended-Upgrade::Automatic-Reboot"}
    assert overrides["Unattended-Upgrade::Origins-Pattern"]["effective"][-1] == "origin=*"
    assert overrides["Unattended-Upgrade::Automatic-Reboot"] == {"expected": "false", "effective": "true"}
    # A key apt does not have at all is an override too (its file was removed or never read).
    missing = su.apt_config_overrides(DUMP.replace('Unattended-Upgrade::Automatic-Reboot-Time "03:00";\n', ""), WANT)
    assert missing == {"Unattended-Upgrade::Automatic-Reboot-Time": {"expected": "03:00", "effective": None}}
    blacklisted = su.apt_config_overrides(DUMP, {**WANT, "Unattended-Upgrade::Package-Blacklist": ["linux-"]})
    assert blacklisted["Unattended-Upgrade::Package-Blacklist"] == {"expected": ["linux-"], "effective": []}


# -- the simulation is reused while its inputs are unchanged -------------------------------------------
@pytest.fixture
def apt_inputs(tmp_path, monkeypatch):
    """A host's simulation inputs under tmp_path: dpkg status, two package lists, /etc/apt."""
    root = tmp_path / "host"
    (root / "lists" / "partial").mkdir(parents=True)
    (root / "etc" / "apt.conf.d").mkdir(parents=True)
    (root / "status").write_text("Package: openssl\nStatus: install ok installed\n")
    (root / "lists" / "security_Packages").write_text("Package: openssl\n")
    (root / "lists" / "lock").write_text("")
    (root / "etc" / "sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
    monkeypatch.setattr(apt_host, "SIMULATION_INPUTS", tuple(str(root / n) for n in ("status", "lists", "etc")))
    monkeypatch.setattr(apt_host.simulation_key, "__defaults__", (apt_host.SIMULATION_INPUTS,))
    return root


def test_simulation_key_follows_every_input_but_locks_and_partial_downloads(apt_inputs):
    key = apt_host.simulation_key()
    assert apt_host.simulation_key() == key
    (apt_inputs / "lists" / "lock").write_text("locked by apt-get update")
    (apt_inputs / "lists" / "partial" / "x_Packages").write_text("half")
    assert apt_host.simulation_key() == key
    for changed in ("status", "lists/security_Packages", "etc/sources.list"):
        before = apt_host.simulation_key()
        path = apt_inputs / changed
        path.write_text(path.read_text() + "\n")
        assert apt_host.simulation_key() != before, changed
    before = apt_host.simulation_key()
    (apt_inputs / "etc" / "apt.conf.d" / "99local").write_text('APT::Default-Release "trixie";\n')
    assert apt_host.simulation_key() != before


def test_an_earlier_simulation_is_reused_only_with_the_same_key(run_module, tmp_path, apt_inputs):
    args, outputs = fresh(tmp_path)
    first, calls = run_with(run_module, args, outputs)
    assert [c[0] for c in calls] == ["apt-get", "apt-mark"] and first["simulation"]["reused"] is False
    earlier = {"key": first["simulation"]["key"], "pending": first["simulation"]["pending"]}
    again, calls = run_with(run_module, {**args, "simulation": earlier}, outputs)
    assert [c[0] for c in calls] == ["apt-mark"] and again["simulation"]["reused"] is True
    assert again["socle_findings"] == first["socle_findings"] and again["pending"] == first["pending"]
    (apt_inputs / "status").write_text("Package: openssl\nStatus: install ok installed\nVersion: 3.0.15\n")
    outputs["apt-get"] = (0, NONE_PENDING, "")
    after, calls = run_with(run_module, {**args, "simulation": earlier}, outputs)
    assert [c[0] for c in calls] == ["apt-get", "apt-mark"] and after["simulation"]["reused"] is False
    assert after["socle_findings"]["M1-LNX-PENDING-SECURITY"]["status"] == "compliant"


def test_a_failed_simulation_is_not_kept(run_module, tmp_path, apt_inputs):
    args, outputs = fresh(tmp_path)
    outputs["apt-get"] = (100, "", "E: The package lists or status file could not be parsed")
    result, _ = run_with(run_module, args, outputs)
    assert "simulation" not in result


def test_the_action_keeps_each_hosts_simulation_on_the_controller(monkeypatch, tmp_path):
    from types import SimpleNamespace

    action_mod = load_project_module("action_plugins", "socle_updates_facts")
    monkeypatch.setenv("SOCLE_APT_CACHE", str(tmp_path / "cache"))
    sent = []
    answers = iter([{"simulation": {"key": "k1", "pending": ["openssl 3"], "reused": False}},
                    {"simulation": {"key": "k1", "pending": ["openssl 3"], "reused": True}},
                    {"simulation": {"key": "k2", "pending": [], "reused": False}},
                    {"simulation": {"key": "k1", "pending": ["openssl 3"], "reused": False}}])

    def execute(self, module_name=None, module_args=None, task_vars=None):
        sent.append(dict(module_args))
        return next(answers)

    monkeypatch.setattr(action_mod.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(action_mod.ActionModule, "_execute_module", execute)
    action = action_mod.ActionModule.__new__(action_mod.ActionModule)
    action._task = SimpleNamespace(args={"max_run_age_h": 48}, action="socle_updates_facts", no_log=False)
    action._play_context = SimpleNamespace(check_mode=False)
    pc1 = {"inventory_hostname": "pc1", "ansible_host": "10.0.0.5"}
    action.run(task_vars=pc1)
    assert "simulation" not in sent[0]  # nothing kept yet
    action.run(task_vars=pc1)
    assert sent[1]["simulation"] == {"key": "k1", "pending": ["openssl 3"]}
    action.run(task_vars={"inventory_hostname": "pc2", "ansible_host": "10.0.0.6"})
    assert "simulation" not in sent[2]  # another host has its own file
    assert len(list((tmp_path / "cache").iterdir())) == 2
    monkeypatch.setenv("SOCLE_APT_CACHE", "off")
    action.run(task_vars=pc1)
    assert "simulation" not in sent[3]


def test_a_cache_that_cannot_be_written_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "host.json"
    target.mkdir()  # a folder where the file should go: the rename fails
    reuse.keep_simulation(str(target), {"key": "k", "pending": []})
    assert [p.name for p in tmp_path.iterdir()] == ["host.json"] and target.is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the cache folder should be: nothing is written
    reuse.keep_simulation(str(blocker / "sub" / "host.json"), {"key": "k", "pending": []})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "host.json"]
