"""Read-only measurements made ahead in socle_facts' round trip (module_utils/socle_measure.py, socle_reuse)."""

from __future__ import annotations

import json
import os
import sys
from types import SimpleNamespace

import pytest
from ansible.module_utils import socle_clamav as sc
from ansible.module_utils import socle_measure as sm
from ansible.module_utils import socle_reuse as reuse
from conftest import ROOT, load_project_module

cached_action = load_project_module("action_plugins", "socle_cached")
facts_action = load_project_module("action_plugins", "socle_facts")
HOST = {"inventory_hostname": "pc-1", "ansible_host": "127.0.0.1", "ansible_port": 2201, "ansible_user": "adm"}


def action(name: str, args: dict, check_mode: bool = True, no_log: bool = False, become_user: str = "root"):
    act = object.__new__(cached_action.ActionModule)
    act._task = SimpleNamespace(args=args, action=name, no_log=no_log)
    act._play_context = SimpleNamespace(check_mode=check_mode, diff=True, become=True, become_user=become_user,
                                        remote_user="adm")
    return act


class Host:
    """Stands for the host: the module calls it answers, counted."""

    def __init__(self):
        self.calls = []

    def execute(self, act, module_name=None, module_args=None, task_vars=None):
        self.calls.append((module_name, dict(module_args)))
        module_args["_ansible_check_mode"] = True  # as ActionBase._execute_module does to the dict it gets
        return {"changed": False, "socle_finding": {"status": "compliant"}, "invocation": {"module_args": module_args}}


@pytest.fixture
def host(monkeypatch, tmp_path):
    monkeypatch.setenv("SOCLE_CHECK_CACHE", str(tmp_path / "checks"))
    monkeypatch.setenv("SOCLE_APT_CACHE", str(tmp_path / "apt"))
    monkeypatch.setattr(cached_action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    fake = Host()
    monkeypatch.setattr(cached_action.ActionModule, "_execute_module",
                        lambda self, **kw: fake.execute(self, **kw), raising=False)
    return fake


def facts_requests(monkeypatch, check_mode=True, become_user="root", **tags) -> list[dict]:
    """What the socle_facts action asks the module to measure ahead."""
    sent = []
    monkeypatch.setattr(facts_action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(facts_action.ActionModule, "_execute_module",
                        lambda self, **kw: sent.append(kw["module_args"]) or {}, raising=False)
    act = object.__new__(facts_action.ActionModule)
    act._task = SimpleNamespace(args={}, action="socle_facts")
    act._play_context = SimpleNamespace(check_mode=check_mode, become=True, become_user=become_user,
                                        remote_user="adm")
    act.run(task_vars={**HOST, **tags})
    return sent[0].get("prefetch", [])


def with_prefetched(requests: list[dict], result: dict) -> dict:
    """Task vars as after socle_facts made each request (the host side answered ``result``)."""
    done = {r["name"]: {"key": r["key"], "params": r["args"], "result": result} for r in requests}
    return {**HOST, "ansible_facts": {"socle": {"prefetched": done}}}


def test_a_measurement_is_made_ahead_in_the_next_audit_and_answers_without_a_round_trip(host, monkeypatch):
    args = {"max_age_h": 48}
    first = action("socle_clamav_facts", args).run(task_vars=HOST)
    assert len(host.calls) == 1 and "socle_prefetched" not in first
    requests = facts_requests(monkeypatch)
    assert [(r["name"], r["args"]) for r in requests] == [("socle_clamav_facts", args)]
    measured = {"changed": False, "socle_finding": {"status": "drift", "actual": "built 3 days ago"}}
    answer = action("socle_clamav_facts", args).run(task_vars=with_prefetched(requests, measured))
    assert len(host.calls) == 1  # no round trip
    assert answer["socle_finding"] == measured["socle_finding"] and answer["socle_prefetched"] is True
    assert answer["invocation"] == {"module_args": args}
    stored = reuse.load(reuse.host_file(os.environ["SOCLE_CHECK_CACHE"], HOST))["measures"]["socle_clamav_facts"]
    assert stored == {"args": args, "used": reuse._today()}


def test_other_arguments_another_user_apply_or_no_log_run_the_module(host, monkeypatch):
    args = {"max_age_h": 48}
    action("socle_clamav_facts", args).run(task_vars=HOST)
    requests = facts_requests(monkeypatch)
    ahead = with_prefetched(requests, {"changed": False, "socle_finding": {"status": "compliant"}})
    action("socle_clamav_facts", {"max_age_h": 24}).run(task_vars=ahead)
    action("socle_clamav_facts", args, become_user="other").run(task_vars=ahead)
    action("socle_clamav_facts", args, check_mode=False).run(task_vars=ahead)
    action("socle_clamav_facts", args, no_log=True).run(task_vars=ahead)
    assert len(host.calls) == 5
    monkeypatch.setenv("SOCLE_CHECK_CACHE", "off")
    action("socle_clamav_facts", args).run(task_vars=ahead)
    assert len(host.calls) == 6
    assert facts_requests(monkeypatch) == []


def test_the_next_audit_measures_what_the_last_one_asked_last(host, monkeypatch):
    action("socle_clamav_facts", {"max_age_h": 48}).run(task_vars=HOST)
    action("socle_clamav_facts", {"max_age_h": 24}).run(task_vars=HOST)  # the policy changed
    assert [r["args"] for r in facts_requests(monkeypatch)] == [{"max_age_h": 24}]
    assert facts_requests(monkeypatch, ansible_run_tags=["all"], ansible_skip_tags=[]) != []
    assert facts_requests(monkeypatch, check_mode=False) == []
    # A run limited by tags may not reach the measurement: nothing is made ahead for it.
    assert facts_requests(monkeypatch, ansible_run_tags=["M4-LNX-SHELL-TMOUT"]) == []
    assert facts_requests(monkeypatch, ansible_skip_tags=["M2"]) == []


def test_a_failed_measurement_is_not_asked_ahead(host, monkeypatch):
    monkeypatch.setattr(host, "execute", lambda act, **kw: {"failed": True, "msg": "boom"})
    action("socle_accounts_audit", {"unused_days": 90}).run(task_vars=HOST)
    assert facts_requests(monkeypatch) == []


def test_updates_get_the_package_simulation_ahead_too_and_keep_a_new_one(host, monkeypatch, tmp_path):
    args = {"max_run_age_h": 48}
    reuse.keep_simulation(reuse.simulation_file(HOST), {"key": "k1", "pending": []})
    action("socle_updates_facts", args).run(task_vars=HOST)
    assert host.calls[-1][1] == {**args, "simulation": {"key": "k1", "pending": []}}
    requests = facts_requests(monkeypatch)
    assert requests[0]["args"] == {**args, "simulation": {"key": "k1", "pending": []}}
    new = {"changed": False, "socle_findings": {},
           "simulation": {"key": "k2", "pending": ["openssl 3"], "reused": False}}
    action("socle_updates_facts", args).run(task_vars=with_prefetched(requests, new))
    assert len(host.calls) == 1
    assert reuse.read_simulation(reuse.simulation_file(HOST)) == {"key": "k2", "pending": ["openssl 3"]}
    # the simulation the key was made with is no longer the kept one: the module runs
    action("socle_updates_facts", args).run(task_vars=with_prefetched(requests, new))
    assert len(host.calls) == 2


# -- host side ---------------------------------------------------------------------------------------------

class FakeModule:
    def run_command(self, *_a, **_kw):
        raise AssertionError("the ClamAV measurement runs no command")


def test_the_host_side_validates_like_the_module_and_leaves_out_what_fails(tmp_path):
    folder = tmp_path / "clamav"
    folder.mkdir()
    from datetime import datetime

    (folder / "daily.cld").write_bytes(sc.build_header(datetime.now(sc.UTC)))
    requests = [
        {"name": "socle_clamav_facts", "args": {"database_dir": str(folder), "max_age_h": "48"}, "key": "k"},
        {"name": "socle_clamav_facts", "args": {"max_age_h": 0}, "key": "bad value"},  # measure refuses it
        {"name": "socle_accounts_audit", "args": {"unknown": 1}, "key": "bad argument"},
        {"name": "socle_nftables", "args": {}, "key": "not prefetchable"},
        "not a request",
    ]
    found = sm.prefetch(FakeModule(), requests[:1] + requests[3:])
    assert list(found) == ["socle_clamav_facts"]
    entry = found["socle_clamav_facts"]
    assert entry["key"] == "k" and entry["params"] == {"database_dir": str(folder), "max_age_h": 48}
    assert entry["result"]["socle_finding"]["status"] == "compliant"
    skipped = {}
    assert sm.prefetch(FakeModule(), requests[1:3], skipped) == {}
    assert "max_age_h: must be 1 hour or more" in skipped["socle_clamav_facts"]
    assert "unknown" in skipped["socle_accounts_audit"]


def test_each_prefetchable_module_is_the_measure_function_and_nothing_else():
    assert set(reuse.PREFETCHABLE) == {"socle_accounts_audit", "socle_clamav_facts", "socle_updates_facts",
                                       "socle_nftables"}
    source = (ROOT / "library" / "socle_nftables.py").read_text()
    assert "result, state = check(module, params)" in source  # the same check as nftables_host.measure
    assert (ROOT / "action_plugins" / "socle_nftables.py").resolve().name == "socle_cached.py"
    for name in set(reuse.PREFETCHABLE) - {"socle_nftables"}:
        spec, measure = sm.implementation(name)
        source = (ROOT / "library" / f"{name}.py").read_text()
        assert "exit_json(**measure(module, module.params))" in source and "ARGUMENT_SPEC" in source
        assert (ROOT / "action_plugins" / f"{name}.py").resolve().name == "socle_cached.py"
        assert spec and callable(measure)
    assert sm.implementation("socle_file") is None


def test_the_facts_module_measures_ahead_in_check_mode_only(run_module, monkeypatch, tmp_path):
    facts_mod = load_project_module("library", "socle_facts")
    asked = []
    monkeypatch.setattr(facts_mod, "prefetch", lambda module, requests, skipped: asked.append(requests) or {"x": 1})
    requests = [{"name": "socle_clamav_facts", "args": {}, "key": "k"}]
    checked = run_module(facts_mod, {"root": str(tmp_path), "prefetch": requests}, check_mode=True)
    assert checked["ansible_facts"]["socle"]["prefetched"] == {"x": 1}
    applied = run_module(facts_mod, {"root": str(tmp_path), "prefetch": requests})
    assert applied["ansible_facts"]["socle"]["prefetched"] == {} and len(asked) == 1


def test_cache_file_keeps_the_calls_and_drops_old_ones(host, tmp_path):
    action("socle_clamav_facts", {"max_age_h": 48}).run(task_vars=HOST)
    path = reuse.host_file(os.environ["SOCLE_CHECK_CACHE"], HOST)
    data = json.loads(open(path, encoding="utf-8").read())
    assert data["measures"]["socle_clamav_facts"]["args"] == {"max_age_h": 48}
    data["measures"]["socle_clamav_facts"]["used"] = "2000-01-01"
    reuse.save(path, data)
    assert reuse.load(path)["measures"] == {}
    assert sys.modules["ansible.module_utils.socle_reuse"] is reuse


# -- socle_nftables: the check of state=present, keyed without the client port ---------------------------------

nft_action = load_project_module("action_plugins", "socle_nftables")
nft_host = sys.modules["ansible.module_utils.socle_nftables_host"]
CONNECTION = "192.168.10.5 50000 192.168.10.9 22"


@pytest.mark.parametrize("value", [CONNECTION, "fe80::1%eth0 1 fe80::2 2222", "10.0.0.1 1 10.0.0.2 ssh",
                                   "host 1 10.0.0.2 22", "", None, "1 2 3"])
def test_the_controller_reads_the_connection_as_the_module_does(value):
    parsed = nft_host.parse_ssh_connection(value)
    assert reuse.ssh_endpoint(value) == (list(parsed) if parsed else None)


def test_the_key_ignores_the_client_port_only():
    act = action("socle_nftables", {})
    base = {"admin_networks": ["192.168.10.0/24"], "ssh_connection": CONNECTION}

    def key(**changes):
        return reuse.measure_key("socle_nftables", {**base, **changes}, act)

    assert key() == key(ssh_connection="192.168.10.5 50001 192.168.10.9 22")
    assert key() != key(ssh_connection="192.168.10.6 50000 192.168.10.9 22")
    assert key() != key(ssh_connection="192.168.10.5 50000 192.168.10.9 2222")
    assert key() != key(admin_networks=[])
    assert key(ssh_connection="") is None  # the module would look for it on the host
    assert key(state="confirm") is None


def nft_task(args: dict, check_mode: bool = True):
    act = object.__new__(nft_action.ActionModule)
    act._task = SimpleNamespace(args=args, action="socle_nftables", no_log=False)
    act._play_context = SimpleNamespace(check_mode=check_mode, diff=True, become=True, become_user="root",
                                        remote_user="adm")
    return act


def test_a_firewall_check_made_ahead_answers_with_this_runs_connection(host, monkeypatch):
    monkeypatch.setattr(nft_action.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(nft_action.ActionModule, "_execute_module",
                        lambda self, **kw: host.execute(self, **kw), raising=False)
    args = {"admin_networks": ["192.168.10.0/24"], "ssh_connection": CONNECTION}
    nft_task(args).run(task_vars=HOST)  # the first audit: measured on the host, remembered
    assert len(host.calls) == 1
    requests = facts_requests(monkeypatch)
    assert [r["name"] for r in requests] == ["socle_nftables"]
    made = {"changed": False, "socle_parts": {"baseline": False, "mgmt": False, "logging": False},
            "lockout": {"connection": CONNECTION, "allowed_by": "admin"}}
    later = {**args, "ssh_connection": "192.168.10.5 50999 192.168.10.9 22"}  # the next run's SSH connection
    answer = nft_task(later).run(task_vars=with_prefetched(requests, made))
    assert len(host.calls) == 1 and answer["socle_prefetched"] is True
    assert answer["lockout"] == {"connection": later["ssh_connection"], "allowed_by": "admin"}
    assert answer["invocation"]["module_args"]["ssh_connection"] == later["ssh_connection"]
    nft_task(later, check_mode=False).run(task_vars=with_prefetched(requests, made))  # apply: the module runs
    moved = {**args, "ssh_connection": "10.1.1.1 50000 192.168.10.9 22"}  # another client address
    nft_task(moved).run(task_vars=with_prefetched(requests, made))
    assert len(host.calls) == 3


def test_only_the_check_of_state_present_is_made_ahead_on_the_host():
    params = {name: spec.get("default") for name, spec in nft_host.ARGUMENT_SPEC.items()}
    with pytest.raises(sm.MeasureError):
        nft_host.measure(FakeModule(), {**params, "state": "confirm"})
