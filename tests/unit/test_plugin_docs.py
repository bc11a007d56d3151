"""Every module and plugin documents itself in YAML that Ansible can load (a broken block breaks runs)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

SOURCES = sorted(
    p for folder in ("library", "action_plugins", "callback_plugins") for p in (ROOT / folder).glob("*.py")
)


def doc_blocks(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    blocks = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                    blocks[target.id] = node.value.value
    return blocks


@pytest.mark.parametrize("path", SOURCES, ids=[p.relative_to(ROOT).as_posix() for p in SOURCES])
def test_documentation_is_valid_yaml(path):
    blocks = doc_blocks(path)
    assert "DOCUMENTATION" in blocks, f"{path.name} has no DOCUMENTATION"
    for text in blocks.values():
        yaml.safe_load(text)  # raises on a broken block
    doc = yaml.safe_load(blocks["DOCUMENTATION"])
    assert doc.get("short_description"), f"{path.name}: no short_description"
    if path.parent.name == "library":
        assert set(blocks) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, path.name
        assert doc["attributes"]["check_mode"]["support"] in ("full", "partial"), path.name
