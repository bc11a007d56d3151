"""Helpers shared by the molecule verifiers (testinfra) and the integration tests.

A molecule verifier runs after molecule's own check, converge and idempotence runs. Each of those
runs left a run record (the socle_record callback writes them to ``$MOLECULE_EPHEMERAL_DIRECTORY/records``);
the verifiers read them back to prove that check mode predicted exactly what converge changed, and
they run the project's own ``socle audit`` / ``socle apply`` against the scenario's hosts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from socle.record import RunRecord, load_record
from socle.runner import RunOptions, run


def records_by_mode(folder: Path, playbook: str = "converge.yml") -> dict[str, list[RunRecord]]:
    """The run records of one playbook in a folder, oldest first, split into audit and apply runs.

    Records of other playbooks (molecule's create, prepare and side_effect) are left out: they are not
    the baseline.
    """
    found: dict[str, list[RunRecord]] = {"audit": [], "apply": []}
    for path in sorted(Path(folder).glob("*.json")):
        record = load_record(path)
        if any(Path(p).name == playbook for p in record.run.playbooks):
            found[record.run.mode].append(record)
    return found


def flagged(record: RunRecord) -> set[tuple[str, str]]:
    """(host, control) pairs that need attention: neither compliant, not applicable nor attested."""
    return {(h, c) for h, host in record.hosts.items() for c, res in host.controls.items()
            if res.status not in ("compliant", "not_applicable", "attested")}


@dataclass
class Scenario:
    """The molecule scenario the verifier runs in: its inventory, its records, its controls."""

    controls: set[str] = field(default_factory=set)
    inventory: Path = field(default_factory=lambda: Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
    ephemeral: Path = field(default_factory=lambda: Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]))

    @property
    def records(self) -> Path:
        return self.ephemeral / "records"

    def molecule_runs(self) -> tuple[RunRecord, RunRecord, RunRecord]:
        """molecule's check, converge and idempotence runs; fails unless there is exactly one of each."""
        runs = records_by_mode(self.records)
        counts = {mode: len(found) for mode, found in runs.items()}
        if counts != {"audit": 1, "apply": 2}:
            found = "; ".join(f"{mode} {r.run.id} started {r.run.started} playbooks {r.run.playbooks}"
                              for mode, records in runs.items() for r in records)
            raise AssertionError(f"expected 1 check run and 2 apply runs of converge.yml in {self.records},"
                                 f" found {counts}: {found}")
        return runs["audit"][0], runs["apply"][0], runs["apply"][1]

    def host(self, name: str):
        """A testinfra host for one of the scenario's hosts, reached through its inventory."""
        import testinfra

        return testinfra.get_host(f"ansible://{name}?ansible_inventory={self.inventory}")

    def socle(self, mode: str, out_dir: Path, *, extra_vars: dict | None = None, limit: str | None = None,
              tags: list[str] | None = None, verbosity: int = 0) -> RunRecord:
        """Run ``socle audit`` or ``socle apply`` on the scenario's hosts, limited to its controls."""
        options = RunOptions(mode=mode, inventories=[self.inventory], out_dir=Path(out_dir) / mode, limit=limit,
                             progress=False, tags=tags if tags is not None else sorted(self.controls),
                             extra_vars=extra_vars, verbosity=verbosity)
        record_path, _status = run(options)
        return load_record(record_path)
