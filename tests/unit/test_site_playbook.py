"""playbooks/site.yml: each role once per play, the Linux play without Windows tasks or repeated validation."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
ORDER = ["accounts", "session_lock", "offsite_target", "backup", "firewall", "updates", "antivirus", "organisation"]


def plays() -> list[dict]:
    return yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text(encoding="utf-8"))


def imports(play: dict) -> list[dict]:
    return [t["ansible.builtin.import_role"] for t in play["tasks"] if "ansible.builtin.import_role" in t]


def tasks(role: str, name: str) -> list[dict]:
    return yaml.safe_load((ROOT / "roles" / role / "tasks" / f"{name}.yml").read_text(encoding="utf-8"))


def test_the_policy_of_every_role_is_validated_for_every_host_before_any_host_is_touched():
    first = plays()[0]
    assert first["hosts"] == "all" and first["any_errors_fatal"] is True
    (policy,) = [t for t in first["tasks"] if "socle_policy" in t]
    assert not (policy["socle_policy"] or {}).get("roles"), "socle_policy must check every role's argument specs"
    specs = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
    assert specs == sorted(ORDER)


def test_the_linux_play_imports_each_role_once_by_its_linux_entry_point_without_a_second_validation():
    (linux,) = [p for p in plays() if p.get("hosts") == "all:!socle_windows"]
    assert "roles" not in linux
    assert "socle_facts" in linux["tasks"][0]
    found = imports(linux)
    assert [i["name"] for i in found] == ORDER
    for item in found:
        assert item["rolespec_validate"] is False
        has_posix = (ROOT / "roles" / item["name"] / "tasks" / "posix.yml").exists()
        assert item.get("tasks_from", "main") == ("posix" if has_posix else "main"), item


def test_the_windows_play_includes_the_main_entry_points_read_only_when_a_windows_host_runs():
    (windows,) = [p for p in plays() if p.get("hosts") == "socle_windows"]
    assert imports(windows) == []  # an import would be parsed on every run, Linux-only ones included
    found = [t for t in windows["tasks"] if "ansible.builtin.include_role" in t]
    assert [t["ansible.builtin.include_role"]["name"] for t in found] == [r for r in ORDER if r != "offsite_target"]
    for task in found:
        role = task["ansible.builtin.include_role"]
        assert role.get("tasks_from", "main") == "main" and role["rolespec_validate"] is False
        assert task["tags"] == ["always"]  # else --tags on a control ID would skip the include itself


def test_each_main_entry_point_is_its_linux_entry_point_plus_the_windows_tasks_only():
    for role in ORDER:
        if not (ROOT / "roles" / role / "tasks" / "posix.yml").exists():
            assert not (ROOT / "roles" / role / "tasks" / "windows.yml").exists(), role
            continue
        # A role may first check its own variables with socle_policy (site.yml's first play checks every role's).
        main = [t for t in tasks(role, "main") if t.get("socle_policy") != {"roles": [role]}]
        assert main[0]["ansible.builtin.import_tasks"] == "posix.yml" and "when" not in main[0], role
        assert len(main) == 2 and main[1]["ansible.builtin.include_tasks"] == "windows.yml", role
        assert "'Windows'" in main[1]["when"], role
        assert not any("windows" in str(t.get("ansible.builtin.include_tasks", "")) for t in tasks(role, "posix")), role


def all_tasks(items: list) -> list[dict]:
    """Every task of a task list, blocks included."""
    found = []
    for item in items or []:
        found.append(item)
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            found += all_tasks(item.get(key))
    return found


def test_no_meta_task_relies_on_a_when_that_ansible_ignores():
    """reset_connection, noop and refresh_inventory run whatever `when` says: a condition on them is a bug
    (the firewall's reset dropped the SSH connection on every run, audits included)."""
    files = [*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("roles/*/handlers/*.yml"), *ROOT.glob("playbooks/*.yml")]
    offenders = [f"{path.relative_to(ROOT)}: {task.get('name')}" for path in files
                 for task in all_tasks(yaml.safe_load(path.read_text(encoding="utf-8")))
                 if str(task.get("ansible.builtin.meta", task.get("meta", ""))) in ("reset_connection", "noop",
                                                                                    "refresh_inventory")
                 and "when" in task]
    assert offenders == []


def test_the_firewall_reconnects_only_when_its_rollback_is_armed_and_under_the_same_tags():
    linux = tasks("firewall", "linux")
    (include,) = [t for t in linux if t.get("ansible.builtin.include_tasks") == "reconnect.yml"]
    assert include["when"] == "__firewall_result.rollback.armed | default(false)"
    inner = tasks("firewall", "reconnect")
    assert [next(k for k in t if k.startswith("ansible.builtin.")) for t in inner] == [
        "ansible.builtin.meta", "ansible.builtin.wait_for_connection"]
    assert all(t["tags"] == include["tags"] for t in inner)
