"""Reuse of check-mode results (module_utils/socle_reuse.py): answered on the controller only when nothing changed."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
from ansible.module_utils import socle_reuse as reuse
from conftest import ROOT, load_project_module

file_action = load_project_module("action_plugins", "socle_file")
facts_action = load_project_module("action_plugins", "socle_facts")
sshd_mod = load_project_module("library", "socle_sshd")
file_mod = load_project_module("library", "socle_file")
pam_mod = load_project_module("library", "socle_pam_auth_update")
HOST = {"inventory_hostname": "pc-1", "ansible_host": "127.0.0.1", "ansible_port": 2201, "ansible_user": "adm"}


# -- the state of a path ---------------------------------------------------------------------------------

def test_a_rewrite_with_the_same_size_and_modification_time_is_still_seen(tmp_path):
    path = tmp_path / "tmout.sh"
    path.write_text("TMOUT=900\n")
    before = reuse.stat_key(str(path))
    st = os.stat(path)
    path.write_text("TMOUT=999\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # someone hides the edit's time
    after = reuse.stat_key(str(path))
    assert after[2] == before[2] and after[3] == before[3]  # same size, same mtime...
    assert after != before  # ...but the change time moved


def test_mode_owner_replacement_and_absence_each_change_the_state(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    first = reuse.stat_key(str(path))
    os.chmod(path, 0o600)
    assert reuse.stat_key(str(path)) != first
    second = reuse.stat_key(str(path))
    os.replace(tmp_path / "f", tmp_path / "g")
    (tmp_path / "f").write_text("x")  # same content, new inode
    assert reuse.stat_key(str(path)) != second
    assert reuse.stat_key(str(tmp_path / "absent")) is None


def test_a_symlink_is_known_by_its_target_too(tmp_path):
    target = tmp_path / "target"
    target.write_text("a")
    link = tmp_path / "link"
    link.symlink_to(target)
    first = reuse.stat_key(str(link))
    target.write_text("bb")
    assert reuse.stat_key(str(link)) != first


def test_inputs_start_with_the_host_identity_and_take_a_folder_listing_with_a_pattern(tmp_path):
    (tmp_path / "a.conf").write_text("")
    (tmp_path / "b.txt").write_text("")
    inputs = reuse.Inputs()
    assert reuse.IDENTITY in inputs.paths
    assert inputs.add_glob(str(tmp_path / "*.conf")) == [str(tmp_path / "a.conf")]
    assert str(tmp_path) in inputs.paths and str(tmp_path / "b.txt") not in inputs.paths


# -- the cache's decision --------------------------------------------------------------------------------

def cache_with(inputs: dict, result: dict | None = None) -> dict:
    return {"format": reuse.FORMAT, "entries": {"k": {"module": "socle_file", "inputs": inputs,
                                                      "result": result or {"changed": False}, "used": "2026-12-01"}}}


def test_reuse_only_when_every_input_is_watched_and_the_same():
    inputs = {reuse.IDENTITY: [1, 2], "/etc/a": [3, 4], "/etc/absent": None}
    cache = cache_with(inputs)
    assert reuse.lookup(cache, "k", dict(inputs)) == {"changed": False}
    assert reuse.lookup(cache, "other", dict(inputs)) is None
    assert reuse.lookup(cache, "k", {**inputs, "/etc/a": [3, 5]}) is None  # changed
    assert reuse.lookup(cache, "k", {**inputs, "/etc/absent": [9]}) is None  # appeared
    assert reuse.lookup(cache, "k", {k: v for k, v in inputs.items() if k != "/etc/a"}) is None  # not looked at
    assert reuse.lookup(cache, "k", None) is None  # no facts from this play
    no_identity = cache_with({"/etc/a": [3, 4]})
    assert reuse.lookup(no_identity, "k", {"/etc/a": [3, 4]}) is None
    assert reuse.watched_paths(cache) == sorted(inputs)


def test_key_changes_with_arguments_context_and_code(tmp_path):
    (tmp_path / "library").mkdir()
    (tmp_path / "module_utils").mkdir()
    (tmp_path / "library" / "socle_file.py").write_text("v1")
    (tmp_path / "module_utils" / "socle_files.py").write_text("u1")
    code = reuse.code_digest("socle_file", str(tmp_path))
    base = reuse.request_key("socle_file", {"a": 1}, {"check": True}, code)
    assert base == reuse.request_key("socle_file", {"a": 1}, {"check": True}, code)
    assert base != reuse.request_key("socle_file", {"a": 2}, {"check": True}, code)
    assert base != reuse.request_key("socle_file", {"a": 1}, {"check": True, "become_user": "x"}, code)
    (tmp_path / "module_utils" / "socle_files.py").write_text("u2")
    assert reuse.code_digest("socle_file", str(tmp_path)) != code


def test_unreadable_or_foreign_cache_is_empty_and_old_entries_are_dropped(tmp_path):
    path = tmp_path / "sub" / "h.json"
    assert reuse.load(str(path)) == {"format": reuse.FORMAT, "entries": {}}
    path.parent.mkdir()
    path.write_text("{not json")
    assert reuse.load(str(path))["entries"] == {}
    path.write_text(json.dumps({"format": 99, "entries": {"k": {}}}))
    assert reuse.load(str(path))["entries"] == {}
    cache = {"format": reuse.FORMAT, "entries": {"old": {"used": "2000-01-01"}, "new": {"used": reuse._today()}}}
    reuse.save(str(path), cache)
    assert list(reuse.load(str(path))["entries"]) == ["new"]
    assert oct(path.parent.stat().st_mode & 0o777) in ("0o700", "0o755")  # created private unless it existed


def test_cache_folder_setting(monkeypatch, tmp_path):
    assert reuse.cache_dir({"SOCLE_CHECK_CACHE": "off"}) is None
    assert reuse.cache_dir({"SOCLE_CHECK_CACHE": str(tmp_path)}) == str(tmp_path)
    assert reuse.cache_dir({"XDG_CACHE_HOME": "/c"}) == "/c/socle/check-results"
    assert reuse.host_file("/d", HOST) != reuse.host_file("/d", {**HOST, "ansible_port": 2202})


# -- the actions: one round trip saved, never a wrong answer ------------------------------------------------

class Host:
    """Files of a fake host and the module it runs: each call reads the files and reports their state."""

    def __init__(self, tmp_path):
        self.root = tmp_path / "host"
        self.root.mkdir()
        (self.root / "machine-id").write_text("abc\n")
        self.calls = []

    def path(self, name):
        return str(self.root / name)

    def execute(self, action, module_name=None, module_args=None, task_vars=None):
        self.calls.append((module_name, module_args))
        target = module_args["entries"][0]["path"]
        inputs = {reuse.IDENTITY: reuse.stat_key(self.path("machine-id")), target: reuse.stat_key(target)}
        try:
            with open(target) as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        result = {"changed": current != module_args["entries"][0]["content"], "diff": [{"before": current or ""}],
                  "invocation": {"module_args": module_args}}
        if action._play_context.check_mode:
            result["socle_inputs"] = inputs
        return result

    def facts(self, cache_folder):
        cache = reuse.load(reuse.host_file(cache_folder, HOST))
        watched = {}
        for path in reuse.watched_paths(cache):
            watched[path] = reuse.stat_key(self.path("machine-id") if path == reuse.IDENTITY else path)
        return {"ansible_facts": {"socle": {"watched": watched}}, **HOST}


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCLE_CHECK_CACHE", str(tmp_path / "cache"))
    fake = Host(tmp_path)
    monkeypatch.setattr(file_action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(file_action.ActionModule, "_execute_module",
                        lambda self, **kw: fake.execute(self, **kw), raising=False)
    return fake


def action(args, check_mode=True, no_log=False):
    act = object.__new__(file_action.ActionModule)
    act._task = SimpleNamespace(args=args, no_log=no_log, action="socle_file")
    act._play_context = SimpleNamespace(check_mode=check_mode, diff=True, become=True, become_user="root",
                                        remote_user="adm")
    return act


def audit(host, args, **kw):
    return action(args, **kw).run(task_vars=host.facts(os.environ["SOCLE_CHECK_CACHE"]))


def test_second_audit_is_answered_without_a_round_trip_and_says_so(host):
    args = {"entries": [{"path": host.path("tmout.sh"), "content": "TMOUT=900\n"}]}
    (host.root / "tmout.sh").write_text("TMOUT=900\n")
    first = audit(host, args)
    second = audit(host, args)
    assert len(host.calls) == 1
    assert second.pop("socle_reused") is True
    path = reuse.host_file(os.environ["SOCLE_CHECK_CACHE"], HOST)
    written = os.stat(path).st_mtime_ns
    audit(host, args)
    assert os.stat(path).st_mtime_ns == written  # a reuse the same day writes nothing
    entries = reuse.load(path)["entries"]
    assert [e["used"] for e in entries.values()] == [reuse._today()]
    assert "socle_inputs" not in first and "invocation" in first
    assert second == {k: v for k, v in first.items() if k != "invocation"}


def test_a_changed_input_or_argument_runs_the_module_again(host):
    args = {"entries": [{"path": host.path("tmout.sh"), "content": "TMOUT=900\n"}]}
    (host.root / "tmout.sh").write_text("TMOUT=900\n")
    audit(host, args)
    (host.root / "tmout.sh").write_text("TMOUT=999\n")  # drift made after the first audit
    drift = audit(host, args)
    assert len(host.calls) == 2 and drift["changed"] is True and "socle_reused" not in drift
    assert audit(host, args)["changed"] is True and len(host.calls) == 2  # the drift itself is reused
    audit(host, {"entries": [{"path": host.path("tmout.sh"), "content": "TMOUT=600\n"}]})  # new policy
    assert len(host.calls) == 3
    (host.root / "machine-id").write_text("rebuilt\n")  # same name, new machine
    audit(host, args)
    assert len(host.calls) == 4


def test_apply_no_log_and_failures_never_use_or_fill_the_cache(host, monkeypatch):
    args = {"entries": [{"path": host.path("secret"), "content": "pw\n"}]}
    audit(host, args, no_log=True)
    audit(host, args, no_log=True)
    assert len(host.calls) == 2
    assert not os.path.exists(reuse.host_file(os.environ["SOCLE_CHECK_CACHE"], HOST))
    action(args, check_mode=False).run(task_vars=host.facts(os.environ["SOCLE_CHECK_CACHE"]))
    assert not os.path.exists(reuse.host_file(os.environ["SOCLE_CHECK_CACHE"], HOST))
    failing = host.execute
    monkeypatch.setattr(host, "execute", lambda act, **kw: {**failing(act, **kw), "failed": True})
    audit(host, args)
    audit(host, args)
    assert len(host.calls) == 5
    monkeypatch.setenv("SOCLE_CHECK_CACHE", "off")
    action(args).run(task_vars=HOST)
    assert len(host.calls) == 6


def test_the_facts_action_asks_for_the_inputs_of_earlier_results_in_check_mode_only(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCLE_CHECK_CACHE", str(tmp_path))
    reuse.save(reuse.host_file(str(tmp_path), HOST), cache_with({reuse.IDENTITY: [1], "/etc/login.defs": [2]}))
    calls = []
    monkeypatch.setattr(facts_action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(facts_action.ActionModule, "_execute_module",
                        lambda self, **kw: calls.append(kw["module_args"]) or {}, raising=False)
    for check in (True, False):
        act = object.__new__(facts_action.ActionModule)
        act._task = SimpleNamespace(args={}, action="socle_facts")
        act._play_context = SimpleNamespace(check_mode=check)
        act.run(task_vars=HOST)
    assert calls == [{"watch": ["/etc/login.defs", reuse.IDENTITY], "prefetch": []}, {}]


# -- the modules report what they read ---------------------------------------------------------------------

def test_socle_file_reports_its_inputs_in_check_mode_only(run_module, tmp_path):
    args = {"entries": [{"path": str(tmp_path / "a.conf"), "content": "x\n"}]}
    checked = run_module(file_mod, args, check_mode=True)
    assert set(checked["socle_inputs"]) == {reuse.IDENTITY, "/etc/passwd", "/etc/group", str(tmp_path / "a.conf")}
    assert checked["socle_inputs"][str(tmp_path / "a.conf")] is None
    applied = run_module(file_mod, args)
    assert "socle_inputs" not in applied


def test_sshd_inputs_follow_includes_recursively(tmp_path, monkeypatch):
    main = tmp_path / "sshd_config"
    conf_d = tmp_path / "sshd_config.d"
    conf_d.mkdir()
    extra = tmp_path / "extra"
    extra.mkdir()
    main.write_text(f"Include {conf_d}/*.conf\nPort 22\n")
    (conf_d / "10-a.conf").write_text(f'include "{extra}/*.conf"\n')
    (extra / "x.conf").write_text("MaxAuthTries 3\n")
    inputs = reuse.Inputs()
    sshd_mod.config_inputs(inputs, str(main))
    assert {str(main), str(conf_d), str(conf_d / "10-a.conf"), str(extra), str(extra / "x.conf")} <= set(inputs.paths)


def test_pam_profile_check_reads_only_what_it_reports(monkeypatch, tmp_path, run_module):
    profiles = tmp_path / "pam-configs"
    state = tmp_path / "state"
    pamd = tmp_path / "pam.d"
    for folder in (profiles, state, pamd):
        folder.mkdir()
    monkeypatch.setattr(pam_mod, "PROFILES_DIR", str(profiles))
    monkeypatch.setattr(pam_mod, "STATE_DIR", str(state))
    monkeypatch.setattr(pam_mod, "PAM_DIR", str(pamd))
    tool = tmp_path / "pam-auth-update"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    opened = []
    real_read = pam_mod.read_text
    monkeypatch.setattr(pam_mod, "read_text", lambda p: opened.append(p) or real_read(p))
    result = run_module(pam_mod, {"name": "socle-x", "content": "Name: x\nAuth:\n  required pam_x.so\n"},
                        check_mode=True)
    assert opened and set(opened) <= set(result["socle_inputs"])


def test_every_reusing_action_runs_a_module_that_reports_inputs():
    for name in ("socle_file", "socle_sshd", "socle_pam_auth_update"):  # the shared action: reuse for these
        action_file = ROOT / "action_plugins" / f"{name}.py"
        assert action_file.is_symlink() and action_file.resolve().name == "socle_cached.py"
        assert name not in reuse.PREFETCHABLE
    for name in ("socle_file", "socle_sshd", "socle_pam_auth_update"):
        module_text = (ROOT / "library" / f"{name}.py").read_text()
        assert "socle_inputs" in module_text and "Inputs()" in module_text


def test_an_audit_cache_folder_that_cannot_be_written_is_named_with_what_is_lost(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    env = {"SOCLE_CHECK_CACHE": str(blocker / "sub"), "SOCLE_APT_CACHE": str(tmp_path / "apt"),
           "XDG_CACHE_HOME": str(tmp_path)}
    (message,) = reuse.cache_warnings(env)
    assert str(blocker / "sub") in message and "SOCLE_CHECK_CACHE" in message and "every check runs" in message
    assert (tmp_path / "apt").is_dir()  # the other one could be made: no message for it
    assert reuse.cache_warnings({**env, "SOCLE_CHECK_CACHE": "off"}) == []  # off on purpose: nothing to say
    assert reuse.cache_warnings({"XDG_CACHE_HOME": str(tmp_path)}) == []
