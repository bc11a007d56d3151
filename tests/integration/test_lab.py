"""The running lab (``python -m socle.lab up``): each host reached over SSH like a managed host.

Checks a freshly started lab: run it before a converge (the baseline installs dconf, for one).
"""

from __future__ import annotations

import subprocess

import pytest

from socle import lab

pytestmark = pytest.mark.lab

HOSTS = lab.read_state()  # empty when no lab runs: test_lab_has_hosts then fails and says how to start it
SCREENSAVER_SCHEMA = "/usr/share/glib-2.0/schemas/org.gnome.desktop.screensaver.gschema.xml"


def ssh(host: lab.LabHost, command: str) -> subprocess.CompletedProcess[str]:
    """Run a shell command on a lab host as the operator, over SSH with the lab key."""
    argv = lab.ssh_command(host, command)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.fixture(params=HOSTS, ids=[host.name for host in HOSTS])
def host(request: pytest.FixtureRequest) -> lab.LabHost:
    return request.param


def test_lab_has_hosts() -> None:
    assert HOSTS, f"no running lab ({lab.state_path()} lists no host): start it with `socle lab up`"


def test_operator_login_and_passwordless_sudo(host: lab.LabHost) -> None:
    proc = ssh(host, "id -un && hostname && sudo -n true && sudo -n id -u")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["socleadm", host.name, "0"]


def test_systemd_is_up(host: lab.LabHost) -> None:
    proc = ssh(host, "systemctl is-system-running; cat /proc/1/comm")
    assert proc.stdout.split()[-1] == "systemd", proc.stdout + proc.stderr
    assert proc.stdout.split()[0] in ("running", "degraded"), proc.stdout


def test_release(host: lab.LabHost) -> None:
    proc = ssh(host, ". /etc/os-release && echo $ID $VERSION_ID")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["debian", host.release]


def test_gnome_schema_only_on_desktops(host: lab.LabHost) -> None:
    proc = ssh(host, f"test -e {SCREENSAVER_SCHEMA}")
    assert proc.returncode in (0, 1), proc.stderr
    assert (proc.returncode == 0) is host.desktop


def test_no_dconf_binary(host: lab.LabHost) -> None:
    proc = ssh(host, "test ! -e /usr/bin/dconf")
    assert proc.returncode == 0, "/usr/bin/dconf is present: the lab images must not ship dconf-cli"


def test_apt_ready_like_an_installed_debian(host: lab.LabHost) -> None:
    proc = ssh(host, "ls /var/lib/apt/lists/")
    assert proc.returncode == 0, proc.stderr
    lists = proc.stdout.split()
    suite = lab.RELEASES[host.release]
    for codename in (suite, f"{suite}-updates", f"{suite}-security"):
        assert any(f"_dists_{codename}_" in name and name.endswith("_Packages") for name in lists), (
            f"no package list for {codename}: {lists}"
        )


def test_host_keys_are_not_shared() -> None:
    fingerprints = {}
    for host in HOSTS:
        proc = ssh(host, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
        assert proc.returncode == 0, proc.stderr
        fingerprints[host.name] = proc.stdout.split()[1]
    assert len(set(fingerprints.values())) == len(HOSTS), fingerprints
