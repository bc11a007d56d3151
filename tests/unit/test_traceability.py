"""Traceability between the catalogue, the roles and the tests.

On the real project: every implemented control has a task carrying its ID in its role, every ID a
task, handler or tag carries exists in the catalogue, every implemented control is mentioned by a
test, and the README's generated tables are current. Fake project trees prove the checker reports
what it must.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from socle.catalogue import (
    BEGIN_MARKER,
    PROJECT_ROOT,
    README_PATH,
    control_ids_in_tests,
    find_control_ids,
    load_catalogue,
    task_control_ids,
    trace,
    update_readme,
)

# --------------------------------------------------------------------------------------------------
# The real project
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report():
    return trace(PROJECT_ROOT, load_catalogue())


def test_every_implemented_control_has_a_task_in_its_role(report):
    assert report.untraced == {}, "\n".join(report.problems())


def test_every_id_in_tasks_handlers_and_tags_is_in_the_catalogue(report):
    assert report.unknown == {}, "\n".join(report.problems())


def test_every_implemented_control_has_a_test(report):
    assert report.untested == [], "\n".join(report.problems())


def test_readme_tables_are_up_to_date():
    assert BEGIN_MARKER in README_PATH.read_text(encoding="utf-8"), "README.md lost its catalogue markers"
    assert update_readme(README_PATH, check=True), "README is stale: run python -m socle.catalogue readme"


# --------------------------------------------------------------------------------------------------
# Fake project trees
# --------------------------------------------------------------------------------------------------


def _control(cid: str, implemented: bool, role: str | None = "demo") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": cid,
        "measure": int(cid[1]),
        "platform": {"LNX": "linux", "WIN": "windows", "ORG": "organisational"}[cid.split("-")[1]],
        "kind": "attest" if "-ORG-" in cid else "enforce",
        "title": {"fr": f"Contrôle {cid}", "en": f"Control {cid}"},
        "rationale": {"fr": "Raison.", "en": "Reason."},
        "check": {"fr": "Vérification.", "en": "Check."},
        "references": {"anssi": ["2"], "pgssi_s": []},
        "implemented": implemented,
    }
    if role:
        entry["role"] = role
    return entry


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _project(root: Path, controls: list[dict[str, Any]]) -> Any:
    doc = {
        "schema_version": 1,
        "measures": {n: {"fr": f"Mesure {n}", "en": f"Measure {n}"} for n in range(1, 9)},
        "controls": controls,
    }
    _write(root, "catalogue/controls.yml", yaml.safe_dump(doc, allow_unicode=True))
    return load_catalogue(root / "catalogue" / "controls.yml")


TASKS = """
    ---
    - name: "M4-LNX-DEMO-LOCK | Lock demo sessions"
      ansible.builtin.debug:
        msg: ok
      tags: [M4-LNX-DEMO-LOCK, always]

    - name: Group of tasks
      tags: M4-LNX-BLOCK-TAG, other
      block:
        - name: "M4-LNX-NESTED-UNKNOWN | Deep inside a block"
          ansible.builtin.debug: {}
      rescue:
        - name: "Recover (see M4-LNX-IN-RESCUE)"
          ansible.builtin.debug: {}

    - ansible.builtin.debug:
        msg: unnamed, tagged
      tags: ["M4-LNX-lowercase"]

    - name: "Vaulted value does not break parsing"
      ansible.builtin.set_fact:
        secret: !vault |
          $ANSIBLE_VAULT;1.1;AES256
          6162636465
    """

HANDLERS = """
    - name: "M4-LNX-HANDLER-ONLY | Restart something"
      ansible.builtin.debug: {}
    - name: "M4-LNX-DEMO-LOCK | Reload"
      ansible.builtin.debug: {}
    """


@pytest.fixture
def fake(tmp_path):
    """A project whose catalogue has one traced and tested control, and one implemented control with no
    task and no test; its tasks also carry IDs the catalogue lacks."""
    catalogue = _project(
        tmp_path,
        [
            _control("M4-LNX-DEMO-LOCK", implemented=True),
            _control("M4-LNX-NO-TASK", implemented=True),
            _control("M4-LNX-PLANNED", implemented=False, role=None),
        ],
    )
    _write(tmp_path, "roles/demo/tasks/main.yml", TASKS)
    _write(
        tmp_path,
        "roles/demo/tasks/sub/linux.yaml",
        '- name: "M4-LNX-DEMO-LOCK | In a sub-folder"\n  debug: {}\n',
    )
    _write(tmp_path, "roles/demo/handlers/main.yml", HANDLERS)
    _write(tmp_path, "roles/demo/defaults/main.yml", "demo_note: M4-LNX-NOT-A-TASK-FILE\n")
    _write(tmp_path, "molecule/default/tests/test_demo.py", "def test_lock():\n    assert 'M4-LNX-DEMO-LOCK'\n")
    # These mention M4-LNX-NO-TASK, but they do not count as tests of it.
    _write(tmp_path, "tests/fixtures/runs/run.json", '{"M4-LNX-NO-TASK": {}}\n')
    _write(tmp_path, "tests/unit/test_catalogue.py", "# M4-LNX-NO-TASK\n")
    _write(tmp_path, "tests/unit/test_traceability.py", "# M4-LNX-NO-TASK\n")
    return tmp_path, catalogue


def test_task_ids_are_found_in_names_tags_blocks_and_handlers(fake):
    root, _ = fake
    found = task_control_ids(root)
    main, handlers = "roles/demo/tasks/main.yml", "roles/demo/handlers/main.yml"
    assert found["M4-LNX-DEMO-LOCK"] == [
        "roles/demo/handlers/main.yml:M4-LNX-DEMO-LOCK | Reload",
        "roles/demo/tasks/main.yml:M4-LNX-DEMO-LOCK | Lock demo sessions",  # name and tag: listed once
        "roles/demo/tasks/sub/linux.yaml:M4-LNX-DEMO-LOCK | In a sub-folder",
    ]
    assert found["M4-LNX-BLOCK-TAG"] == [f"{main}:Group of tasks"]
    assert found["M4-LNX-NESTED-UNKNOWN"] == [f"{main}:M4-LNX-NESTED-UNKNOWN | Deep inside a block"]
    assert found["M4-LNX-IN-RESCUE"] == [f"{main}:Recover (see M4-LNX-IN-RESCUE)"]
    assert found["M4-LNX-lowercase"] == [f"{main}:<unnamed task>"]
    assert found["M4-LNX-HANDLER-ONLY"] == [f"{handlers}:M4-LNX-HANDLER-ONLY | Restart something"]
    assert "M4-LNX-NOT-A-TASK-FILE" not in found, "defaults are not tasks"


def test_checker_reports_unknown_ids(fake):
    root, catalogue = fake
    report = trace(root, catalogue)
    assert set(report.unknown) == {
        "M4-LNX-BLOCK-TAG",
        "M4-LNX-NESTED-UNKNOWN",
        "M4-LNX-IN-RESCUE",
        "M4-LNX-lowercase",
        "M4-LNX-HANDLER-ONLY",
    }
    assert any("M4-LNX-HANDLER-ONLY: not in the catalogue" in problem for problem in report.problems())


def test_checker_reports_an_implemented_control_without_task(fake):
    root, catalogue = fake
    report = trace(root, catalogue)
    assert list(report.untraced) == ["M4-LNX-NO-TASK"]
    assert "no task or handler carries the ID" in report.untraced["M4-LNX-NO-TASK"]
    assert "M4-LNX-PLANNED" not in report.untraced, "planned controls need no task yet"
    assert not report.ok


def test_checker_reports_an_implemented_control_without_test(fake):
    root, catalogue = fake
    report = trace(root, catalogue)
    assert report.untested == ["M4-LNX-NO-TASK"]
    assert report.tests["M4-LNX-DEMO-LOCK"] == ["molecule/default/tests/test_demo.py"]
    assert "M4-LNX-NO-TASK" not in control_ids_in_tests(root), "fixtures and own tests don't count"


def test_checker_reports_a_task_outside_the_declared_role(tmp_path):
    catalogue = _project(tmp_path, [_control("M4-LNX-DEMO-LOCK", implemented=True, role="session_lock")])
    wrong = '- name: "M4-LNX-DEMO-LOCK | Wrong role"\n  debug: {}\n'
    _write(tmp_path, "roles/elsewhere/tasks/main.yml", wrong)
    _write(tmp_path, "tests/unit/test_demo.py", "# M4-LNX-DEMO-LOCK\n")
    report = trace(tmp_path, catalogue)
    assert "only tasks outside roles/session_lock/" in report.untraced["M4-LNX-DEMO-LOCK"]


def test_a_clean_tree_passes(tmp_path):
    catalogue = _project(tmp_path, [_control("M4-LNX-DEMO-LOCK", implemented=True)])
    _write(tmp_path, "roles/demo/tasks/main.yml", '- name: "M4-LNX-DEMO-LOCK | Lock"\n  debug: {}\n')
    _write(tmp_path, "tests/integration/test_demo.py", "# M4-LNX-DEMO-LOCK\n")
    report = trace(tmp_path, catalogue)
    assert report.ok, report.problems()
    assert report.problems() == []


def test_a_tree_without_roles_or_tests(tmp_path):
    catalogue = _project(tmp_path, [_control("M4-LNX-DEMO-LOCK", implemented=True)])
    report = trace(tmp_path, catalogue)
    assert list(report.untraced) == ["M4-LNX-DEMO-LOCK"]
    assert report.untested == ["M4-LNX-DEMO-LOCK"]
    assert report.unknown == {}


def test_a_broken_task_file_is_an_error_not_a_pass(tmp_path):
    _write(tmp_path, "roles/demo/tasks/main.yml", "- name: [unclosed\n")
    with pytest.raises(Exception, match="roles/demo/tasks/main.yml"):
        task_control_ids(tmp_path)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("M4-LNX-GNOME-LOCK | Lock GNOME sessions after idle", ["M4-LNX-GNOME-LOCK"]),
        ("see M1-WIN-WU-AUTO and M2-LNX-NFT-LOGGING.", ["M1-WIN-WU-AUTO", "M2-LNX-NFT-LOGGING"]),
        ("M4-LNX-GNOME-LOCK, M4-LNX-GNOME-LOCK", ["M4-LNX-GNOME-LOCK"]),
        ("M4-LNX-GNOME-LOCK-", ["M4-LNX-GNOME-LOCK"]),
        ("M4-LNX-GNOME_lock", ["M4-LNX-GNOME_lock"]),
        ("XM4-LNX-GNOME-LOCK M9-LNX-X M4-MAC-X", []),
        ("no id here", []),
    ],
)
def test_find_control_ids(text, ids):
    assert find_control_ids(text) == ids


def test_a_mention_in_a_unit_test_is_not_a_test_of_the_control(tmp_path):
    catalogue = _project(tmp_path, [_control("M4-LNX-DEMO-LOCK", implemented=True)])
    _write(tmp_path, "roles/demo/tasks/main.yml", '- name: "M4-LNX-DEMO-LOCK | Lock"\n  debug: {}\n')
    _write(tmp_path, "tests/unit/test_report.py", "# sample data: M4-LNX-DEMO-LOCK\n")
    report = trace(tmp_path, catalogue)
    assert report.untested == ["M4-LNX-DEMO-LOCK"]


def test_a_windows_control_verified_on_recorded_outputs_is_proven_by_a_unit_test(tmp_path):
    """verified: recorded (Windows only) accepts a unit test in place of a live test, and only that."""
    recorded = {**_control("M4-WIN-DEMO-LOCK", implemented=True), "verified": "recorded"}
    catalogue = _project(tmp_path, [recorded, _control("M4-LNX-DEMO-LOCK", implemented=True)])
    _write(tmp_path, "roles/demo/tasks/windows.yml", '- name: "M4-WIN-DEMO-LOCK | Lock"\n  debug: {}\n')
    _write(tmp_path, "roles/demo/tasks/linux.yml", '- name: "M4-LNX-DEMO-LOCK | Lock"\n  debug: {}\n')
    # Fixtures and the catalogue's own tests never count, not even for a recorded control.
    _write(tmp_path, "tests/fixtures/windows/probe.json", '{"M4-WIN-DEMO-LOCK": {}}\n')
    _write(tmp_path, "tests/unit/test_traceability.py", "# M4-WIN-DEMO-LOCK M4-LNX-DEMO-LOCK\n")
    report = trace(tmp_path, catalogue)
    assert report.untested == ["M4-WIN-DEMO-LOCK", "M4-LNX-DEMO-LOCK"]
    assert "M4-WIN-DEMO-LOCK: verified: recorded, but no unit test (tests/unit) mentions it" in report.problems()
    _write(tmp_path, "tests/unit/test_windows_demo.py", "def test_lock():\n    assert 'M4-WIN-DEMO-LOCK'\n")
    _write(tmp_path, "tests/unit/test_linux_demo.py", "def test_lock():\n    assert 'M4-LNX-DEMO-LOCK'\n")
    report = trace(tmp_path, catalogue)
    assert report.untested == ["M4-LNX-DEMO-LOCK"], "a unit test proves only a control verified: recorded"
    assert report.recorded == {"M4-WIN-DEMO-LOCK": ["tests/unit/test_windows_demo.py"]}


def test_every_recorded_control_of_the_real_catalogue_is_windows_and_unit_tested(report):
    catalogue = load_catalogue()
    recorded = [cid for cid, e in catalogue.implemented().items() if e.get("verified") == "recorded"]
    assert recorded, "no control is verified on recorded outputs"
    assert all(catalogue.controls[cid]["platform"] == "windows" for cid in recorded)
    assert all(report.recorded[cid] for cid in recorded), report.recorded


# -- tasks setting or measuring several controls in one call (tag socle_controls) ----------------------
def _named_controls(node: Any) -> set[str]:
    """Every control ID an item of a task names: ``control: ID`` values and ``controls: [IDs]`` lists."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "control" and isinstance(value, str):
                found.add(value)
            elif key == "controls" and isinstance(value, list):
                found |= {v for v in value if isinstance(v, str)}
            else:
                found |= _named_controls(value)
    elif isinstance(node, list):
        for item in node:
            found |= _named_controls(item)
    return found


def _shared_call_tasks() -> list[tuple[str, dict[str, Any]]]:
    tasks = []
    for path in sorted(Path(PROJECT_ROOT).glob("roles/*/tasks/*.yml")):
        for task in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if isinstance(task, dict) and "socle_controls" in (task.get("tags") or []):
                tasks.append((f"{path.relative_to(PROJECT_ROOT)}:{task.get('name')}", task))
    return tasks


def test_a_shared_call_is_tagged_with_every_control_its_items_name():
    # The run record only keeps the results of the controls among a socle_controls task's tags: an item
    # whose control is missing there would be set on the host and reported nowhere.
    tasks = _shared_call_tasks()
    assert len(tasks) >= 8  # accounts (3), updates (2), antivirus, organisation (2), ...
    for where, task in tasks:
        named = _named_controls({k: v for k, v in task.items() if k not in ("name", "tags", "when")})
        missing = named - set(task["tags"])
        assert not missing, f"{where}: items name {sorted(missing)}, absent from its tags"
