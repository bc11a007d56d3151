"""Jinja filters for the Windows account controls (measure 5): socle_win_probe output -> findings, values.

The decisions live in module_utils/socle_windows_accounts.py (unit-tested on recorded outputs);
these filters only adapt them to task arguments. They run on the controller.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import os
import sys
from pathlib import Path

_NAME = "socle_module_utils_windows_accounts"


def _load_decisions():
    """module_utils/socle_windows_accounts.py, by path: controller plugins cannot import project module_utils."""
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    path = Path(__file__).resolve().parent.parent / "module_utils" / "socle_windows_accounts.py"
    spec = importlib.util.spec_from_file_location(_NAME, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


acc = _load_decisions()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _section(probe: dict, name: str):
    return (probe or {}).get("probe", probe or {}).get(name)


def _audit_backup(probe: dict) -> bytes | None:
    encoded = _section(probe, "audit_policy_b64")
    return base64.b64decode(encoded) if encoded else None


def account_findings(probe: dict, generic: list, unused_days: int, allowed_admins: list) -> dict:
    """Control ID -> finding for the measured account controls."""
    users = _section(probe, "users")
    identity = _section(probe, "identity") or {}
    return {
        "M5-WIN-EMPTY-PASSWORDS": acc.empty_passwords_finding(users),
        "M5-WIN-ADMINS-MEMBERSHIP": acc.admins_finding(_section(probe, "admins"), list(allowed_admins or []),
                                                       identity),
        "M5-WIN-SHARED-ACCOUNTS": acc.shared_finding(users, list(generic or [])),
        "M5-WIN-UNUSED-ACCOUNTS": acc.unused_finding(users, int(unused_days), _now(),
                                                     str(identity.get("user_sid") or "")),
    }


def departed_present(probe: dict, departed: list) -> list:
    return acc.departed_present(_section(probe, "users"), list(departed or []))


def departed_guard(probe: dict, departed: list, ansible_user: str = "") -> list:
    return acc.departed_guard(_section(probe, "identity") or {}, _section(probe, "users"), list(departed or []),
                              str(ansible_user or ""))


def audit_changes(probe: dict) -> list:
    return acc.audit_changes(_audit_backup(probe))


def audit_finding(probe: dict) -> dict:
    return acc.audit_finding(_audit_backup(probe))


def join_state(probe: dict) -> str:
    return acc.join_state(_section(probe, "system"), _section(probe, "laps"))


def laps_values(probe: dict, age_days: int, length: int, account: str = "") -> list:
    return acc.laps_values(join_state(probe), int(age_days), int(length), str(account or ""))


def laps_root(probe: dict) -> str:
    """The LAPS policy root in effect (csp, gpo, local, legacy), or "" when none has a value."""
    return acc.laps_effective(_section(probe, "laps"))[0] or ""


def laps_finding(probe: dict, age_days: int, length: int) -> dict:
    return acc.laps_finding(join_state(probe), _section(probe, "laps"), int(age_days), int(length))


def admin_vault_file(folder: str, inventory_dir: str, hostname: str) -> str:
    """Where the host's local admin password is kept: ``<folder>/<host>.yml``, a relative folder being
    taken from the inventory's folder (so the project runs from a clone and on AWX alike)."""
    base = folder if os.path.isabs(folder) else os.path.join(inventory_dir or ".", folder)
    return os.path.normpath(os.path.join(base, f"{hostname}.yml"))


def rotation_plan(probe: dict, account: str, max_age_days: int, vault_file: str, vault_lasting: bool = True) -> dict:
    return acc.rotation_plan(_section(probe, "identity") or {}, _section(probe, "users"), _section(probe, "system"),
                             _section(probe, "laps"), str(account or ""), int(max_age_days), _now(),
                             os.path.exists(vault_file), bool(vault_lasting))


class FilterModule:
    """socle_win_* filters of the account controls."""

    def filters(self):
        return {
            "socle_win_account_findings": account_findings,
            "socle_win_departed_present": departed_present,
            "socle_win_departed_guard": departed_guard,
            "socle_win_audit_changes": audit_changes,
            "socle_win_audit_finding": audit_finding,
            "socle_win_join_state": join_state,
            "socle_win_laps_values": laps_values,
            "socle_win_laps_finding": laps_finding,
            "socle_win_laps_root": laps_root,
            "socle_win_admin_vault_file": admin_vault_file,
            "socle_win_rotation_plan": rotation_plan,
        }
