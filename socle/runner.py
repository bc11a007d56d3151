"""Run Socle's playbooks with ansible-playbook and collect the run record."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from socle import __version__

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = {"audit": ROOT / "playbooks" / "audit.yml", "apply": ROOT / "playbooks" / "site.yml"}


@dataclass
class RunOptions:
    """Everything one run needs; built by the command line, the tests and the benchmarks."""

    mode: str
    inventories: list[Path]
    out_dir: Path
    limit: str | None = None
    tags: list[str] = field(default_factory=list)
    forks: int | None = None
    extra_vars: dict | None = None
    verbosity: int = 0
    progress: bool = True

    def cmdline(self) -> list[str]:
        # The record is written by the socle_record callback; the set_stats play is for AWX's job artifacts.
        args = ["--diff", "-e", "socle_publish=false"]
        if self.mode == "audit":
            args.append("--check")
        if self.tags:
            args += ["--tags", ",".join(self.tags)]
        if self.forks:
            args += ["--forks", str(self.forks)]
        return args


def run(options: RunOptions, meanwhile: Callable[[], object] | None = None) -> tuple[Path, str]:
    """Run the audit or apply playbook; return the run record path and how ansible-playbook ended.

    ansible-playbook runs directly (AWX runs the same playbooks through ansible-runner): its output goes to
    ``ansible-output.txt`` beside the record, and the ``socle_progress`` callback writes one line per host
    and task result on this process's standard error. ``meanwhile`` is called once ansible-playbook has
    started (the command line loads its report code then, instead of before or after the run); the run is
    waited for even if it raises.
    """
    out_dir = options.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    record = out_dir / "run.json"
    if record.exists():
        record.unlink()
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "SOCLE_RECORD": str(record),
        "SOCLE_RUN_MODE": options.mode,
        "SOCLE_VERSION": __version__,
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CALLBACK_PLUGINS": str(ROOT / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "socle_record,socle_module_cache,socle_preload,socle_progress",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        # ansible-playbook from the same environment as this Python, activated or not
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("SOCLE_PROGRESS_FD", None)
    cmd = [str(Path(sys.executable).with_name("ansible-playbook"))]
    for inventory in options.inventories:
        cmd += ["-i", str(inventory.resolve())]
    cmd += options.cmdline()
    if options.limit:
        cmd += ["--limit", options.limit]
    if options.verbosity:
        cmd.append("-" + "v" * min(options.verbosity, 6))
    private = Path(tempfile.mkdtemp(prefix="socle-run-"))  # mode 0700: the extra variables may hold secrets
    progress = os.dup(sys.stderr.fileno()) if options.progress else None
    try:
        if options.extra_vars:
            extra = private / "extravars.json"
            extra.write_text(json.dumps(options.extra_vars), encoding="utf-8")
            extra.chmod(0o600)
            cmd += ["-e", f"@{extra}"]
        cmd.append(str(PLAYBOOKS[options.mode]))
        if progress is not None:
            env["SOCLE_PROGRESS_FD"] = str(progress)
        # Ansible's own output, kept beside the record for troubleshooting (secrets are no_log: the
        # reliability tests look for canary passwords in this file too, up to -vvv).
        with open(out_dir / "ansible-output.txt", "w", encoding="utf-8") as output:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                    stderr=subprocess.STDOUT, pass_fds=(progress,) if progress is not None else ())
            try:
                if meanwhile is not None:
                    meanwhile()
            finally:
                proc.wait()
    finally:
        if progress is not None:
            os.close(progress)
        shutil.rmtree(private, ignore_errors=True)
    status = "successful" if proc.returncode == 0 else f"failed, ansible-playbook exit code {proc.returncode}"
    return record, status
