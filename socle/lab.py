"""Socle test lab: real Debian 12/13 hosts as podman containers (systemd as PID 1), reached over SSH.

Usage: ``python -m socle.lab {build,up,down,status}``. See ``lab/topology.yml`` for the default lab.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

RELEASES = {"12": "bookworm", "13": "trixie"}
IMAGE_REPO = "localhost/socle-lab"
# Several labs can run side by side (one per developer task): SOCLE_LAB_NAME names the containers and
# their label, SOCLE_LAB_PORT the first SSH port, SOCLE_LAB_DIR the state and SOCLE_LAB_INVENTORY the
# inventory file. The defaults are the lab of `make demo` and `make test`.
LAB_NAME = os.environ.get("SOCLE_LAB_NAME", "socle-lab")
CONTAINER_PREFIX = f"{LAB_NAME}-"
LABEL = "socle.lab=1" if LAB_NAME == "socle-lab" else f"socle.lab={LAB_NAME}"
OPERATOR = "socleadm"
FIRST_PORT = int(os.environ.get("SOCLE_LAB_PORT", "2201"))
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
BASE_PACKAGES = ("python3", "systemd", "systemd-sysv", "openssh-server", "sudo", "dbus")
DESKTOP_PACKAGES = ("gsettings-desktop-schemas",)
BOOT_TIMEOUT = 240.0
SSH_TIMEOUT = 90.0
DEPS_HINT = 'run "make deps" (apt-get install podman runc debootstrap)'
TOOL_HINTS = {
    "podman": DEPS_HINT,
    "runc": DEPS_HINT,
    "debootstrap": DEPS_HINT,
    "ssh": 'run "make deps" (apt-get install openssh-client)',
    "ssh-keygen": 'run "make deps" (apt-get install openssh-client)',
}
HOST_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")
IMAGE_TAG_RE = re.compile(r"^debian(?P<release>\d+)(?P<desktop>-desktop)?$")
IMAGE_CMD = 'CMD ["/sbin/init"]'
KEYGEN_UNIT = "socle-lab-ssh-keygen.service"
KEYGEN_UNIT_TEXT = """\
[Unit]
Description=Generate the SSH host keys at first boot (Socle lab image: no keys are baked in)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=ssh.service multi-user.target
"""
ACCOUNT_SCRIPT = """\
set -eu
user="$SOCLE_USER"
if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash --user-group "$user"
fi
usermod --password '*' "$user"
tmp="/etc/sudoers.d/$user.tmp"
printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\\n' "$user" > "$tmp"
chmod 0440 "$tmp"
visudo -cf "$tmp" >/dev/null
mv -f "$tmp" "/etc/sudoers.d/$user"
home="$(getent passwd "$user" | cut -d: -f6)"
install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
printf '%s\\n' "$SOCLE_PUBKEY" > "$home/.ssh/authorized_keys"
chown "$user:$user" "$home/.ssh/authorized_keys"
chmod 0600 "$home/.ssh/authorized_keys"
"""

_print_lock = threading.Lock()


class LabError(RuntimeError):
    """A lab operation failed; the message says what to do."""


@dataclass(frozen=True)
class HostSpec:
    """A host to create: its name, Debian release ("12"/"13") and whether it is a desktop."""

    name: str
    release: str
    desktop: bool = False
    # Hosts with the same pod share one network namespace (podman --pod, --share net): they reach each
    # other over loopback. The first member's sshd listens on 22, the next ones on 2222, 2223...
    pod: str | None = None
    sshd_port: int = 22
    # Extra container ports published on loopback besides SSH (topology key `publish`, e.g. [8080]).
    publish: tuple[int, ...] = ()

    @property
    def image_tag(self) -> str:
        return image_tag(self.release, self.desktop)

    @property
    def image(self) -> str:
        return f"{IMAGE_REPO}:{self.image_tag}"

    @property
    def container(self) -> str:
        return CONTAINER_PREFIX + self.name


@dataclass(frozen=True)
class LabHost:
    """A running lab host as recorded in ``<state>/lab.json``."""

    name: str
    container: str
    port: int
    release: str
    image: str
    desktop: bool = False
    pod: str | None = None
    sshd_port: int = 22
    # (container port, loopback port) pairs of the extra published ports.
    published: tuple[tuple[int, int], ...] = ()


# ---------------------------------------------------------------- paths


def project_root() -> Path:
    """The project root: the parent of the ``socle`` package directory."""
    return Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """Where the lab keeps its key, state and caches (``SOCLE_LAB_DIR`` or ``<root>/.lab``)."""
    override = os.environ.get("SOCLE_LAB_DIR")
    return Path(override).resolve() if override else project_root() / ".lab"


def inventory_path() -> Path:
    """The generated Ansible inventory of the lab (``SOCLE_LAB_INVENTORY`` or inventories/lab/hosts.yml)."""
    override = os.environ.get("SOCLE_LAB_INVENTORY")
    return Path(override).resolve() if override else project_root() / "inventories" / "lab" / "hosts.yml"


def state_path() -> Path:
    return state_dir() / "lab.json"


def key_path() -> Path:
    """The operator's private SSH key (ed25519, generated once)."""
    return state_dir() / "id_ed25519"


def topology_path() -> Path:
    return project_root() / "lab" / "topology.yml"


def containers_conf() -> Path:
    return project_root() / "lab" / "containers.conf"


# ---------------------------------------------------------------- host specs


def image_tag(release: str, desktop: bool) -> str:
    """The image tag for a release, e.g. ``debian13`` or ``debian13-desktop``."""
    return f"debian{release}" + ("-desktop" if desktop else "")


def _check_spec(spec: HostSpec) -> HostSpec:
    if not HOST_NAME_RE.match(spec.name):
        raise LabError(f"invalid host name {spec.name!r}: use lowercase letters, digits and dashes")
    if spec.release not in RELEASES:
        raise LabError(f"host {spec.name}: unknown release {spec.release!r} (known: {', '.join(RELEASES)})")
    return spec


def parse_topology(data: Any) -> list[HostSpec]:
    """Host specs from a topology mapping: ``{hosts: [{name, image} | {name, release, desktop}]}``."""
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), list) or not data["hosts"]:
        raise LabError("topology: expected a mapping with a non-empty list 'hosts'")
    specs: list[HostSpec] = []
    for entry in data["hosts"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise LabError(f"topology: each host needs a name, got {entry!r}")
        name = str(entry["name"])
        if "image" in entry:
            match = IMAGE_TAG_RE.match(str(entry["image"]).rsplit(":", 1)[-1])
            if not match:
                raise LabError(f"host {name}: unknown image {entry['image']!r} (debianNN[-desktop])")
            release, desktop = match["release"], bool(match["desktop"])
        else:
            release, desktop = str(entry.get("release", "")), bool(entry.get("desktop", False))
        pod = entry.get("pod")
        if pod is not None and not HOST_NAME_RE.match(str(pod)):
            raise LabError(f"host {name}: invalid pod name {pod!r}: use lowercase letters, digits and dashes")
        publish = _publish(name, entry.get("publish", []), pod)
        specs.append(_check_spec(HostSpec(name, release, desktop, None if pod is None else str(pod), publish=publish)))
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise LabError(f"topology: duplicate host names in {names}")
    return assign_pod_ports(specs)


def _publish(name: str, value: Any, pod: Any) -> tuple[int, ...]:
    """The extra container ports a host publishes on loopback (not 22, not in a pod)."""
    if not isinstance(value, list) or not all(type(p) is int and 1 <= p <= 65535 and p != 22 for p in value):
        raise LabError(f"host {name}: publish must be a list of port numbers other than 22, got {value!r}")
    if value and pod is not None:
        raise LabError(f"host {name}: publish is not supported for pod members")
    return tuple(sorted(set(value)))


POD_FIRST_EXTRA_SSHD_PORT = 2222


def assign_pod_ports(specs: Sequence[HostSpec]) -> list[HostSpec]:
    """Give each pod member its sshd port inside the shared network namespace (22, 2222, 2223...)."""
    seen: dict[str, int] = {}
    out: list[HostSpec] = []
    for spec in specs:
        if spec.pod is None:
            out.append(spec)
            continue
        index = seen.get(spec.pod, 0)
        seen[spec.pod] = index + 1
        port = 22 if index == 0 else POD_FIRST_EXTRA_SSHD_PORT + index - 1
        out.append(HostSpec(spec.name, spec.release, spec.desktop, spec.pod, port))
    return out


def pod_name(pod: str) -> str:
    """The podman pod of a topology pod, named after the lab."""
    return f"{CONTAINER_PREFIX}pod-{pod}"


def load_topology(path: Path | str | None = None) -> list[HostSpec]:
    """Host specs from a topology file (default ``lab/topology.yml``)."""
    path = Path(path) if path else topology_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabError(f"cannot read topology {path}: {exc}") from exc
    return parse_topology(data)


def count_hosts(count: int, release: str, desktop: bool = False) -> list[HostSpec]:
    """Ad-hoc hosts ``deb<release>-1..N``."""
    if count < 1:
        raise LabError("--count must be at least 1")
    return [_check_spec(HostSpec(f"deb{release}-{i}", release, desktop)) for i in range(1, count + 1)]


# ---------------------------------------------------------------- inventory (pure)


def render_inventory(hosts: Sequence[LabHost], key_file: Path | str) -> dict[str, Any]:
    """The Ansible YAML inventory of the lab as a mapping (pure: no I/O)."""
    key = str(Path(key_file).absolute())
    by_release: dict[str, dict[str, Any]] = {"debian12": {}, "debian13": {}}
    desktop: dict[str, Any] = {}
    for host in sorted(hosts, key=lambda h: h.name):
        group = by_release.setdefault(f"debian{host.release}", {})
        group[host.name] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": host.port,
            "ansible_user": OPERATOR,
            "ansible_ssh_private_key_file": key,
            "ansible_become": True,
        }
        if host.pod is not None:
            # Pod members share one network namespace: another member is reachable on 127.0.0.1.
            group[host.name]["socle_lab_pod"] = host.pod
            group[host.name]["socle_lab_sshd_port"] = host.sshd_port
        if host.published:
            # Extra published ports: container port -> loopback port on the controller.
            group[host.name]["socle_lab_ports"] = {int(c): int(h) for c, h in host.published}
        if host.desktop:
            desktop[host.name] = None
    children: dict[str, Any] = {name: {"hosts": members} for name, members in sorted(by_release.items())}
    children["desktop"] = {"hosts": desktop}
    return {"all": {"children": {"lab": {"children": children}}}}


def dump_inventory(hosts: Sequence[LabHost], key_file: Path | str) -> str:
    """The inventory as YAML text, with a header saying it is generated."""
    body = yaml.safe_dump(render_inventory(hosts, key_file), sort_keys=False, default_flow_style=False)
    return "# Generated by `python -m socle.lab up`: do not edit (rewritten at each up).\n---\n" + body


# ---------------------------------------------------------------- state


def read_state() -> list[LabHost]:
    """The hosts of the lab last started by ``up`` (empty when there is none)."""
    try:
        data = json.loads(state_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return [LabHost(**entry) for entry in data.get("hosts", [])]


def _write_state(hosts: Sequence[LabHost]) -> None:
    data = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "key": str(key_path()),
        "inventory": str(inventory_path()),
        "hosts": [asdict(host) for host in hosts],
    }
    _write_atomic(state_path(), json.dumps(data, indent=2) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# ---------------------------------------------------------------- process helpers


def log(message: str) -> None:
    """A progress line on stderr."""
    with _print_lock:
        print(f"[lab] {message}", file=sys.stderr, flush=True)


def require(*tools: str) -> None:
    """Fail cleanly when a needed program is not installed."""
    for tool in tools:
        if shutil.which(tool) is None:
            raise LabError(f"{tool} not found: {TOOL_HINTS.get(tool, DEPS_HINT)}")


def _podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def podman(
    *args: str, check: bool = True, timeout: float | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run podman with the lab's containers.conf; output is captured as text."""
    try:
        proc = subprocess.run(
            ["podman", *args], env=_podman_env(), capture_output=True, text=True, timeout=timeout, **kwargs
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"podman {' '.join(args[:2])} timed out after {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        raise LabError(f"podman {' '.join(args[:3])} failed ({proc.returncode}): {_tail(proc.stderr)}")
    return proc


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(cmd: Sequence[str], what: str, log_file: Path | None = None, **kwargs: Any) -> None:
    """Run a build step; on failure raise with the end of its output."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)
    if log_file is not None:
        with log_file.open("a", encoding="utf-8") as fh:
            fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise LabError(f"{what} failed ({proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}")


# ---------------------------------------------------------------- images


def image_exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def build_images(releases: Iterable[str] = tuple(RELEASES), desktop: bool = True, rebuild: bool = False) -> list[str]:
    """Build the missing lab images (base, and desktop variant if asked); return those built."""
    require("podman", "runc")
    built: list[str] = []
    replaced: list[str] = []
    for release in releases:
        if release not in RELEASES:
            raise LabError(f"unknown release {release!r} (known: {', '.join(RELEASES)})")
        wanted = [False, True] if desktop else [False]
        for is_desktop in wanted:
            image = f"{IMAGE_REPO}:{image_tag(release, is_desktop)}"
            exists = image_exists(image)
            if exists and not rebuild:
                continue
            old_id = _image_id(image) if exists else ""
            if is_desktop:
                _build_desktop(release, f"{IMAGE_REPO}:{image_tag(release, False)}", image)
            else:
                _build_base(release, image)
            built.append(image)
            if old_id:
                replaced.append(old_id)
    # Drop the images a rebuild replaced (children first); those still used by a container stay.
    for old_id in reversed(replaced):
        podman("rmi", old_id, check=False)
    return built


def _image_id(image: str) -> str:
    """The ID of a local image, or "" when it does not exist."""
    proc = podman("image", "inspect", "--format", "{{.Id}}", image, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _build_base(release: str, image: str) -> None:
    require("debootstrap")
    suite = RELEASES[release]
    log(f"building debian{release} image (about 2 min)…")
    started = time.monotonic()
    build_root = state_dir() / "build"
    build_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"debian{release}-", dir=build_root))
    rootfs = tmp / "rootfs"
    log_file = tmp / "build.log"
    try:
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=" + ",".join(BASE_PACKAGES),
                suite,
                str(rootfs),
                MIRROR,
            ],
            f"debootstrap {suite}",
            log_file,
        )
        _configure_rootfs(rootfs, release, log_file)
        _import_rootfs(rootfs, image)
    finally:
        _unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"built {image} in {time.monotonic() - started:.0f} s")


def _apt_sources(suite: str, release: str) -> tuple[str, str]:
    """(path, text) of the apt sources a fresh install of this release has."""
    if int(release) >= 13:
        text = (
            f"Types: deb\nURIs: {MIRROR}\nSuites: {suite} {suite}-updates\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            f"Types: deb\nURIs: {SECURITY_MIRROR}\nSuites: {suite}-security\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        )
        return "etc/apt/sources.list.d/debian.sources", text
    text = (
        f"deb {MIRROR} {suite} main\ndeb {MIRROR} {suite}-updates main\ndeb {SECURITY_MIRROR} {suite}-security main\n"
    )
    return "etc/apt/sources.list", text


def _configure_rootfs(rootfs: Path, release: str, log_file: Path) -> None:
    """Turn a debootstrap tree into a host image: apt sources and lists, no identity baked in."""
    suite = RELEASES[release]
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    rel_path, text = _apt_sources(suite, release)
    (rootfs / rel_path).parent.mkdir(parents=True, exist_ok=True)
    (rootfs / rel_path).write_text(text, encoding="utf-8")
    _run(["chroot", str(rootfs), "apt-get", "update", "-q"], f"apt-get update in the {suite} chroot", log_file)
    for pattern in ("*.deb", "partial/*"):
        for path in (rootfs / "var/cache/apt/archives").glob(pattern):
            path.unlink()
    # systemd containers: an empty machine-id is filled at each boot; dbus's copy must follow it.
    (rootfs / "etc/machine-id").write_text("", encoding="utf-8")
    dbus_id = rootfs / "var/lib/dbus/machine-id"
    dbus_id.unlink(missing_ok=True)
    dbus_id.parent.mkdir(parents=True, exist_ok=True)
    dbus_id.symlink_to("/etc/machine-id")
    # No SSH host keys in the image: each host makes its own at first boot.
    for path in (rootfs / "etc/ssh").glob("ssh_host_*"):
        path.unlink()
    (rootfs / "etc/systemd/system" / KEYGEN_UNIT).write_text(KEYGEN_UNIT_TEXT, encoding="utf-8")
    _run(
        ["chroot", str(rootfs), "systemctl", "enable", "ssh.service", KEYGEN_UNIT],
        "systemctl enable",
        log_file,
    )
    # As the installer leaves it (minbase has no locales package; C.UTF-8 is built into libc).
    (rootfs / "etc/default/locale").write_text("LANG=C.UTF-8\n", encoding="utf-8")
    # The build machine's name and resolver must not leak into the image (podman provides both).
    (rootfs / "etc/hostname").write_text("localhost\n", encoding="utf-8")
    (rootfs / "etc/resolv.conf").write_text("", encoding="utf-8")


def _import_rootfs(rootfs: Path, image: str) -> None:
    with tempfile.TemporaryFile() as tar_err:
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-c", "."],
            stdout=subprocess.PIPE,
            stderr=tar_err,
        )
        assert tar.stdout is not None
        try:
            imported = podman("import", "--change", IMAGE_CMD, "-", image, stdin=tar.stdout, check=False)
        finally:
            tar.stdout.close()
            tar.wait()
        tar_err.seek(0)
        errors = tar_err.read().decode(errors="replace")
    if tar.returncode != 0 or imported.returncode != 0:
        raise LabError(f"podman import {image} failed: {_tail(errors + imported.stderr)}")


def _unmount_under(path: Path) -> None:
    """Unmount anything a failed debootstrap left mounted below ``path`` (before removing it)."""
    prefix = str(path.resolve()) + "/"
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def _build_desktop(release: str, base: str, image: str) -> None:
    log(f"building debian{release}-desktop image (about 10 s)…")
    started = time.monotonic()
    builder = f"{CONTAINER_PREFIX}build-debian{release}-desktop"
    podman("rm", "-f", "-t", "0", builder, check=False)
    packages = " ".join(DESKTOP_PACKAGES)
    script = (
        "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -q; "
        f"apt-get install -y -q --no-install-recommends {packages}; apt-get clean"
    )
    try:
        podman("run", "--name", builder, base, "sh", "-c", script, timeout=900)
        podman("commit", "-q", "--change", IMAGE_CMD, builder, image, timeout=300)
    finally:
        podman("rm", "-f", "-t", "0", builder, check=False)
    log(f"built {image} in {time.monotonic() - started:.0f} s")


# ---------------------------------------------------------------- key, ports, apt cache


def ensure_key() -> Path:
    """Generate the operator's ed25519 key once."""
    key = key_path()
    if not key.exists():
        require("ssh-keygen")
        key.parent.mkdir(parents=True, exist_ok=True)
        _run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{OPERATOR}@socle-lab", "-f", str(key)],
            "ssh-keygen",
        )
    key.chmod(0o600)
    return key


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def allocate_ports(count: int, start: int = FIRST_PORT) -> list[int]:
    """``count`` free loopback ports from ``start`` upwards."""
    ports: list[int] = []
    port = start
    while len(ports) < count:
        if port > 65535:
            raise LabError(f"no {count} free ports from {start}")
        if _port_free(port):
            ports.append(port)
        port += 1
    return ports


def publish_ports(specs: Sequence[HostSpec], start: int) -> dict[str, tuple[tuple[int, int], ...]]:
    """Free loopback ports, from ``start`` up, for every host's extra published ports (topology ``publish``)."""
    free = iter(allocate_ports(sum(len(spec.publish) for spec in specs), start))
    return {spec.name: tuple((cport, next(free)) for cport in spec.publish) for spec in specs}


# The apt cache: one folder bind-mounted into every host breaks parallel installs (apt locks
# /var/cache/apt/archives/lock without waiting, and the lock is shared across the bind mount:
# "Could not get lock ... held by process 0"). So each host gets its own archive folder, filled at
# `up` with hard links from the shared pool <state>/apt-archives; the .deb files the hosts download
# go back into the pool at the next `up` or `down`. A package is downloaded once per machine.
def _apt_pool() -> Path:
    return state_dir() / "apt-archives"


def _apt_host_root() -> Path:
    return state_dir() / "apt-hosts"


def _harvest_apt_archives() -> None:
    """Hard-link the .deb files the hosts downloaded into the shared pool, then drop the host dirs."""
    pool, hosts_root = _apt_pool(), _apt_host_root()
    pool.mkdir(parents=True, exist_ok=True)
    if not hosts_root.is_dir():
        return
    for deb in hosts_root.glob("*/*.deb"):
        target = pool / deb.name
        if not target.exists():
            try:
                os.link(deb, target)
            except OSError:
                shutil.copy2(deb, target)
    shutil.rmtree(hosts_root, ignore_errors=True)


def _seed_apt_dir(host: str) -> Path:
    """A host's own /var/cache/apt/archives, pre-filled with hard links to every pooled .deb."""
    directory = _apt_host_root() / host
    (directory / "partial").mkdir(parents=True, exist_ok=True)
    for deb in _apt_pool().glob("*.deb"):
        target = directory / deb.name
        if not target.exists():
            os.link(deb, target)
    return directory


# ---------------------------------------------------------------- up / down / status


def _lab_containers() -> list[str]:
    out = podman("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}").stdout
    return [name for name in out.split() if name]


def _remove_containers(names: Iterable[str]) -> None:
    """Remove these containers if they exist (podman 4.3's ``rm -f`` removes none if one is missing)."""
    existing = set(podman("ps", "-a", "--format", "{{.Names}}").stdout.split())
    targets = sorted(existing.intersection(names))
    if targets:
        podman("rm", "-f", "-t", "0", *targets, timeout=300)


def ssh_command(host: LabHost, *command: str, key: Path | None = None) -> list[str]:
    """The ssh argv that runs ``command`` on a lab host as the operator (as Ansible connects)."""
    key = key or key_path()
    return [
        "ssh", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-i", str(key), "-p", str(host.port), f"{OPERATOR}@127.0.0.1", *command,
    ]  # fmt: skip


def _start_host(
    spec: HostSpec, port: int, key: Path, timeout: float, published: tuple[tuple[int, int], ...] = ()
) -> LabHost:
    """Create one host, set up the operator account, wait for systemd and SSH."""
    host = LabHost(
        spec.name, spec.container, port, spec.release, spec.image, spec.desktop, spec.pod, spec.sshd_port, published
    )
    apt_dir = _seed_apt_dir(spec.name)
    # In a pod the ports are published by the pod (see _create_pods), not by the container.
    network = ["--pod", pod_name(spec.pod)] if spec.pod else ["-p", f"127.0.0.1:{port}:22"]
    network += [arg for cport, hport in published for arg in ("-p", f"127.0.0.1:{hport}:{cport}")]
    podman(
        "create", "--name", spec.container, "--label", LABEL, "--label", f"socle.lab.host={spec.name}",
        "--systemd=always", "--cap-add", "NET_ADMIN", "--hostname", spec.name,
        *network, "-v", f"{apt_dir}:/var/cache/apt/archives",
        spec.image, "/sbin/init",
        timeout=120,
    )  # fmt: skip
    if spec.sshd_port != 22:
        # Before the first boot, so that this sshd never races its pod mate for port 22.
        with tempfile.TemporaryDirectory() as tmp:
            dropin = Path(tmp) / "00-socle-lab-port.conf"
            dropin.write_text(sshd_port_dropin(spec.sshd_port), encoding="utf-8")
            dropin.chmod(0o644)
            podman("cp", str(dropin), f"{spec.container}:/etc/ssh/sshd_config.d/00-socle-lab-port.conf")
    podman("start", spec.container, timeout=120)
    deadline = time.monotonic() + timeout
    pubkey = key.with_suffix(".pub").read_text(encoding="utf-8").strip()
    podman(
        "exec", "-e", f"SOCLE_USER={OPERATOR}", "-e", f"SOCLE_PUBKEY={pubkey}", spec.container,
        "sh", "-c", ACCOUNT_SCRIPT,
        timeout=60,
    )  # fmt: skip
    state = ""
    while time.monotonic() < deadline:
        proc = podman(
            "exec", spec.container, "systemctl", "is-system-running", "--wait",
            check=False, timeout=max(5.0, deadline - time.monotonic()),
        )  # fmt: skip
        state = proc.stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    else:
        raise LabError(f"{spec.name}: systemd did not finish booting in {timeout:.0f} s (state {state!r})")
    if state == "degraded":
        failed = podman("exec", spec.container, "systemctl", "--failed", "--plain", "--no-legend", check=False)
        units = [line.split()[0] for line in failed.stdout.splitlines() if line.strip()]
        log(f"warning: {spec.name} is degraded, failed units: {', '.join(units) or '?'}")
    last = ""
    while True:
        proc = subprocess.run(
            ssh_command(host, "sudo", "-n", "true", key=key), capture_output=True, text=True, timeout=30
        )
        if proc.returncode == 0:
            break
        last = proc.stderr.strip()
        if time.monotonic() > deadline:
            raise LabError(f"{spec.name}: no SSH login as {OPERATOR}@127.0.0.1:{port} in {timeout:.0f} s: {last}")
        time.sleep(1)
    log(f"{spec.name} up on 127.0.0.1:{port}")
    return host


def sshd_port_dropin(port: int) -> str:
    """The sshd drop-in of a pod member whose sshd cannot listen on 22 (its pod mate does)."""
    return (
        "# Written by the Socle lab: this host shares its network namespace with another lab host\n"
        f"# (podman pod), whose sshd listens on 22.\nPort {port}\n"
    )


def pod_create_args(pod: str, members: Sequence[tuple[HostSpec, int]]) -> list[str]:
    """``podman pod create`` arguments: one loopback port per member, to that member's sshd."""
    args = ["pod", "create", "--name", pod_name(pod), "--label", LABEL, "--share", "net"]
    for spec, port in members:
        args += ["-p", f"127.0.0.1:{port}:{spec.sshd_port}"]
    return args


def _create_pods(specs: Sequence[HostSpec], ports: Sequence[int]) -> None:
    pods: dict[str, list[tuple[HostSpec, int]]] = {}
    for spec, port in zip(specs, ports, strict=True):
        if spec.pod:
            pods.setdefault(spec.pod, []).append((spec, port))
    for pod, members in pods.items():
        podman(*pod_create_args(pod, members), timeout=120)


def _remove_pods() -> None:
    out = podman("pod", "ps", "--filter", f"label={LABEL}", "--format", "{{.Name}}").stdout
    for name in out.split():
        podman("pod", "rm", "-f", name, check=False, timeout=300)


def up(hosts_spec: Sequence[HostSpec] | None = None, timeout: float = BOOT_TIMEOUT) -> list[LabHost]:
    """Replace the lab with fresh hosts, write the state and inventory; return the hosts."""
    specs = assign_pod_ports(
        [_check_spec(spec) for spec in (hosts_spec if hosts_spec is not None else load_topology())]
    )
    if not specs:
        raise LabError("no hosts to start")
    require("podman", "runc", "ssh", "ssh-keygen")
    for release in sorted({spec.release for spec in specs}):
        build_images([release], desktop=any(s.desktop for s in specs if s.release == release))
    key = ensure_key()
    started = time.monotonic()
    _remove_pods()  # first: a pod's infra container carries the lab label but only goes with its pod
    _remove_containers([*_lab_containers(), *(spec.container for spec in specs)])
    state_path().unlink(missing_ok=True)
    inventory_path().unlink(missing_ok=True)
    _harvest_apt_archives()
    ports = allocate_ports(len(specs))
    _create_pods(specs, ports)
    published = publish_ports(specs, max(ports) + 1)
    log(f"starting {len(specs)} host(s): {', '.join(spec.name for spec in specs)}")
    hosts: dict[str, LabHost] = {}
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = {
            pool.submit(_start_host, spec, port, key, timeout, published[spec.name]): spec
            for spec, port in zip(specs, ports, strict=True)
        }
        for future in as_completed(futures):
            spec = futures[future]
            try:
                hosts[spec.name] = future.result()
            except (LabError, OSError, subprocess.SubprocessError) as exc:
                errors.append(f"{spec.name}: {exc}")
    if errors:
        raise LabError(
            f"some hosts did not come up (inspect with `podman logs {CONTAINER_PREFIX}HOST`, clean with `down`):\n  "
            + "\n  ".join(errors)
        )
    ordered = [hosts[spec.name] for spec in specs]
    _write_state(ordered)
    _write_atomic(inventory_path(), dump_inventory(ordered, key))
    log(f"lab up in {time.monotonic() - started:.0f} s; inventory: {inventory_path()}")
    return ordered


def down(images: bool = False) -> None:
    """Remove every lab container and the generated inventory; with ``images``, the images too."""
    require("podman")
    _remove_pods()  # first: a pod's infra container carries the lab label but only goes with its pod
    names = _lab_containers()
    _remove_containers(names)
    log(f"removed {len(names)} container(s)")
    _harvest_apt_archives()
    state_path().unlink(missing_ok=True)
    inventory_path().unlink(missing_ok=True)
    if images:
        for release in RELEASES:
            for desktop in (True, False):
                image = f"{IMAGE_REPO}:{image_tag(release, desktop)}"
                if image_exists(image):
                    podman("rmi", "-f", image, check=False)
                    log(f"removed image {image}")


def status() -> list[tuple[str, str, str, str]]:
    """Rows (host, state, port, image) of the recorded lab, with the live container state."""
    require("podman")
    out = podman("ps", "-a", "--filter", f"label={LABEL}", "--format", "json").stdout
    live = {name: str(c.get("State", "?")) for c in json.loads(out or "[]") for name in c.get("Names", [])}
    rows = [(h.name, live.pop(h.container, "missing"), str(h.port), h.image) for h in read_state()]
    rows += [(name.removeprefix(CONTAINER_PREFIX), state, "?", "(not in lab.json)") for name, state in live.items()]
    return rows


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    table = [("HOST", "STATE", "PORT", "IMAGE"), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# ---------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socle lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the lab images (only those missing)")
    build.add_argument("--release", choices=sorted(RELEASES), action="append", help="default: all")
    build.add_argument("--no-desktop", action="store_true", help="skip the desktop variants")
    build.add_argument("--rebuild", action="store_true", help="rebuild even if the images exist")
    start = sub.add_parser("up", help="start fresh hosts (default: lab/topology.yml)")
    start.add_argument("--topology", type=Path, help="topology file")
    start.add_argument("--count", type=int, help="ad-hoc lab of N hosts deb<release>-1..N")
    start.add_argument("--release", choices=sorted(RELEASES), default="13", help="with --count (default 13)")
    start.add_argument("--desktop", action="store_true", help="with --count: desktop image")
    start.add_argument("--timeout", type=float, default=BOOT_TIMEOUT, help="seconds per host (default %(default)s)")
    stop = sub.add_parser("down", help="remove the lab containers and inventory")
    stop.add_argument("--images", action="store_true", help="also remove the lab images")
    sub.add_parser("status", help="show the lab hosts")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            build_images(args.release or list(RELEASES), desktop=not args.no_desktop, rebuild=args.rebuild)
        elif args.command == "up":
            if args.count is not None and args.topology is not None:
                raise LabError("use either --count or --topology")
            if args.count is not None:
                specs = count_hosts(args.count, args.release, args.desktop)
            else:
                specs = load_topology(args.topology)
            up(specs, timeout=args.timeout)
        elif args.command == "down":
            down(images=args.images)
        else:
            _print_table(status())
    except LabError as exc:
        print(f"[lab] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
