"""Test helpers for the Windows side, which no host here can run.

* PowerShell is parsed with tree-sitter and its PowerShell grammar (pinned in requirements.txt):
  a syntax error in a .ps1 fails the tests, and whether a module declares check-mode support is read
  from its syntax tree, not guessed from text.
* A role's tasks/windows.yml is rendered the way Ansible would for one host: the role defaults,
  the policy under test, vars/Windows.yml, a recorded socle_win_probe result; loops expanded, ``when``
  evaluated, module arguments templated with the project's filters.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tree_sitter
import tree_sitter_powershell
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader, init_plugin_loader, module_loader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

init_plugin_loader()
filter_loader.add_directory(str(ROOT / "filter_plugins"))
module_loader.add_directory(str(ROOT / "library"))

# Task keywords (everything else in a task is its module).
TASK_KEYWORDS = frozenset({
    "name", "when", "tags", "loop", "loop_control", "vars", "register", "any_errors_fatal", "ignore_errors",
    "changed_when", "failed_when", "check_mode", "diff", "no_log", "notify", "become", "delegate_to",
})
# Controller-side actions that never touch the host: check mode cannot make them lie.
CONTROLLER_ACTIONS = frozenset({"socle_finding", "ansible.builtin.assert", "ansible.builtin.include_vars"})


# -- PowerShell ------------------------------------------------------------------------------------


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or missing node of a PowerShell source, as ``line:column text``; [] when it parses."""
    tree = PARSER.parse(source)
    found = []

    def walk(node: tree_sitter.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            line, column = node.start_point
            found.append(f"{line + 1}:{column + 1} {node.text[:60].decode('utf-8', 'replace')!r}")
            return
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


def _nodes(node: tree_sitter.Node, kind: str) -> Iterator[tree_sitter.Node]:
    if node.type == kind:
        yield node
    for child in node.children:
        yield from _nodes(child, kind)


def declares_check_mode(source: bytes) -> bool:
    """True when a module's spec says ``supports_check_mode = $true`` (Ansible.Basic) or it calls
    ``Parse-Args ... -supports_check_mode $true`` (legacy), read from the syntax tree."""
    root = PARSER.parse(source).root_node
    for entry in _nodes(root, "hash_entry"):
        key = entry.child_by_field_name("key") or entry.children[0]
        value = entry.children[-1]
        if key.text.strip().lower() == b"supports_check_mode" and value.text.strip().lower() == b"$true":
            return True
    for command in _nodes(root, "command_elements"):
        elements = [child for child in command.children if child.type != "command_argument_sep"]
        for index, element in enumerate(elements[:-1]):
            if element.type == "command_parameter" and element.text.lower() == b"-supports_check_mode":
                return elements[index + 1].text.strip().lower() == b"$true"
    return False


def module_source(name: str) -> Path | None:
    """The .ps1 of a Windows module (project library/ or an installed collection), None if there is none."""
    context = module_loader.find_plugin_with_context(name, mod_type=".ps1")
    if not context.resolved or not str(context.plugin_resolved_path).endswith(".ps1"):
        return None
    return Path(context.plugin_resolved_path)


def action_declares_check_mode(name: str) -> bool:
    """A project action plugin (action_plugins/<name>.py) whose ActionModule class itself sets
    ``_supports_check_mode = True``: it handles check mode in its own code (read from its syntax tree)."""
    path = ROOT / "action_plugins" / f"{name}.py"
    if not path.is_file():
        return False
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == "ActionModule":
            for statement in node.body:
                if (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
                        and statement.value.value is True
                        and any(isinstance(t, ast.Name) and t.id == "_supports_check_mode" for t in statement.targets)):
                    return True
    return False


def supports_check_mode(module: str) -> bool:
    """A task's module is safe in check mode: a Windows module declaring it, a project action handling it,
    or a controller-only action."""
    if module in CONTROLLER_ACTIONS or action_declares_check_mode(module):
        return True
    source = module_source(module)
    return source is not None and declares_check_mode(source.read_bytes())


# -- rendering a role's Windows tasks ---------------------------------------------------------------


def _trust(value: Any) -> Any:
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trust(item) for item in value]
    if isinstance(value, dict):
        return {key: _trust(item) for key, item in value.items()}
    return value


def load_tasks(path: Path) -> list[dict[str, Any]]:
    return _trust(DataLoader().load_from_file(str(path)))


def module_of(task: dict[str, Any]) -> str:
    modules = [key for key in task if key not in TASK_KEYWORDS]
    assert len(modules) == 1, f"task {task.get('name')!r}: cannot tell its module among {modules}"
    return modules[0]


@dataclass
class Run:
    """One execution of a task (one per loop item), as Ansible would see it on the host."""

    index: int
    name: str
    control: str | None
    module: str
    args: Any
    skipped: bool
    item: Any = None
    task: dict | None = None
    holds: bool | None = None  # for ansible.builtin.assert: whether every ``that`` holds


def render_role(role: str, policy: dict[str, Any] | None = None, probe: dict[str, Any] | None = None,
                registered: dict[str, Any] | None = None, tasks: str = "windows.yml",
                facts: dict[str, Any] | None = None) -> list[Run]:
    """Render roles/<role>/tasks/windows.yml for one Windows host with ``policy`` over the role defaults.

    The role's vars/main.yml applies over the policy, as role vars do in Ansible. ``registered``
    gives the results of host modules other than socle_win_probe (recorded outputs), by register name.
    ``tasks`` and ``facts`` (the socle facts) render another task file for another host, a Linux one.
    """
    base = ROOT / "roles" / role
    variables: dict[str, Any] = _trust(yaml.safe_load((base / "defaults" / "main.yml").read_text(encoding="utf-8")))
    variables.update(_trust(policy or {}))
    if (base / "vars" / "main.yml").exists():
        variables.update(_trust(yaml.safe_load((base / "vars" / "main.yml").read_text(encoding="utf-8")) or {}))
    variables.update(_trust(registered or {}))
    variables["ansible_facts"] = {"socle": _trust(facts) if facts else {"os_family": "Windows"}}
    variables["inventory_hostname"] = "accueil-pc"
    loader = DataLoader()
    runs: list[Run] = []
    for index, task in enumerate(load_tasks(base / "tasks" / tasks)):
        module = module_of(task)
        name = str(task.get("name", ""))
        control = name.split(" | ", 1)[0] if " | " in name else None
        if module == "ansible.builtin.include_vars":
            variables.update(_trust(yaml.safe_load((base / "vars" / task[module]).read_text(encoding="utf-8"))))
        scope = {**variables, **task.get("vars", {})}
        templar = Templar(loader=loader, variables=scope)
        items = templar.template(task["loop"]) if "loop" in task else [None]
        for item in items:
            local = Templar(loader=loader, variables={**scope, "item": item} if "loop" in task else scope)
            conditions = task.get("when", [])
            conditions = conditions if isinstance(conditions, list) else [conditions]
            skipped = not all(local.evaluate_conditional(_trust(str(c))) for c in conditions)
            args = None if skipped else local.template(task[module])
            holds = None
            if module == "ansible.builtin.assert" and not skipped:
                that = task[module]["that"]
                that = that if isinstance(that, list) else [that]
                holds = all(local.evaluate_conditional(_trust(str(c))) for c in that)
            runs.append(Run(index, name, control, module, args, skipped, item, task, holds))
        if module == "socle_win_probe" and "register" in task:
            variables[str(task["register"])] = {"changed": False, "probe": probe or {}}
    return runs
