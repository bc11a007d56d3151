"""Run Socle's playbooks through ansible-runner and collect the run record."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
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
        args = ["--diff"]
        if self.mode == "audit":
            args.append("--check")
        if self.tags:
            args += ["--tags", ",".join(self.tags)]
        if self.forks:
            args += ["--forks", str(self.forks)]
        return args


class Progress:
    """One line per host and task result on stderr, so a long run shows where it is."""

    WORDS = {"runner_on_ok": "ok", "runner_on_failed": "FAILED", "runner_on_skipped": "skipped",
             "runner_on_unreachable": "UNREACHABLE"}

    def __init__(self, mode: str, enabled: bool) -> None:
        self.mode, self.enabled = mode, enabled

    def __call__(self, event: dict) -> bool:
        kind = event.get("event", "")
        if not self.enabled or kind not in self.WORDS:
            return True
        data = event.get("event_data", {})
        word = self.WORDS[kind]
        if kind == "runner_on_ok" and data.get("res", {}).get("changed"):
            word = "would change" if self.mode == "audit" else "changed"
        task = str(data.get("task", "")).split(" : ", 1)[-1]
        if len(task) > 72:
            task = task[:71] + "…"
        print(f"[{self.mode}] {data.get('host', '?'):<16} {word:<12} {task}", file=sys.stderr, flush=True)
        return True


def run(options: RunOptions) -> tuple[Path, str]:
    """Run the audit or apply playbook; return the run record path and ansible-runner's status."""
    import ansible_runner  # noqa: PLC0415 - heavy import, only when a run is made

    out_dir = options.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    record = out_dir / "run.json"
    if record.exists():
        record.unlink()
    private = Path(tempfile.mkdtemp(prefix="socle-runner-"))
    env = {
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "SOCLE_RECORD": str(record),
        "SOCLE_RUN_MODE": options.mode,
        "SOCLE_VERSION": __version__,
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        # ansible-runner replaces the callback path with its own; keep the project's in front
        "ANSIBLE_CALLBACK_PLUGINS": str(ROOT / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "socle_record,socle_module_cache,socle_preload",
        # ansible-playbook from the same environment as this Python, activated or not
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        result = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(ROOT),
            playbook=str(PLAYBOOKS[options.mode]),
            inventory=[str(p.resolve()) for p in options.inventories],
            cmdline=" ".join(options.cmdline()),
            limit=options.limit,
            extravars=options.extra_vars or {},
            envvars=env,
            verbosity=options.verbosity or None,
            quiet=True,
            event_handler=Progress(options.mode, options.progress),
            settings={"suppress_ansible_output": True},
        )
        status = result.status
        # Ansible's own output, kept beside the record for troubleshooting (secrets are no_log: the
        # reliability tests look for canary passwords in this file too, up to -vvv).
        stdout = result.stdout.read() if result.stdout else ""
        (out_dir / "ansible-output.txt").write_text(stdout, encoding="utf-8")
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return record, status


