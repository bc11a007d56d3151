"""File helpers shared by Socle's modules: read, render diffs, write atomically."""

from __future__ import annotations

import os
import tempfile


def read_text(path: str) -> str | None:
    """Return the file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def file_diff(path: str, before: str | None, after: str | None) -> dict:
    """One entry of an Ansible diff list for a file going from before to after."""
    return {
        "before_header": path if before is not None else f"{path} (absent)",
        "after_header": path if after is not None else f"{path} (absent)",
        "before": before or "",
        "after": after or "",
    }


def atomic_write(module, path: str, content: str | bytes, mode: int = 0o644) -> None:
    """Write content (text, or bytes as they are) to path through a temp file in the same folder and an
    atomic rename.

    A full disk or an interruption leaves either the old file or the new one, never half of it.
    """
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".socle-", dir=folder)
    try:
        binary = isinstance(content, bytes)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        module.atomic_move(tmp, path, unsafe_writes=False)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
