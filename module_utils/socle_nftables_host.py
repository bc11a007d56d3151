"""socle_nftables on the host: render the table, compare it with the kernel's, the file and the unit.

Kept out of the module so that ``socle_facts`` can make the check of ``state=present`` ahead in a scheduled
audit (see ``socle_measure``); the module validates its arguments, calls :func:`check` and, in apply,
changes what it found different.
"""

from __future__ import annotations

import ipaddress
import os
import re

from ansible.module_utils.socle_files import file_diff, read_text
from ansible.module_utils.socle_measure import MeasureError

PARTS = ("baseline", "mgmt", "logging")
TAG_RE = re.compile(r'comment "socle:(?P<tag>[a-z]+)[^"]*"$')
COMMENT_RE = re.compile(r"^[A-Za-z0-9 ._-]{0,40}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
PREFIX_RE = re.compile(r'^[^"\\\n]{1,60}$')
ROLLBACK_UNIT = "socle-nft-rollback"
RUN_DIR = "/run/socle"
UNIT_DIR = "/etc/systemd/system"
CONFLICTS = ("ufw.service", "firewalld.service")

UNIT_TEXT = """\
# Managed by Socle (control M2-LNX-NFT-BASELINE). Local changes are overwritten.
[Unit]
Description=Socle baseline firewall (nftables table inet {table})
Documentation=file://{path}
DefaultDependencies=no
After=local-fs.target nftables.service
Before=network-pre.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={nft} -f {path}

[Install]
WantedBy=sysinit.target
"""

ROLLBACK_SCRIPT = """\
#!/bin/sh
# Written by Socle before changing the firewall: restores the previous table and file unless a later
# task, over a new connection, confirmed that Ansible still reaches the host.
{nft} -f {run}/rollback.nft
{file_step}
systemctl daemon-reload
touch {run}/rolled-back
logger -t socle "nftables change not confirmed in time: previous table {table} restored"
"""


# ---------------------------------------------------------------- policy -> ruleset (pure)


def networks(items, what: str) -> tuple[list[str], list[str]]:
    """CIDRs -> (IPv4, IPv6) nft forms, collapsed and sorted; ValueError names the bad entry."""
    v4, v6 = [], []
    for item in items or []:
        try:
            net = ipaddress.ip_network(str(item).strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"{what}: {item!r} is not a network address ({exc})") from exc
        (v4 if net.version == 4 else v6).append(net)
    out = []
    for nets in (v4, v6):
        collapsed = sorted(ipaddress.collapse_addresses(nets))
        out.append([str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n) for n in collapsed])
    return out[0], out[1]


def _saddr(family: str, addrs: list[str]) -> str:
    if not addrs:
        return ""
    value = addrs[0] if len(addrs) == 1 else "{ " + ", ".join(addrs) + " }"
    return f"{family} saddr {value} "


def render_table(spec: dict) -> str:
    """The table exactly as `nft list table inet <name>` prints it (tabs, no handles)."""
    mgmt4, mgmt6 = networks(spec["admin_networks"], "admin_networks")
    if not (mgmt4 or mgmt6):
        raise ValueError("admin_networks: at least one network is needed, or SSH would be closed to everyone")
    port = int(spec["ssh_port"])
    rules = ['ct state established,related accept comment "socle:base"', 'iif "lo" accept comment "socle:base"']
    for family, addrs in (("ip", mgmt4), ("ip6", mgmt6)):
        if addrs:
            rules.append(f'{_saddr(family, addrs)}tcp dport {port} accept comment "socle:mgmt"')
    rules.append('ct state invalid drop comment "socle:base"')
    # IPv6 needs neighbour discovery; ICMP errors of known flows are `related`. Types, not protocol names:
    # protocol names need /etc/protocols (netbase), which a minimal Debian 12 lacks.
    rules.append("icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept "
                 'comment "socle:base"')
    if spec.get("allow_ping", True):
        rules.append('icmp type echo-request accept comment "socle:base"')
        rules.append('icmpv6 type echo-request accept comment "socle:base"')
    for index, svc in enumerate(spec.get("allowed_services") or []):
        proto = svc.get("proto") or "tcp"
        comment = (svc.get("comment") or "").strip()
        if proto not in ("tcp", "udp"):
            raise ValueError(f"allowed_services[{index}].proto: tcp or udp, not {proto!r}")
        if not 1 <= int(svc["port"]) <= 65535:
            raise ValueError(f"allowed_services[{index}].port: {svc['port']} is not a port number")
        if not COMMENT_RE.match(comment):
            raise ValueError(f"allowed_services[{index}].comment: letters, digits, space . - _ only, 40 at most")
        tag = f"socle:svc {comment}".rstrip()
        src4, src6 = networks(svc.get("sources"), f"allowed_services[{index}].sources")
        heads = [_saddr("ip", src4), _saddr("ip6", src6)] if (src4 or src6) else [""]
        for head in heads:
            if head or not (src4 or src6):
                rules.append(f'{head}{proto} dport {int(svc["port"])} accept comment "{tag}"')
    if spec.get("log_drops", True):
        prefix = spec.get("log_prefix", "socle-drop: ")
        if not PREFIX_RE.match(prefix):
            raise ValueError("log_prefix: 1 to 60 characters, no quote, backslash or newline")
        rules.append(
            f"limit rate {int(spec['log_rate_per_minute'])}/minute burst {int(spec['log_burst'])} packets "
            f'log prefix "{prefix}" comment "socle:log"'
        )
    lines = [f"table inet {spec['table']} {{", "\tchain input {",
             "\t\ttype filter hook input priority filter; policy drop;"]
    lines += [f"\t\t{rule}" for rule in rules]
    lines += ["\t}", "}"]
    return "\n".join(lines) + "\n"


def render_file(table_text: str, table: str) -> str:
    """The persisted file: replaces only this table (add + delete works on every nft version)."""
    return (
        "#!/usr/sbin/nft -f\n"
        "# Managed by Socle (controls M2-LNX-NFT-*). Local changes are overwritten: change the policy in the\n"
        "# inventory. Only this table is replaced; other tables are left alone.\n"
        f"table inet {table}\ndelete table inet {table}\n" + table_text
    )


# ---------------------------------------------------------------- live ruleset -> parts (pure)


def normalise(listing: str | None) -> str | None:
    """`nft list table` output without handles, blank lines or spacing differences; None stays None."""
    if listing is None:
        return None
    lines = []
    for line in listing.splitlines():
        line = re.sub(r"\s+# handle \d+$", "", line).strip()
        if line:
            lines.append(" ".join(line.split()))
    return "\n".join(lines) + "\n"


def pretty(normalised: str | None) -> str:
    """A normalised listing indented as nft prints it (for diffs people read)."""
    out, depth = [], 0
    for line in (normalised or "").splitlines():
        depth -= line.startswith("}")
        out.append("\t" * max(depth, 0) + line)
        depth += line.endswith("{")
    return "".join(f"{line}\n" for line in out)


def split_parts(normalised: str | None) -> dict[str, list[str]] | None:
    """Rule lines by part: mgmt and logging by their tag, everything else (skeleton too) is baseline."""
    if normalised is None:
        return None
    parts: dict[str, list[str]] = {p: [] for p in PARTS}
    for line in normalised.splitlines():
        match = TAG_RE.search(line)
        tag = match["tag"] if match else ""
        parts["mgmt" if tag == "mgmt" else "logging" if tag == "log" else "baseline"].append(line)
    return parts


def changed_parts(live: str | None, wanted: str) -> dict[str, bool]:
    """Which parts differ. A missing table, or a table whose input chain is not Socle's, is one
    baseline drift (its root cause), not three."""
    have, want = normalise(live), normalise(wanted)
    if have == want:
        return {p: False for p in PARTS}
    hp, wp = split_parts(have), split_parts(want)
    if hp is None or not any("hook input" in line for line in hp["baseline"]):
        return {"baseline": True, "mgmt": False, "logging": False}
    result = {p: hp[p] != wp[p] for p in PARTS}
    if not any(result.values()):  # same lines, other order (e.g. a drop moved before the SSH rule)
        result["baseline"] = True
    return result


# ---------------------------------------------------------------- lockout decision (pure)


def parse_ssh_connection(value: str | None) -> tuple[str, int] | None:
    """SSH_CONNECTION 'client cport server sport' -> (client address, server port)."""
    parts = (value or "").split()
    if len(parts) != 4 or not parts[3].isdigit():
        return None
    client = parts[0].split("%", 1)[0]
    try:
        ipaddress.ip_address(client)
    except ValueError:
        return None
    return client, int(parts[3])


def find_ssh_connection(environ: dict, proc_root: str, pid: int) -> str | None:
    """SSH_CONNECTION of this process or its nearest ancestor (sudo removes it from the environment)."""
    if environ.get("SSH_CONNECTION"):
        return environ["SSH_CONNECTION"]
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            with open(os.path.join(proc_root, str(pid), "environ"), "rb") as handle:
                env = handle.read().split(b"\0")
            with open(os.path.join(proc_root, str(pid), "stat"), encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            return None
        for item in env:
            if item.startswith(b"SSH_CONNECTION="):
                return item.split(b"=", 1)[1].decode("utf-8", "replace")
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return None


def _address(text: str):
    addr = ipaddress.ip_address(text)
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _covers(cidrs, addr) -> bool:
    return any(addr in ipaddress.ip_network(str(c).strip(), strict=False) for c in cidrs)


def connection_allowed(spec: dict, client: str, port: int) -> tuple[bool, str]:
    """Would the rendered ruleset accept a new connection from client to port (TCP)? And by which rule."""
    addr = _address(client)
    if addr.is_loopback:
        return True, "loopback"
    if port == int(spec["ssh_port"]) and _covers(spec["admin_networks"], addr):
        return True, "management rule"
    for svc in spec.get("allowed_services") or []:
        if (svc.get("proto") or "tcp") == "tcp" and int(svc["port"]) == port:
            if not svc.get("sources") or _covers(svc["sources"], addr):
                return True, f"service {svc.get('comment') or port}"
    return False, ""


# ---------------------------------------------------------------- conflicts (pure)


def conflicts(active: dict[str, bool], ufw_conf: str | None, ufw_installed: bool = False) -> list[str]:
    """Other firewalls in charge: firewalld when active; ufw when enabled (ENABLED=yes) and installed.

    ``ufw enable`` loads its rules and sets ENABLED=yes without starting ufw.service (the unit loads
    them at boot), so the unit's state alone would miss it; a removed but not purged ufw keeps its
    ufw.conf and is no conflict.
    """
    found = []
    if active.get("firewalld.service"):
        found.append("firewalld is active")
    enabled = re.search(r"^\s*ENABLED\s*=\s*['\"]?yes", ufw_conf or "", re.M | re.I)
    if enabled and (ufw_installed or active.get("ufw.service")):
        found.append("ufw is enabled (ENABLED=yes in /etc/ufw/ufw.conf)")
    return found


def conflict_message(found: list[str]) -> str:
    return (
        f"another firewall manages this host ({'; '.join(found)}): Socle never runs two firewalls. "
        "Disable it (systemctl disable --now ufw / firewalld) after moving its rules to the policy "
        "(firewall_allowed_services), or set firewall_enabled: false for this host."
    )


# ---------------------------------------------------------------- module


def run(module, args, check=True):
    rc, out, err = module.run_command(args)
    if check and rc != 0:
        module.fail_json(msg=f"{' '.join(args)} failed: {(err or out).strip()}")
    return rc, out, err


def unit_active(module, unit: str) -> bool:
    return module.run_command(["systemctl", "is-active", "--quiet", unit])[0] == 0


def live_table(module, nft: str | None, table: str) -> str | None:
    if nft is None:
        return None
    rc, out, err = module.run_command([nft, "list", "table", "inet", table])
    if rc == 0:
        return out
    if "No such file or directory" in err or "does not exist" in err:
        return None
    raise MeasureError(f"nft list table inet {table} failed: {err.strip()}")


def confirm(module) -> None:
    params = module.params
    report, part = params["report"] or {}, params["part"]
    if report.get("failed") or "socle_parts" not in report:
        module.fail_json(msg="not assessed: loading the firewall table failed or did not run "
                             f"({report.get('msg', 'no result')})")
    parts = report["socle_parts"]
    result = {
        "changed": bool(parts.get(part)),
        "socle_parts": parts,
        "diff": (report.get("part_diffs") or {}).get(part, {"before": "", "after": ""}),
    }
    rollback = report.get("rollback") or {}
    if rollback.get("armed") and not module.check_mode:
        timer = f"{rollback.get('unit', ROLLBACK_UNIT)}.timer"
        if unit_active(module, timer):
            run(module, ["systemctl", "stop", timer])
            result["disarmed"] = True
        elif os.path.exists(os.path.join(RUN_DIR, "rolled-back")):
            module.fail_json(msg="the new ruleset was not confirmed in time and the previous one was restored",
                             **result)
    module.exit_json(**result)


ARGUMENT_SPEC = {
            "state": {"type": "str", "choices": ["present", "confirm"], "default": "present"},
            "table": {"type": "str", "default": "socle"},
            "admin_networks": {"type": "list", "elements": "str", "default": []},
            "ssh_port": {"type": "int", "default": 22},
            "allowed_services": {
                "type": "list", "elements": "dict", "default": [],
                "options": {
                    "port": {"type": "int", "required": True},
                    "proto": {"type": "str", "choices": ["tcp", "udp"], "default": "tcp"},
                    "sources": {"type": "list", "elements": "str", "default": []},
                    "comment": {"type": "str", "default": ""},
                },
            },
            "allow_ping": {"type": "bool", "default": True},
            "log_drops": {"type": "bool", "default": True},
            "log_rate_per_minute": {"type": "int", "default": 5},
            "log_burst": {"type": "int", "default": 10},
            "log_prefix": {"type": "str", "default": "socle-drop: "},
            "path": {"type": "path", "default": "/etc/nftables.d/socle.nft"},
            "unit": {"type": "str", "default": "socle-nftables.service"},
            "lockout_guard": {"type": "bool", "default": True},
            "ssh_connection": {"type": "str", "default": ""},
            "rollback_timeout_s": {"type": "int", "default": 60},
            "part": {"type": "str", "choices": ["mgmt", "logging"], "default": "mgmt"},
            "report": {"type": "dict", "default": {}},
            "proc_root": {"type": "path", "default": "/proc"},
        }


def check(module, params: dict) -> tuple[dict, dict]:
    """Steps 1 to 4 (conflicts, lockout guard, comparison, nft -c): the result of a check, and what apply needs.

    Read-only: the same in check mode and before an apply. Raises MeasureError (with the result's fields)
    where the module fails.
    """
    if not NAME_RE.match(params["table"]):
        raise MeasureError(f"table: invalid table name {params['table']!r}")
    if not 1 <= params["ssh_port"] <= 65535:
        raise MeasureError(f"ssh_port: {params['ssh_port']} is not a port number")
    if not 1 <= params["log_rate_per_minute"] <= 10000 or not 1 <= params["log_burst"] <= 10000:
        raise MeasureError("log_rate_per_minute and log_burst: between 1 and 10000")
    if not 10 <= params["rollback_timeout_s"] <= 3600:
        raise MeasureError("rollback_timeout_s: between 10 and 3600 seconds")
    spec = {k: params[k] for k in ("table", "admin_networks", "ssh_port", "allowed_services", "allow_ping",
                                   "log_drops", "log_rate_per_minute", "log_burst", "log_prefix")}
    try:
        wanted = render_table(spec)
    except ValueError as exc:
        raise MeasureError(str(exc)) from exc

    # 1. Never two firewalls.
    active = {unit: unit_active(module, unit) for unit in CONFLICTS}
    found = conflicts(active, read_text("/etc/ufw/ufw.conf"),
                      any(os.path.exists(os.path.join(d, "ufw")) for d in ("/usr/sbin", "/sbin")))
    if found:
        raise MeasureError(conflict_message(found), socle_conflicts=found)

    # 2. Never lock Ansible out: the connection it uses must be accepted by the new ruleset.
    raw = params["ssh_connection"].strip() or find_ssh_connection(dict(os.environ), params["proc_root"], os.getppid())
    connection = parse_ssh_connection(raw)
    lockout = {"connection": raw, "allowed_by": None}
    if connection is not None:
        ok, rule = connection_allowed(spec, *connection)
        lockout["allowed_by"] = rule or None
        if not ok and params["lockout_guard"]:
            raise MeasureError(
                f"refusing to load the firewall: Ansible is connected from {connection[0]} to port "
                f"{connection[1]}, which the policy would not accept (firewall_admin_networks "
                f"{params['admin_networks']}, firewall_ssh_port {params['ssh_port']}). Nothing was "
                "changed. Add the admin network Ansible connects from, or fix the SSH port.",
                lockout=lockout,
            )

    # 3. Compare the kernel table, the persisted file and the boot unit with what they should be.
    nft = module.get_bin_path("nft", opt_dirs=["/usr/sbin", "/sbin"])
    nft_path = nft or "/usr/sbin/nft"
    table, path = params["table"], params["path"]
    live = live_table(module, nft, table)
    parts = changed_parts(live, wanted)
    file_wanted = render_file(wanted, table)
    file_before = read_text(path)
    unit_path = os.path.join(UNIT_DIR, params["unit"])
    unit_wanted = UNIT_TEXT.format(table=table, path=path, nft=nft_path)
    unit_before = read_text(unit_path)
    rc, out, _err = module.run_command(["systemctl", "is-enabled", params["unit"]])
    enabled = rc == 0 and out.strip() == "enabled"
    kernel_changed = any(parts.values())
    parts["baseline"] = parts["baseline"] or file_before != file_wanted or unit_before != unit_wanted or not enabled
    have_parts, want_parts = split_parts(normalise(live)), split_parts(normalise(wanted))
    part_diffs = {
        p: {"before_header": f"nft table inet {table}: {p} rules", "after_header": f"nft table inet {table}: {p} rules",
            "before": "".join(f"{line}\n" for line in (have_parts or {}).get(p, [])),
            "after": "".join(f"{line}\n" for line in want_parts[p])}
        for p in ("mgmt", "logging")
    }
    diff = [
        {"before_header": f"nft list table inet {table}" + ("" if live is not None else " (absent)"),
         "after_header": f"nft list table inet {table}",
         "before": pretty(normalise(live)), "after": pretty(normalise(wanted))},
        file_diff(path, file_before, file_wanted),
        file_diff(unit_path, unit_before, unit_wanted),
        {"before_header": f"{params['unit']} enablement", "after_header": f"{params['unit']} enablement",
         "before": "enabled\n" if enabled else "disabled\n", "after": "enabled\n"},
    ]
    result = {"changed": any(parts.values()), "socle_parts": parts, "part_diffs": part_diffs,
              "ruleset": wanted, "lockout": lockout, "diff": diff,
              "rollback": {"armed": False, "unit": ROLLBACK_UNIT, "seconds": params["rollback_timeout_s"]}}

    # 4. Validate the new file with nft -c (also in check mode: check fails where apply would).
    tmpdir = module.tmpdir
    candidate = os.path.join(tmpdir, "socle-candidate.nft")
    with open(candidate, "w", encoding="utf-8") as handle:
        handle.write(file_wanted)
    if nft is not None:
        rc, out, err = module.run_command([nft, "-c", "-f", candidate])
        if rc != 0:
            raise MeasureError(f"nft -c rejected the rendered ruleset: {(err or out).strip()}", **result)
    state = {"nft": nft, "nft_path": nft_path, "table": table, "path": path, "live": live, "wanted": wanted,
             "file_wanted": file_wanted, "file_before": file_before, "unit_path": unit_path,
             "unit_wanted": unit_wanted, "unit_before": unit_before, "enabled": enabled,
             "kernel_changed": kernel_changed}
    return result, state


def measure(module, params: dict) -> dict:
    """The check-mode result of state=present (socle_facts makes it ahead in a scheduled audit)."""
    if params["state"] != "present":
        raise MeasureError("only state=present is measured ahead")
    return check(module, params)[0]
