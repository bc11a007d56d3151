"""Where the command line keeps what it derives from the project's own files between runs.

Only content-addressed results live here (a catalogue's validation verdict, compiled report templates):
each is found again only for byte-identical inputs, so a stale entry cannot be used, and a folder that
cannot be read or written only costs the work again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


def cache_dir(name: str, environ=None) -> Path:
    """``$XDG_CACHE_HOME/socle/<name>`` (``~/.cache/socle/<name>``)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "socle" / name


def digest(*parts: bytes | str) -> str:
    """One SHA-256 over the parts, each length-prefixed so that no two lists of parts collide."""
    sha = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        sha.update(f"{len(data)}:".encode())
        sha.update(data)
    return sha.hexdigest()


def has_marker(name: str, key: str) -> bool:
    return (cache_dir(name) / key).is_file()


def set_marker(name: str, key: str) -> None:
    """Record ``key`` under ``name``; a folder that cannot be written is left alone."""
    with contextlib.suppress(OSError):
        folder = cache_dir(name)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        (folder / key).touch()
