"""Every PowerShell file of the project parses (tree-sitter PowerShell grammar), so a syntax error
cannot land: there is no PowerShell runtime here to catch it. The parser itself is shown to reject
broken scripts, so a pass means something."""

from __future__ import annotations

import pytest
from conftest import ROOT
from winharness import declares_check_mode, syntax_errors

SKIP_DIRS = {".venv", ".git", ".lab", "node_modules"}
SCRIPTS = sorted(
    p for p in ROOT.rglob("*.ps1") if not SKIP_DIRS & set(p.relative_to(ROOT).parts)
)


def test_the_project_has_powershell_to_check():
    assert "library/socle_win_probe.ps1" in [p.relative_to(ROOT).as_posix() for p in SCRIPTS]


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.relative_to(ROOT).as_posix() for p in SCRIPTS])
def test_powershell_parses(path):
    assert syntax_errors(path.read_bytes()) == []


MODULES = [p for p in SCRIPTS if p.parent == ROOT / "library"]


# Modules that change the host; every other one is a read-only probe.
WRITERS = {"socle_win_private_dir.ps1", "socle_win_restic_repo.ps1"}


@pytest.mark.parametrize("path", MODULES, ids=[p.relative_to(ROOT).as_posix() for p in MODULES])
def test_powershell_modules_declare_check_mode_and_never_report_a_change(path):
    source = path.read_bytes()
    assert declares_check_mode(source)
    assert b"$module.Result.changed = $false" in source
    if path.name in WRITERS:
        assert b"if (-not $module.CheckMode) {" in source  # writes only outside check mode
    else:
        assert b"$module.Result.changed = $true" not in source


@pytest.mark.parametrize(
    "broken",
    [
        b"$x = @{ a = 1\nWrite-Output $x\n",  # unclosed hashtable
        b"if ($x { Write-Output 1 }\n",  # unclosed condition
        b"foreach ($s in $list) {\n    switch ($s) {\n        'a' { 1 }\n",  # unclosed blocks
        b"function Get-X( { }\n",
    ],
)
def test_the_parser_rejects_broken_powershell(broken):
    assert syntax_errors(broken) != []


def test_breaking_the_probe_is_caught():
    source = (ROOT / "library" / "socle_win_probe.ps1").read_bytes()
    assert syntax_errors(source.replace(b"$module.ExitJson()", b"$module.ExitJson(", 1)) != []
    assert syntax_errors(source.replace(b"'identity' {", b"'identity' ", 1)) != []


@pytest.mark.parametrize(
    ("source", "declared"),
    [
        (b"$spec = @{\n    options = @{}\n    supports_check_mode = $true\n}\n", True),
        (b"$spec = @{\n    supports_check_mode = $false\n}\n", False),
        (b"$params = Parse-Args -arguments $args -supports_check_mode $true\n", True),
        (b"$params = Parse-Args $args -supports_check_mode $false\n", False),
        (b"# supports_check_mode = $true\n$params = Parse-Args $args\n", False),  # a comment is not a declaration
    ],
)
def test_check_mode_declaration_is_read_from_the_syntax_tree(source, declared):
    assert declares_check_mode(source) is declared
