"""roles/updates/tasks/RedHat.yml, rendered as Ansible would for a RHEL 9 and a RHEL 10 host.

No RHEL host here: the task list is rendered with winharness (role defaults, the policy, vars/main.yml,
recorded results by register name, ``when`` evaluated, arguments templated) and checked:

* every task carries its control ID (``ID | ...`` name and tag, or the measurement's tags), all in the
  catalogue, and measure 1's four RHEL findings each have their socle_finding task;
* every module is safe in check mode (its documentation says so and, for Socle's own modules, the
  code passes ``supports_check_mode=True``);
* RHEL 9 gets dnf 4 (dnf-automatic, dnf-automatic.timer/.service), RHEL 10 gets dnf5
  (dnf5-plugin-automatic, dnf5-automatic.timer/.service), in the configuration and the measurement;
* the findings reported are the ones socle_dnf_facts measured (the real module, run on recorded
  outputs), with the policy's thresholds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from ansible.module_utils import socle_updates as su
from ansible.plugins.loader import module_loader
from conftest import ROOT
from test_socle_dnf_facts import FakeHost, host_tree, run_with
from winharness import CONTROLLER_ACTIONS, load_tasks, module_of, render_role, supports_check_mode

from socle.catalogue import load_catalogue

TASKS = ROOT / "roles" / "updates" / "tasks" / "RedHat.yml"
FINDINGS = ("M1-LNX-PENDING-SECURITY", "M1-LNX-LAST-RUN", "M1-LNX-HELD-PACKAGES", "M1-LNX-REBOOT-REQUIRED")
HOSTS = {
    # socle_facts on each: os_id and VERSION_ID from /etc/os-release, family from ID_LIKE
    "rhel9": {"os_id": "rhel", "os_version": "9.4", "os_family": "RedHat", "platform": "linux", "systemd": True},
    "rhel10": {"os_id": "rhel", "os_version": "10.0", "os_family": "RedHat", "platform": "linux", "systemd": True},
}
FLAVOURS = {
    "rhel9": {"manager": "dnf", "package": "dnf-automatic", "timer": "dnf-automatic.timer",
              "service": "dnf-automatic.service"},
    "rhel10": {"manager": "dnf5", "package": "dnf5-plugin-automatic", "timer": "dnf5-automatic.timer",
               "service": "dnf5-automatic.service"},
}


def python_module_supports_check_mode(name: str) -> bool:
    """A Python module's DOCUMENTATION declares full check-mode support (partial is the arbitrary
    command modules); Socle's own declare full or partial and pass ``supports_check_mode=True`` to
    AnsibleModule (read from the syntax tree, not from text)."""
    context = module_loader.find_plugin_with_context(name)
    if not context.resolved:
        return False
    path = Path(context.plugin_resolved_path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets)]
    support = (yaml.safe_load(docs[0]).get("attributes", {}).get("check_mode", {}).get("support")
               if docs else None)
    if path.parent != ROOT / "library":
        return support == "full"
    declared = support in ("full", "partial")
    passes = any(isinstance(node, ast.keyword) and node.arg == "supports_check_mode"
                 and isinstance(node.value, ast.Constant) and node.value.value is True for node in ast.walk(tree))
    return declared and passes


def measured(tmp_path: Path, host: str, **args) -> tuple[dict, str]:
    """socle_dnf_facts' arguments for that host's dnf, on a recorded file tree, and the dnf flavour."""
    manager = FLAVOURS[host]["manager"]
    return {"manager": manager, "root": str(host_tree(tmp_path / host)), **args}, manager


def render(host: str, policy: dict | None = None, state: dict | None = None, fresh: bool = False, check: bool = False):
    placeholder = {"findings": {cid: {"status": "compliant", "expected": "-", "actual": "-"} for cid in FINDINGS}}
    registered = {"__updates_dnf_package": {"changed": fresh}, "__updates_state": state or placeholder}
    return render_role("updates", {"ansible_check_mode": check, **(policy or {})}, registered=registered,
                       tasks="RedHat.yml", facts=HOSTS[host])


@pytest.fixture(params=sorted(HOSTS))
def host(request):
    return request.param


def test_every_task_carries_its_control_id_from_the_catalogue():
    catalogue = load_catalogue()
    known = set(catalogue.implemented())
    for task in load_tasks(TASKS):
        name, tags = str(task["name"]), [str(t) for t in task.get("tags", [])]
        assert tags and set(tags) <= known, f"{name}: tags {tags}"
        if " | " in name:
            cid = name.split(" | ", 1)[0]
            assert cid in known and cid in tags, name
        else:  # the one measurement, which serves the four findings
            assert module_of(task) == "socle_dnf_facts" and set(tags) == set(FINDINGS), name
    rhel_controls = {cid for cid, e in catalogue.implemented().items() if e["role"] == "updates"
                     and e["platform"] == "linux" and not cid.startswith("M1-LNX-APT")}
    rhel_controls -= {"M1-LNX-REBOOT-POLICY"}  # set by socle_dnf_automatic (dnf5), part of M1-LNX-DNF-AUTOMATIC
    carried = {str(t["name"]).split(" | ", 1)[0] for t in load_tasks(TASKS) if " | " in str(t["name"])}
    assert rhel_controls <= carried, rhel_controls - carried


def test_every_module_is_check_mode_safe():
    modules = {module_of(task) for task in load_tasks(TASKS)}
    assert modules == {"ansible.builtin.dnf", "socle_dnf_automatic", "ansible.builtin.systemd_service",
                       "socle_dnf_facts", "socle_finding"}
    unsafe = [m for m in modules if not (m in CONTROLLER_ACTIONS or supports_check_mode(m)
                                         or python_module_supports_check_mode(m))]
    assert unsafe == []
    # The detector can say no.
    assert not python_module_supports_check_mode("ansible.builtin.shell")  # "partial"
    assert python_module_supports_check_mode("ansible.builtin.dnf")
    assert not python_module_supports_check_mode("socle_no_such_module")


def test_dnf_or_dnf5_follows_the_release(host):
    flavour = FLAVOURS[host]
    runs = render(host)
    by_module = {r.module: r for r in runs if r.module != "socle_finding"}
    assert by_module["ansible.builtin.dnf"].args == {"name": flavour["package"], "state": "present"}
    assert by_module["socle_dnf_automatic"].args == {"flavour": flavour["manager"], "scope": "security",
                                                     "reboot": "never"}
    assert by_module["ansible.builtin.systemd_service"].args == {"name": flavour["timer"], "enabled": True,
                                                                 "state": "started"}
    facts = by_module["socle_dnf_facts"].args
    assert (facts["manager"], facts["service"]) == (flavour["manager"], flavour["service"])
    assert flavour["timer"].replace(".timer", ".service") == flavour["service"]
    # vars/main.yml and the modules' defaults (module_utils/socle_updates.py) name the same units.
    defaults = su.DNF_AUTOMATIC[flavour["manager"]]
    assert {k: defaults[k] for k in ("package", "timer", "service")} == {
        k: flavour[k] for k in ("package", "timer", "service")}
    assert not [r for r in runs if r.skipped]


def test_the_policy_thresholds_reach_the_measurement(host):
    policy = {"updates_max_pending_security": 2, "updates_max_run_age_h": 30, "updates_allowed_holds": ["kernel"],
              "updates_max_reboot_pending_h": 72, "updates_reboot": "window", "updates_scope": "all"}
    (run,) = [r for r in render(host, policy) if r.module == "socle_dnf_facts"]
    assert {k: run.args[k] for k in ("max_pending_security", "max_run_age_h", "allowed_holds",
                                     "max_reboot_pending_h", "reboot")} == {
        "max_pending_security": 2, "max_run_age_h": 30, "allowed_holds": ["kernel"], "max_reboot_pending_h": 72,
        "reboot": "window"}
    (conf,) = [r for r in render(host, policy) if r.module == "socle_dnf_automatic"]
    assert (conf.args["scope"], conf.args["reboot"]) == ("all", "window")


def test_the_four_findings_are_the_measured_ones_each_under_its_control(host, tmp_path, run_module):
    args, manager = measured(tmp_path, host, max_pending_security=0)
    state = run_with(run_module, args, FakeHost(manager))
    runs = render(host, state=state)
    reported = {r.control: r.args["finding"] for r in runs if r.module == "socle_finding"}
    assert reported == state["findings"] and set(reported) == set(FINDINGS)
    assert all(f["status"] in ("compliant", "drift") for f in reported.values())
    assert reported["M1-LNX-PENDING-SECURITY"]["status"] == "drift"  # the recorded host has pending fixes
    measure = min(r.index for r in runs if r.module == "socle_dnf_facts")
    assert all(r.index > measure for r in runs if r.module == "socle_finding")
    tool = "dnf-automatic" if manager == "dnf" else "dnf5-automatic"
    assert tool in reported["M1-LNX-LAST-RUN"]["expected"]


def test_check_mode_on_a_fresh_host_still_measures(host):
    """The package would be installed: its file and timer do not exist yet, so those two tasks wait for
    apply; the read-only measurement and the four findings still run."""
    runs = render(host, fresh=True, check=True)
    skipped = {r.module for r in runs if r.skipped}
    assert skipped == {"socle_dnf_automatic", "ansible.builtin.systemd_service"}
    assert [r.control for r in runs if r.module == "socle_finding" and not r.skipped] == list(FINDINGS)


def test_the_linux_entry_point_includes_the_rhel_tasks_only_on_the_rhel_family():
    tasks = load_tasks(ROOT / "roles" / "updates" / "tasks" / "posix.yml")  # the Linux entry point, in main.yml too
    (rhel,) = [t for t in tasks if t.get("ansible.builtin.include_tasks") == "RedHat.yml"]
    assert str(rhel["when"]) == "ansible_facts['socle']['os_family'] == 'RedHat'"
    # Skipped elsewhere, the include makes the dnf-automatic control (only) not applicable.
    assert rhel["tags"] == ["always", "socle_controls", "M1-LNX-DNF-AUTOMATIC"]
