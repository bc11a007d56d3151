"""Keep Ansible's built module payloads (AnsiballZ) from one run to the next."""

from __future__ import annotations

DOCUMENTATION = r"""
name: socle_module_cache
type: aggregate
short_description: Keep the built module payloads (AnsiballZ) between runs
description:
  - Before running a module, Ansible builds its payload (the module and every module_utils file it
    imports, found by parsing their source) and caches it, but only for the run - in a folder of the
    run's own temporary directory, deleted at the end. An audit uses about twenty modules, so every run
    spends seconds of controller time building the same payloads again.
  - This plugin points that cache folder to a persistent one, under a key computed from everything
    the payloads are built from - the ansible-core and Python versions, the contents of the configured
    module and module_utils folders (Socle's library and module_utils), and the installed collections
    (path and modification time of each) - so a changed module or collection gets a new cache, never a
    stale payload. Cache folders of other keys unused for 7 days are removed.
  - The folder is C(SOCLE_MODULE_CACHE) if set, else C($XDG_CACHE_HOME/socle/ansiballz) (by default
    C(~/.cache/socle/ansiballz)), created private (mode 0700). C(SOCLE_MODULE_CACHE=off) turns the
    plugin off. Any failure only turns the persistent cache off for the run, with a message at -vvv.
requirements: []
"""

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

from ansible import __version__ as ansible_version
from ansible import constants as C
from ansible.plugins.callback import CallbackBase

KEEP_OTHER_KEYS_S = 7 * 24 * 3600


def _folders(setting) -> list[Path]:
    paths = setting if isinstance(setting, list) else str(setting or "").split(os.pathsep)
    return [Path(os.path.expanduser(str(p))) for p in paths if p]


def code_key(module_paths, module_utils_paths, collection_paths) -> str:
    """A digest of everything a module payload is built from."""
    digest = hashlib.sha256(f"{ansible_version}\0{sys.version}\0".encode())
    for folder in [*module_paths, *module_utils_paths]:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(f"{path}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    for folder in collection_paths:
        root = folder / "ansible_collections"
        if not root.is_dir():
            continue
        for collection in sorted(root.glob("*/*")):
            stat = collection.stat()
            digest.update(f"{collection}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:24]


def cache_base() -> Path | None:
    setting = os.environ.get("SOCLE_MODULE_CACHE", "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "socle" / "ansiballz"


def prune(base: Path, keep: str, now: float) -> None:
    for other in base.iterdir():
        if other.name != keep and other.is_dir() and now - other.stat().st_mtime > KEEP_OTHER_KEYS_S:
            shutil.rmtree(other, ignore_errors=True)


def link_cache(run_tmp: Path, base: Path, key: str) -> Path | None:
    """Make ``run_tmp/ansiballz_cache`` the persistent ``base/key`` folder; None if it already exists."""
    link = run_tmp / "ansiballz_cache"
    if link.exists() or link.is_symlink():
        return None
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    base.chmod(0o700)
    target = base / key
    target.mkdir(exist_ok=True, mode=0o700)
    os.utime(target)  # marks the key as in use, for prune()
    link.symlink_to(target, target_is_directory=True)
    return target


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "socle_module_cache"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        base = cache_base()
        if base is None:
            return
        try:
            from ansible.utils.collection_loader import AnsibleCollectionConfig

            key = code_key(_folders(C.DEFAULT_MODULE_PATH), _folders(C.DEFAULT_MODULE_UTILS_PATH),
                           [Path(p) for p in AnsibleCollectionConfig.collection_paths])
            target = link_cache(Path(C.DEFAULT_LOCAL_TMP), base, key)
            if target is not None:
                prune(base, key, time.time())
                self._display.vvv(f"socle_module_cache: module payloads cached in {target}")
        except Exception as exc:  # noqa: BLE001 - an optimisation: the run goes on with Ansible's own cache
            self._display.vvv(f"socle_module_cache: persistent cache off for this run: {exc}")
