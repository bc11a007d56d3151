"""Jinja filters that turn what socle_win_probe read on a Windows host into Socle findings and values.

The decisions live in module_utils/socle_windows.py (unit-tested on recorded outputs); these filters
only adapt them to task arguments. They run on the controller.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import sys
from pathlib import Path


def _load(stem: str):
    """module_utils/<stem>.py, by path: controller plugins cannot import project module_utils."""
    name = f"socle_module_utils_{stem.removeprefix('socle_')}"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "module_utils" / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


win = _load("socle_windows")
restic = _load("socle_restic")  # the snapshot decisions the Linux findings use
# restic 0.17 and later exit codes (restic's messages are not read).
RESTIC_EXIT = {10: "the repository does not exist yet", 11: "the repository is locked",
               12: "the password is wrong"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _section(probe: dict, name: str):
    return (probe or {}).get("probe", probe or {}).get(name)


def defender_signature(probe: dict, max_age_h: int) -> dict:
    return win.defender_signature_finding(_section(probe, "defender"), _section(probe, "av_products"),
                                          int(max_age_h), _now())


def defender_runtime(probe: dict, control: str) -> dict:
    return win.defender_runtime_finding(control, _section(probe, "defender"), _section(probe, "av_products"))


def defender_defers_to(probe: dict) -> list:
    return win.defender_defers_to(_section(probe, "defender"), _section(probe, "av_products"))


def third_party_av(probe: dict) -> dict:
    system = _section(probe, "system") or {}
    is_server = int(system.get("product_type") or 1) != 1
    return win.third_party_av_finding(_section(probe, "defender"), _section(probe, "av_products"), is_server)


def gpo_owned(probe: dict, values: list) -> dict:
    return win.gpo_owned(_section(probe, "rsop"), values)


def gpo_finding(owned: dict) -> dict:
    return win.gpo_finding(owned)


def firewall_effective(probe: dict, check: str) -> dict:
    return win.firewall_effective_finding(_section(probe, "firewall"), check)


def access_guard(probe: dict, disable_builtin_admin: bool, admin_name: str, admin_networks: list | None = None) -> list:
    encoded = _section(probe, "secedit_b64")
    secedit = base64.b64decode(encoded) if encoded else None
    return win.access_guard(_section(probe, "identity") or {}, secedit, _section(probe, "users"),
                            bool(disable_builtin_admin), admin_name or "",
                            None if admin_networks is None else list(admin_networks))


def password_policy(min_length: int, history: int, max_age_days: int, min_age_days: int) -> dict:
    return win.password_policy(int(min_length), int(history), int(max_age_days), int(min_age_days))


def lockout_policy(threshold: int, duration_s: int, window_s: int) -> dict:
    return win.lockout_policy(int(threshold), int(duration_s), int(window_s))


def builtin_account(probe: dict, wanted_rid: int) -> dict:
    return win.builtin_account(_section(probe, "users"), int(wanted_rid)) or {}


def home_edition(probe: dict) -> dict:
    return win.home_edition_finding(_section(probe, "system"))


def last_install(probe: dict, max_age_days: int) -> dict:
    return win.last_install_finding(_section(probe, "wu_history"), int(max_age_days), _now())


def pending_updates(probe: dict, max_pending: int, deadline_days: int) -> dict:
    system = _section(probe, "system") or {}
    return win.pending_updates_finding(_section(probe, "wu_pending"), bool(system.get("reboot_pending")),
                                       int(max_pending), int(deadline_days), _now())


def os_supported(probe: dict) -> dict:
    return win.os_supported_finding(_section(probe, "system"), _now().date())


def user_hives(probe: dict) -> list:
    return win.user_hives(_section(probe, "profiles"), _section(probe, "default_profile"))


def screensaver_values(timeout_s: int) -> list:
    return win.screensaver_values(int(timeout_s))


def management_path(probe: dict, ports: list, admin_networks: list) -> dict:
    return win.management_path_finding(_section(probe, "firewall_rules"), list(ports), list(admin_networks))


def restic_snapshot_finding(result: dict, max_age_h: int, label: str, hostname: str, now: dt.datetime) -> dict:
    """M3-WIN-BACKUP-AGE, M3-WIN-OFFSITE-AGE: what socle_win_restic_snapshots read, decided by socle_restic."""
    result = result or {}
    expected = f"{label}: newest snapshot at most {int(max_age_h)} h old"
    if result.get("restic_missing"):
        return {"status": "drift", "expected": expected, "actual": f"{label}: restic is not installed yet"}
    if result.get("password_missing"):
        return {"status": "drift", "expected": expected, "actual": f"{label}: the password file is not there yet"}
    rc = result.get("rc")
    if rc != 0:
        why = RESTIC_EXIT.get(rc, "restic failed")
        detail = str(result.get("stderr") or "").strip().splitlines()[:1]
        actual = f"{label}: cannot read the snapshots, {why} (exit code {rc})" + (f": {detail[0]}" if detail else "")
        return {"status": "drift", "expected": expected, "actual": actual}
    snapshots = restic.parse_snapshots(str(result.get("stdout") or ""))
    return restic.snapshot_age_finding(restic.latest_snapshot(snapshots, hostname), now, int(max_age_h), label)


def restic_age(result: dict, max_age_h: int, label: str, hostname: str) -> dict:
    return restic_snapshot_finding(result, int(max_age_h), label, hostname, _now())


def cmdline(argv: list) -> str:
    return win.command_line(argv)


class FilterModule:
    """socle_win_* filters."""

    def filters(self):
        return {
            "socle_win_defender_signature": defender_signature,
            "socle_win_defender_runtime": defender_runtime,
            "socle_win_defender_defers_to": defender_defers_to,
            "socle_win_third_party_av": third_party_av,
            "socle_win_gpo_owned": gpo_owned,
            "socle_win_gpo_finding": gpo_finding,
            "socle_win_firewall_effective": firewall_effective,
            "socle_win_access_guard": access_guard,
            "socle_win_password_policy": password_policy,
            "socle_win_lockout_policy": lockout_policy,
            "socle_win_builtin_account": builtin_account,
            "socle_win_home_edition": home_edition,
            "socle_win_last_install": last_install,
            "socle_win_pending_updates": pending_updates,
            "socle_win_os_supported": os_supported,
            "socle_win_user_hives": user_hives,
            "socle_win_screensaver_values": screensaver_values,
            "socle_win_management_path": management_path,
            "socle_win_restic_age": restic_age,
            "socle_win_cmdline": cmdline,
        }
