"""socle_preload: the Jinja plugins and the project's action plugins are loaded once, in Ansible's main process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent
PLAY = """
- name: A task whose template needs a filter, and a project action
  hosts: all
  gather_facts: false
  tasks:
    - name: Template with a project filter
      ansible.builtin.debug:
        msg: "{{ [{'control': 'M4-LNX-SHELL-TMOUT'}] | socle_selected(['all'], []) | length }}"
"""


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "play.yml").write_text(PLAY, encoding="utf-8")
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    full.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
                ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACKS_ENABLED="socle_preload", **env)
    return subprocess.run([str(BIN / "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local",
                           str(tmp_path / "play.yml")], env=full, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_main_process_loads_the_filters_and_every_project_action_before_the_workers_fork(tmp_path):
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("socle_preload: loaded ")]
    assert line.startswith("socle_preload: loaded ") and " filters, " in line, line
    actions = sorted(p.stem for p in (ROOT / "action_plugins").glob("socle_*.py"))
    assert [a for a in actions if a not in line.split(", ")] == []
    assert "module_utils/socle_reuse" in line.split(", ")  # the actions' shared controller code, loaded once
    assert 'msg: 1' in proc.stdout or '"msg": "1"' in proc.stdout, proc.stdout[-1500:]


def test_it_can_be_turned_off(tmp_path):
    proc = run(tmp_path, SOCLE_PRELOAD="off")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "socle_preload" not in proc.stdout


def test_each_play_start_freezes_what_the_main_process_holds_before_workers_fork(monkeypatch):
    """gc.freeze: a forked worker's garbage collection no longer touches (and copies) the parent's pages."""
    import gc

    from conftest import load_project_module

    callback = load_project_module("callback_plugins", "socle_preload")
    monkeypatch.setattr(callback, "preload", lambda: ["nothing"])
    monkeypatch.setattr(callback, "template_cache", lambda: "template cache off")
    monkeypatch.delenv("SOCLE_PRELOAD", raising=False)
    monkeypatch.delenv("SOCLE_GC_FREEZE", raising=False)
    try:
        gc.unfreeze()
        plugin = callback.CallbackModule()
        plugin.v2_playbook_on_play_start(None)
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        monkeypatch.setenv("SOCLE_GC_FREEZE", "off")
        plugin.v2_playbook_on_play_start(None)
        assert gc.get_freeze_count() == 0
        monkeypatch.setenv("SOCLE_PRELOAD", "off")
        monkeypatch.delenv("SOCLE_GC_FREEZE")
        callback.CallbackModule().v2_playbook_on_play_start(None)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


# The compile cache: Jinja's code for each task template and conditional, kept across workers and runs.

def compile_cache(monkeypatch, folder: Path, version: str = "v1"):
    """A CompileCache installed in this process; the patched class is restored after the test."""
    from ansible._internal._templating._jinja_bits import AnsibleEnvironment
    from conftest import load_project_module

    callback = load_project_module("callback_plugins", "socle_preload")
    for name in ("compile", "compile_expression", "_socle_compile_cache"):
        monkeypatch.setattr(AnsibleEnvironment, name, getattr(AnsibleEnvironment, name, None), raising=False)
    cache = callback.CompileCache(str(folder), version)
    loaded = cache.open()
    cache.install()
    return cache, loaded


def render(template: str, **variables):
    from ansible.template import Templar, trust_as_template

    return Templar(variables=variables).template(trust_as_template(template))


def condition(expression: str, **variables) -> bool:
    from ansible.template import Templar, trust_as_template

    return Templar(variables=variables).evaluate_conditional(trust_as_template(expression))


def test_compiled_code_is_kept_on_disk_and_a_new_process_uses_it_instead_of_compiling(monkeypatch, tmp_path):
    import jinja2

    folder = tmp_path / "cache"
    cache, loaded = compile_cache(monkeypatch, folder)
    assert loaded == 0
    assert render("{{ a | default(1) + 2 }} and {{ b }}", b="x") == "3 and x"
    assert condition("a is defined and a > 1", a=2) is True
    files = sorted((folder / "v1").glob("*.code"))
    assert len(files) >= 2  # the template and the conditional
    assert oct((folder / "v1").stat().st_mode & 0o777) == "0o700" and all(f.stat().st_mode & 0o077 == 0 for f in files)

    # A new process (nothing in memory): everything comes from the folder, Jinja compiles nothing.
    calls = []
    real = jinja2.Environment._generate
    monkeypatch.setattr(jinja2.Environment, "_generate", lambda *a, **k: calls.append(a[1:]) or real(*a, **k))
    cache, loaded = compile_cache(monkeypatch, folder)
    assert loaded == len(files)
    assert render("{{ a | default(1) + 2 }} and {{ b }}", b="y") == "3 and y"
    assert condition("a is defined and a > 1", a=1) is False
    assert condition("a is defined and a > 1", a=5) is True
    assert calls == []
    # Another text compiles, and is kept.
    assert render("{{ b }}!", b="z") == "z!"
    assert len(calls) == 1 and len(list((folder / "v1").glob("*.code"))) == len(files) + 1


def test_the_key_holds_the_settings_that_change_the_code_and_other_versions_are_dropped(monkeypatch, tmp_path):
    from ansible._internal._templating._jinja_bits import AnsibleEnvironment

    cache, _ = compile_cache(monkeypatch, tmp_path / "cache", "v1")
    env = AnsibleEnvironment()
    other = env.overlay(variable_start_string="[[", variable_end_string="]]")
    assert cache.key("template", "{{ x }}", env) == cache.key("template", "{{ x }}", AnsibleEnvironment())
    assert cache.key("template", "{{ x }}", env) != cache.key("template", "{{ x }} ", env)
    assert cache.key("template", "{{ x }}", env) != cache.key("template", "{{ x }}", other)
    assert cache.key("template", "{{ x }}", env) != cache.key("expression", "{{ x }}", env)
    assert cache.key("expression", "x", env, True) != cache.key("expression", "x", env, False)
    render("{{ 1 + 1 }}")
    assert list((tmp_path / "cache" / "v1").glob("*.code"))
    compile_cache(monkeypatch, tmp_path / "cache", "v2")  # Python, Jinja, Ansible or a plugin file changed
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["v2"]


def test_a_template_that_does_not_compile_fails_as_before_and_is_not_kept(monkeypatch, tmp_path):
    from ansible.errors import AnsibleError

    compile_cache(monkeypatch, tmp_path / "cache")
    with pytest.raises(AnsibleError, match="(?i)syntax|unexpected"):
        render("{{ a + }}", a=1)
    with pytest.raises(AnsibleError):
        condition("a ==", a=1)
    assert list((tmp_path / "cache" / "v1").glob("*.code")) == []


def test_a_folder_others_can_write_or_a_file_they_wrote_is_never_used(monkeypatch, tmp_path):
    from conftest import load_project_module

    callback = load_project_module("callback_plugins", "socle_preload")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(PermissionError):
        callback.CompileCache(str(shared), "v1").open()

    folder = tmp_path / "cache"
    cache, _ = compile_cache(monkeypatch, folder)
    render("{{ 40 + 2 }}")
    (kept,) = (folder / "v1").glob("*.code")
    kept.chmod(0o666)  # as if someone else could have written it
    fresh = callback.CompileCache(str(folder), "v1")
    assert fresh.open() == 0 and fresh.get(kept.stem) is None
    kept.write_bytes(b"not code")
    kept.chmod(0o600)
    assert fresh.get(kept.stem) is None  # unreadable code is compiled again, never trusted


def test_the_cache_folder_follows_the_environment(tmp_path):
    from ansible.module_utils import socle_reuse as reuse
    from conftest import load_project_module

    callback = load_project_module("callback_plugins", "socle_preload")
    folder = callback.TEMPLATE_CACHE
    assert reuse.cache_dir({"SOCLE_TEMPLATE_CACHE": "off"}, **folder) is None
    assert reuse.cache_dir({"SOCLE_TEMPLATE_CACHE": str(tmp_path)}, **folder) == str(tmp_path)
    assert reuse.cache_dir({"XDG_CACHE_HOME": "/x"}, **folder) == "/x/socle/ansible-jinja"
    assert callback.template_cache(reuse, {"SOCLE_TEMPLATE_CACHE": "off"}) == "template cache off"


def test_a_second_playbook_run_loads_what_the_first_compiled(tmp_path):
    folder = tmp_path / "jinja"
    first = run(tmp_path, SOCLE_TEMPLATE_CACHE=str(folder))
    second = run(tmp_path, SOCLE_TEMPLATE_CACHE=str(folder))
    for proc in (first, second):
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert 'msg: 1' in proc.stdout or '"msg": "1"' in proc.stdout, proc.stdout[-1500:]
    assert "(0 loaded)" in first.stdout
    kept = len(list(folder.glob("*/*.code")))
    assert kept > 0 and f"({kept} loaded)" in second.stdout, second.stdout[-2000:]
    off = run(tmp_path, SOCLE_TEMPLATE_CACHE="off")
    assert off.returncode == 0 and "template cache off" in off.stdout


def test_an_audit_warns_once_when_its_cache_folder_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    (tmp_path / "play.yml").write_text(PLAY, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "SOCLE_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CALLBACKS_ENABLED="socle_preload",
               SOCLE_CHECK_CACHE=str(blocker / "sub"), SOCLE_TEMPLATE_CACHE=str(tmp_path / "shared"))
    (tmp_path / "shared").mkdir(mode=0o777)
    (tmp_path / "shared").chmod(0o777)
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml")]
    audit = subprocess.run([*cmd, "--check"], env=env, capture_output=True, text=True, timeout=300, check=False)
    output = audit.stdout + audit.stderr
    assert audit.returncode == 0, output[-2000:]
    assert output.count("Socle cannot write its cache folder") == 1 and "SOCLE_CHECK_CACHE" in output
    assert "Socle keeps no compiled templates" in output and "not a private folder" in output
    apply = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "Socle cannot write its cache folder" not in apply.stdout + apply.stderr  # not used outside audits


def test_expressions_compiled_by_two_threads_at_once_are_each_kept_under_their_own_key(monkeypatch, tmp_path):
    """Ansible's main process has a results thread: what one thread compiles never lands under another's key."""
    import threading
    import time

    import jinja2

    cache, _ = compile_cache(monkeypatch, tmp_path / "cache")
    real = jinja2.Environment._generate
    # A compilation that takes a while, as a big one does: the other threads compile meanwhile.
    monkeypatch.setattr(jinja2.Environment, "_generate", lambda *a, **k: time.sleep(0.002) or real(*a, **k))
    expressions = [f"x + {n}" for n in range(40)]
    errors = []

    def work(chunk):
        try:
            for expression in chunk:
                n = int(expression.split("+")[1])
                assert condition(f"{expression} == {n + 1}", x=1) is True
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(expressions[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    fresh, loaded = compile_cache(monkeypatch, tmp_path / "cache")
    assert loaded >= len(expressions)
    for n in range(40):  # from the folder, in one thread: each expression's own code
        assert condition(f"x + {n} == {n + 1}", x=1) is True
        assert condition(f"x + {n} == {n + 2}", x=1) is False
