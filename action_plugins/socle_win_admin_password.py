"""Rotate the local administrator password of a workgroup Windows PC, and keep it in an ansible-vault file."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_win_admin_password
short_description: Rotate a Windows local admin password from the controller and keep it in ansible-vault
description:
  - For workgroup PCs, where Windows LAPS manages nothing. The decision (is rotation due, which account,
    never the account Ansible uses) is made before, by the C(socle_win_rotation_plan) filter; this action
    only carries it out.
  - Generates a random password on the controller (Python C(secrets)), writes it to an ansible-vault
    encrypted file on the controller (readable with C(ansible-vault view)), then sets it on the host with
    C(ansible.windows.win_user) (C(update_password=always)). The vault file keeps the previous password
    too, so a failure between the two steps never loses the way in.
  - Check mode changes nothing, generates nothing and reports C(changed) with "would rotate" when rotation
    is due.
  - The password never appears in the result, the messages or the run record. The task must set
    C(no_log), or the action refuses to run.
  - When rotation is due but no vault secret is given to the run (C(--vault-id) or
    C(--vault-password-file)), or the existing vault file cannot be opened with it, nothing is changed,
    in check mode and apply alike, and the result says why.
options:
  account:
    description: Name of the local account, as Windows spells it (the plan finds the built-in
      Administrator by its RID 500).
    type: str
    required: true
  rotate:
    description: Whether rotation is due (from the plan).
    type: bool
    required: true
  reason:
    description: Why rotation is due, for the messages.
    type: str
    default: ""
  vault_file:
    description: The ansible-vault file of this host on the controller.
    type: path
    required: true
  length:
    description: Length of the generated password.
    type: int
    default: 20
"""

import datetime as dt
import os
import secrets
import string
import tempfile

import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, match_encrypt_secret
from ansible.plugins.action import ActionBase

# Characters WinRM, PowerShell and a French keyboard all pass unchanged (no quotes, backslash, $ or `).
SPECIALS = "!#%*+-.:=?@_~"
ALPHABETS = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SPECIALS)


def generate(length: int) -> str:
    """A random password with at least one character of each class (what complexity rules require)."""
    length = max(int(length), len(ALPHABETS))
    chars = [secrets.choice(alphabet) for alphabet in ALPHABETS]
    pool = "".join(ALPHABETS)
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    for index in range(len(chars) - 1, 0, -1):  # Fisher-Yates with a CSPRNG
        other = secrets.randbelow(index + 1)
        chars[index], chars[other] = chars[other], chars[index]
    return "".join(chars)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # Check mode is handled here: nothing is generated, written or sent to the host.
    _supports_check_mode = True

    def _vault(self) -> VaultLib | None:
        vault = getattr(self._loader, "_vault", None)
        found = list(getattr(vault, "secrets", None) or [])
        return VaultLib(found) if found else None

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        result["changed"] = False
        if not self._task.no_log:
            result["failed"] = True
            result["msg"] = "socle_win_admin_password handles a password: its task must set no_log: true"
            return result
        account, path = str(args.get("account") or ""), str(args.get("vault_file") or "")
        reason = str(args.get("reason") or "rotation due")
        result.update(account=account, vault_file=path)
        if not args.get("rotate"):
            result["msg"] = f"nothing to rotate for {account or 'this host'}"
            return result
        vault = self._vault()
        if vault is None:
            result["msg"] = (f"cannot rotate the password of {account} ({reason}): no vault secret was given to "
                             "the run (--vault-id or --vault-password-file); nothing was changed")
            return result
        previous = None
        if os.path.exists(path):
            try:
                with open(path, "rb") as handle:
                    previous = yaml.safe_load(to_text(vault.decrypt(handle.read()))) or {}
            except (AnsibleError, OSError, yaml.YAMLError):
                result["msg"] = (f"cannot rotate the password of {account}: {path} exists but cannot be opened "
                                 "with the vault secret of this run; nothing was changed")
                return result
        result["changed"] = True
        if self._task.check_mode:
            result["msg"] = f"would rotate the password of {account}: {reason}; it would be kept in {path}"
            return result

        password = generate(int(args.get("length") or 20))
        self._write(vault, path, {
            "account": account,
            "password": password,
            "previous_password": (previous or {}).get("password"),
            "changed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
        module = self._execute_module(
            module_name="ansible.windows.win_user",
            module_args={"name": account, "password": password, "update_password": "always"},
            task_vars=task_vars,
        )
        del password
        if module.get("failed"):
            result["failed"] = True
            result["msg"] = (f"setting the new password of {account} failed; {path} keeps the new and the "
                             "previous password: one of them is current")
            return result
        result["msg"] = f"rotated the password of {account} ({reason}); kept in {path}"
        return result

    @staticmethod
    def _write(vault: VaultLib, path: str, data: dict) -> None:
        """Encrypt with the run's first vault secret and replace the file atomically (mode 0600)."""
        vault_id, secret = match_encrypt_secret(vault.secrets)
        text = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True, sort_keys=False)
        encrypted = vault.encrypt(to_bytes(text), secret, vault_id=vault_id)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".socle-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(encrypted)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
