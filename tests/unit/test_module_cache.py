"""The persistent cache of built module payloads (callback_plugins/socle_module_cache.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, load_project_module

cache = load_project_module("callback_plugins", "socle_module_cache")


def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    library, utils, collections = tmp_path / "library", tmp_path / "module_utils", tmp_path / "collections"
    library.mkdir()
    utils.mkdir()
    (library / "mod.py").write_text("print('v1')\n")
    (utils / "helper.py").write_text("X = 1\n")
    (collections / "ansible_collections" / "ns" / "coll").mkdir(parents=True)
    return library, utils, collections


def test_the_key_changes_with_any_module_module_utils_or_collection(tmp_path: Path):
    library, utils, collections = tree(tmp_path)
    key = cache.code_key([library], [utils], [collections])
    assert cache.code_key([library], [utils], [collections]) == key
    (library / "mod.py").write_text("print('v2')\n")
    changed = cache.code_key([library], [utils], [collections])
    assert changed != key
    (utils / "helper.py").write_text("X = 2\n")
    assert cache.code_key([library], [utils], [collections]) not in (key, changed)
    before = cache.code_key([library], [utils], [collections])
    os.utime(collections / "ansible_collections" / "ns" / "coll", ns=(1, 1))  # reinstalled collection
    assert cache.code_key([library], [utils], [collections]) != before
    # Bytecode caches do not count.
    before = cache.code_key([library], [utils], [collections])
    (library / "__pycache__").mkdir()
    (library / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"x")
    assert cache.code_key([library], [utils], [collections]) == before


def test_the_run_folder_links_to_the_persistent_one_and_its_removal_keeps_it(tmp_path: Path):
    run_tmp, base = tmp_path / "ansible-local-1", tmp_path / "cache"
    run_tmp.mkdir()
    target = cache.link_cache(run_tmp, base, "k1")
    assert target == base / "k1" and (run_tmp / "ansiballz_cache").resolve() == target
    assert oct(base.stat().st_mode & 0o777) == "0o700"
    (run_tmp / "ansiballz_cache" / "ansible.legacy.x-ZIP_DEFLATED-none").write_bytes(b"payload")
    assert cache.link_cache(run_tmp, base, "k1") is None  # already linked
    shutil.rmtree(run_tmp)  # what Ansible does with its temporary folder at the end of a run
    assert (target / "ansible.legacy.x-ZIP_DEFLATED-none").read_bytes() == b"payload"


def test_other_keys_unused_for_a_week_are_pruned(tmp_path: Path):
    base = tmp_path / "cache"
    for name in ("current", "recent", "old"):
        (base / name).mkdir(parents=True)
    old = time.time() - 8 * 24 * 3600
    os.utime(base / "old", (old, old))
    os.utime(base / "current", (old, old))
    cache.prune(base, "current", time.time())
    assert sorted(p.name for p in base.iterdir()) == ["current", "recent"]


def test_two_real_runs_share_the_payloads_and_off_turns_it_off(tmp_path: Path):
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n")
    base = tmp_path / "cache"

    def run(setting: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
        env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), SOCLE_MODULE_CACHE=setting,
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), HOME=str(tmp_path))
        return subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c",
                               "local", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                              capture_output=True, text=True, env=env, timeout=120, check=False)

    first = run(str(base))
    assert first.returncode == 0, first.stdout + first.stderr
    keys = list(base.iterdir())
    assert len(keys) == 1
    payloads = sorted(p.name for p in keys[0].iterdir() if not p.name.endswith(".lock"))
    assert payloads == ["ansible.modules.ping-ZIP_DEFLATED-none"], payloads
    built = (keys[0] / payloads[0]).stat().st_mtime_ns
    second = run(str(base))
    assert second.returncode == 0, second.stdout + second.stderr
    assert (keys[0] / payloads[0]).stat().st_mtime_ns == built  # used, not rebuilt
    assert not list((tmp_path / "tmp").iterdir())  # Ansible's own temporary folders are gone
    off = run("off")
    assert off.returncode == 0 and list(base.iterdir()) == keys
