"""Shared test set-up: make the project's module_utils importable the way Ansible ships them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_module_utils() -> None:
    """Every project module_utils file as ansible.module_utils.<name>, each after those it imports."""
    pending = sorted((ROOT / "module_utils").glob("*.py"))
    while pending:
        deferred = []
        for path in pending:
            try:
                _load(f"ansible.module_utils.{path.stem}", path)
            except ModuleNotFoundError as exc:
                if not (exc.name or "").startswith("ansible.module_utils.socle_"):
                    raise
                sys.modules.pop(f"ansible.module_utils.{path.stem}", None)
                deferred.append(path)
        if len(deferred) == len(pending):
            raise ImportError(f"module_utils that import each other or a missing file: {deferred}")
        pending = deferred


_load_module_utils()


def load_project_module(kind: str, name: str):
    """Import library/<name>.py or action_plugins/<name>.py as a Python module for unit tests."""
    return _load(f"socle_test_{kind}_{name}", ROOT / kind / f"{name}.py")


@pytest.fixture
def run_module(capsys):
    """Call a module's main() with arguments; return its JSON result (check mode on request)."""

    def _run(module, args: dict, check_mode: bool = False) -> dict:
        full = {**args, "_ansible_check_mode": check_mode, "_ansible_diff": True}
        with patch_module_args(full), pytest.raises(SystemExit):
            module.main()
        return json.loads(capsys.readouterr().out)

    return _run
