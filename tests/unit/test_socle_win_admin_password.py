"""socle_win_admin_password: M5-WIN-LOCAL-ADMIN-ROTATION on workgroup PCs, with the Windows side mocked at
the module boundary (the call to ansible.windows.win_user).

The canary: a rotation's password reaches win_user and the ansible-vault file (encrypted), and nothing
else the project writes: not the task result, not the messages, not the run record, not the HTML,
JUnit and CSV reports rendered from it.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from conftest import load_project_module

action = load_project_module("action_plugins", "socle_win_admin_password")
record_cb = load_project_module("callback_plugins", "socle_record")

SECRET = [("default", VaultSecret(b"coffre-de-l-ehpad"))]
TASK_NAME = "M5-WIN-LOCAL-ADMIN-ROTATION | Rotate the local admin password into the vault (workgroup)"


class WindowsSide:
    """What ansible.windows.win_user would be sent; answers as the module does."""

    def __init__(self, failed: bool = False):
        self.calls: list[dict] = []
        self.failed = failed

    def __call__(self, module_name=None, module_args=None, task_vars=None, **_kwargs):
        self.calls.append({"module": module_name, "args": dict(module_args)})
        if self.failed:
            return {"failed": True, "msg": "Failed to update password"}
        return {"changed": True, "state": "present", "name": module_args["name"]}


def run_action(monkeypatch, tmp_path: Path, *, check_mode=False, no_log=True, secrets=SECRET, rotate=True,
               windows=None, vault_file=None):
    monkeypatch.setattr(action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    plugin = action.ActionModule.__new__(action.ActionModule)
    vault_file = vault_file or tmp_path / "vault" / "accueil-pc.yml"
    plugin._task = SimpleNamespace(
        args={"account": "Administrateur", "rotate": rotate, "reason": "the password of Administrateur was never set",
              "vault_file": str(vault_file), "length": 20},
        no_log=no_log, check_mode=check_mode)
    plugin._loader = SimpleNamespace(_vault=SimpleNamespace(secrets=secrets))
    windows = windows or WindowsSide()
    plugin._execute_module = windows
    return plugin.run(task_vars={}), windows, vault_file


def opened(vault_file: Path) -> dict:
    return yaml.safe_load(VaultLib(SECRET).decrypt(vault_file.read_bytes()))


def test_generated_passwords_have_every_class_and_differ():
    passwords = {action.generate(20) for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 20
        assert all(set(password) & set(alphabet) for alphabet in action.ALPHABETS)
        assert not set(password) & set("\"'`$\\ ")


def test_check_mode_says_would_rotate_and_changes_nothing(monkeypatch, tmp_path):
    result, windows, vault_file = run_action(monkeypatch, tmp_path, check_mode=True)
    assert result["changed"] is True
    assert result["msg"].startswith("would rotate the password of Administrateur: the password of Administrateur "
                                    "was never set")
    assert windows.calls == [] and not vault_file.exists()


def test_nothing_due_nothing_done(monkeypatch, tmp_path):
    result, windows, vault_file = run_action(monkeypatch, tmp_path, rotate=False)
    assert result["changed"] is False and windows.calls == [] and not vault_file.exists()


@pytest.mark.parametrize("check_mode", [True, False])
def test_without_a_vault_secret_nothing_changes_in_either_mode(monkeypatch, tmp_path, check_mode):
    result, windows, vault_file = run_action(monkeypatch, tmp_path, check_mode=check_mode, secrets=[])
    assert result["changed"] is False and "failed" not in result
    assert "no vault secret was given to the run" in result["msg"]
    assert windows.calls == [] and not vault_file.exists()


def test_a_vault_file_of_another_secret_is_never_overwritten(monkeypatch, tmp_path):
    vault_file = tmp_path / "accueil-pc.yml"
    other = [("default", VaultSecret(b"un-autre-secret"))]
    vault_file.write_bytes(VaultLib(other).encrypt(b"password: ancien\n", other[0][1]))
    before = vault_file.read_bytes()
    result, windows, _ = run_action(monkeypatch, tmp_path, vault_file=vault_file)
    assert result["changed"] is False and "cannot be opened" in result["msg"]
    assert windows.calls == [] and vault_file.read_bytes() == before


def test_the_task_must_set_no_log(monkeypatch, tmp_path):
    result, windows, _ = run_action(monkeypatch, tmp_path, no_log=False)
    assert result["failed"] is True and "no_log: true" in result["msg"]
    assert windows.calls == []


def test_a_failed_win_user_keeps_the_previous_password_in_the_vault(monkeypatch, tmp_path):
    vault_file = tmp_path / "accueil-pc.yml"
    vault_file.write_bytes(VaultLib(SECRET).encrypt(b"account: Administrateur\npassword: Ancien-Mdp-2026!\n",
                                                    SECRET[0][1]))
    result, windows, _ = run_action(monkeypatch, tmp_path, vault_file=vault_file, windows=WindowsSide(failed=True))
    assert result["failed"] is True and "keeps the new and the previous password" in result["msg"]
    kept = opened(vault_file)
    assert kept["previous_password"] == "Ancien-Mdp-2026!"
    assert kept["password"] == windows.calls[0]["args"]["password"]


def _record(result: dict, folder: Path, monkeypatch, censored: bool) -> Path:
    """The run record the socle_record callback writes for this task result (as Ansible hands it over)."""
    path = folder / "run.json"
    monkeypatch.setenv("SOCLE_RECORD", str(path))
    monkeypatch.setenv("SOCLE_RUN_MODE", "apply")
    plugin = record_cb.CallbackModule()
    handed = {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified",
              "changed": result["changed"]} if censored else result
    fake = SimpleNamespace(_host=SimpleNamespace(get_name=lambda: "accueil-pc"),
                           _task=SimpleNamespace(get_name=lambda: f"accounts : {TASK_NAME}"), _result=handed)
    plugin.v2_runner_on_ok(fake)
    plugin.v2_playbook_on_stats(None)
    return path


@pytest.mark.parametrize("censored", [True, False], ids=["as-ansible-censors-it", "even-uncensored"])
def test_canary_the_password_never_leaves_win_user_and_the_vault(monkeypatch, tmp_path, capsys, censored):
    previous = "Canari-Precedent-42!"
    vault_file = tmp_path / "vault" / "accueil-pc.yml"
    vault_file.parent.mkdir()
    vault_file.write_bytes(VaultLib(SECRET).encrypt(f"password: {previous}\n".encode(), SECRET[0][1]))
    result, windows, _ = run_action(monkeypatch, tmp_path, vault_file=vault_file)

    (call,) = windows.calls
    password = call["args"]["password"]
    assert call == {"module": "ansible.windows.win_user",
                    "args": {"name": "Administrateur", "password": password, "update_password": "always"}}
    assert result["changed"] is True and result["msg"].startswith("rotated the password of Administrateur")
    # The vault file: encrypted (ansible-vault format, mode 0600), and it opens to the new password.
    raw = vault_file.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    assert vault_file.stat().st_mode & 0o777 == 0o600
    assert opened(vault_file)["password"] == password
    assert opened(vault_file)["previous_password"] == previous

    # Everything else the project writes: the result, the messages, the run record, the reports.
    from socle.report import write_reports

    record = _record(result, tmp_path / "out", monkeypatch, censored)
    reports = write_reports(record, tmp_path / "out" / "report")
    written = [raw, json.dumps(result).encode(), capsys.readouterr().out.encode(), record.read_bytes()]
    written += [Path(p).read_bytes() for p in reports.values() if Path(p).is_file()]
    for secret in (password, previous):
        for blob in written:
            assert secret.encode() not in blob
    leftovers = [p for p in vault_file.parent.iterdir() if p.name != vault_file.name]
    assert leftovers == []  # no temporary file left behind
    status = json.loads(record.read_text())["hosts"]["accueil-pc"]["controls"]["M5-WIN-LOCAL-ADMIN-ROTATION"]
    assert status["changed"] is True


def test_password_alphabet_is_what_it_says():
    assert set("".join(action.ALPHABETS)) == set(string.ascii_letters + string.digits + action.SPECIALS)
