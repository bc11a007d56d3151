"""restic backups: parsers of restic's JSON, age decisions, the two modules, unit rendering, no secret out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jinja2
import pytest
import yaml
from ansible.module_utils import socle_restic as rlib
from conftest import ROOT, load_project_module

repo_mod = load_project_module("library", "socle_restic_repo")
status_mod = load_project_module("library", "socle_restic_status")

NOW = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery-staple-42"
# Recorded from restic 0.14 (Debian 12) and 0.18 (Debian 13): `restic snapshots --json`.
SNAPSHOTS_014 = json.dumps([
    {"time": "2026-11-27T02:10:11.123456789+01:00", "tree": "ab", "paths": ["/etc"], "hostname": "bak12-client",
     "username": "root", "tags": ["socle"], "id": "dd9acff2aa" * 6, "short_id": "dd9acff2"},
    {"time": "2026-11-28T15:30:00.5+00:00", "tree": "cd", "paths": ["/etc"], "hostname": "bak12-client",
     "username": "root", "tags": ["socle"], "id": "b8965dfbbb" * 6, "short_id": "b8965dfb"},
    {"time": "2026-11-28T15:59:00Z", "tree": "ef", "paths": ["/srv"], "hostname": "other-host",
     "id": "0123456789" * 6, "short_id": "01234567"},
])  # fmt: skip
SNAPSHOTS_018 = json.dumps([
    {"time": "2026-11-20T08:00:00.000000001Z", "hostname": "bak12-client", "id": "9" * 64, "short_id": "99999999",
     "program_version": "restic 0.18.0", "summary": {"files_new": 3}},
])  # fmt: skip


# -- parsers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T16:09:02.123456789+01:00", datetime(2026, 11, 28, 15, 9, 2, 123456, tzinfo=UTC)),
        ("2026-11-28T16:09:02Z", datetime(2026, 11, 28, 16, 9, 2, tzinfo=UTC)),
        ("2026-11-28T16:09:02.5-0300", datetime(2026, 11, 28, 19, 9, 2, 500000, tzinfo=UTC)),
        ("2026-11-28 16:09:02", datetime(2026, 11, 28, 16, 9, 2, tzinfo=UTC)),
    ],
)
def test_parse_time(text, expected):
    assert rlib.parse_time(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-11-28", "", "2026-11-28T16:09:02+1"])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError):
        rlib.parse_time(text)


def test_latest_snapshot_of_the_host():
    snaps = rlib.parse_snapshots(SNAPSHOTS_014)
    assert rlib.latest_snapshot(snaps, "bak12-client")["short_id"] == "b8965dfb"
    assert rlib.latest_snapshot(snaps)["short_id"] == "01234567"
    assert rlib.latest_snapshot(snaps, "nobody") is None
    assert rlib.latest_snapshot(rlib.parse_snapshots(SNAPSHOTS_018), "bak12-client")["short_id"] == "99999999"


@pytest.mark.parametrize("text", ["", "null", "[]"])
def test_no_snapshot(text):
    assert rlib.parse_snapshots(text) == []


@pytest.mark.parametrize("text", ["not json", '{"time": "x"}', '[{"id": "no time"}]'])
def test_bad_snapshot_json(text):
    with pytest.raises(ValueError):
        rlib.parse_snapshots(text)


# -- age decisions ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("age", "max_h", "status"),
    [(timedelta(hours=1), 26, "compliant"), (timedelta(hours=26), 26, "compliant"),
     (timedelta(hours=26, seconds=1), 26, "drift"), (timedelta(days=7), 192, "compliant"),
     (timedelta(days=9), 192, "drift")],
)  # fmt: skip
def test_snapshot_age_decision(age, max_h, status):
    snap = {"time": (NOW - age).isoformat(), "short_id": "abcd1234"}
    finding = rlib.snapshot_age_finding(snap, NOW, max_h, "local repository")
    assert finding["status"] == status
    assert "abcd1234" in finding["actual"] and f"{max_h} h" in finding["expected"]


def test_no_snapshot_is_drift():
    assert rlib.snapshot_age_finding(None, NOW, 26, "off-site repository") == {
        "status": "drift", "expected": "off-site repository: newest snapshot at most 26 h old",
        "actual": "off-site repository: no snapshot of this host",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("line", "status"),
    [(None, "drift"), ("", "drift"), (f"{int((NOW - timedelta(days=1)).timestamp())} success 0", "compliant"),
     (f"{int((NOW - timedelta(days=1)).timestamp())} exit-code 1", "drift"),
     (f"{int((NOW - timedelta(days=9)).timestamp())} success 0", "drift")],
)  # fmt: skip
def test_check_decision(line, status):
    assert rlib.check_finding(rlib.parse_check_status(line), NOW, 8)["status"] == status


def test_check_status_unreadable():
    with pytest.raises(ValueError):
        rlib.parse_check_status("garbage success")


@pytest.mark.parametrize(
    ("record", "status"),
    [(None, "drift"), ({"date": "2026-11-20T10:00:00Z", "result": "success"}, "compliant"),
     ({"date": "2026-11-20T10:00:00Z", "result": "failure"}, "drift"),
     ({"date": "2025-11-20T10:00:00Z", "result": "success"}, "drift")],
)  # fmt: skip
def test_restore_decision(record, status):
    parsed = rlib.parse_restore_record(None if record is None else json.dumps(record))
    assert rlib.restore_finding(parsed, NOW, 31)["status"] == status


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [("Fatal: unable to open config file: Stat: stat /x/config: no such file or directory\n"
      "Is there a repository at the following location?\n/x", "missing"),
     ("Fatal: wrong password or no key found", "password"),
     ("subprocess ssh: Connection refused\nFatal: unable to open repository: unable to start the sftp session",
      "unreachable"), ("something else", "other")],
)  # fmt: skip
def test_classify_open_error(stderr, reason):
    assert rlib.classify_open_error(stderr) == reason


# -- the modules, with run_command mocked -----------------------------------------------------------
class FakeRestic:
    """Answers restic calls like a repository that may or may not exist; records every call."""

    def __init__(self, exists=False, password_ok=True, reachable=True, snapshots="[]"):
        self.exists, self.password_ok, self.reachable, self.snapshots = exists, password_ok, reachable, snapshots
        self.calls: list[tuple[list, dict]] = []

    def __call__(self, module, args, environ_update=None, **_kw):
        self.calls.append((list(args), dict(environ_update or {})))
        if not self.reachable:
            return 1, "", "subprocess ssh: Connection refused\nFatal: unable to start the sftp session"
        if "init" in args:
            self.exists = True
            return 0, "created restic repository", ""
        if not self.exists:
            return 1, "", "Fatal: unable to open config file\nIs there a repository at the following location?"
        if not self.password_ok:
            return 1, "", f"Fatal: wrong password or no key found ({PASSWORD})"  # worst case: echoed
        if "snapshots" in args:
            return 0, self.snapshots, ""
        return 0, "{}", ""


@pytest.fixture
def restic(monkeypatch, tmp_path):
    def make(**kwargs):
        fake = FakeRestic(**kwargs)
        binary = tmp_path / "restic"
        binary.write_text("")
        for mod in (repo_mod, status_mod):
            monkeypatch.setattr(mod, "RESTIC", str(binary))
            monkeypatch.setattr(mod.AnsibleModule, "run_command", lambda self, args, **kw: fake(self, args, **kw))
        return fake
    return make


def repo_args(**extra):
    return {"repository": "/var/backups/restic", "password": PASSWORD, **extra}


def test_repo_check_mode_predicts_init_and_runs_nothing_but_the_probe(restic, run_module):
    fake = restic()
    result = run_module(repo_mod, repo_args(), check_mode=True)
    assert result["changed"] is True and result["state"] == "initialised"
    assert [c[0][-1] for c in fake.calls] == ["config"]


def test_repo_apply_inits_then_idempotent(restic, run_module):
    fake = restic()
    assert run_module(repo_mod, repo_args())["changed"] is True
    assert fake.calls[-1][0][-1] == "init"
    assert run_module(repo_mod, repo_args())["changed"] is False


def test_repo_password_travels_in_the_environment_only(restic, run_module):
    fake = restic()
    result = run_module(repo_mod, repo_args(options=["sftp.command=ssh -p 2222 x -s sftp"]))
    for argv, env in fake.calls:
        assert PASSWORD not in " ".join(argv)
        assert env["RESTIC_PASSWORD"] == PASSWORD
    assert ["-o", "sftp.command=ssh -p 2222 x -s sftp"] == fake.calls[0][0][3:5]
    assert PASSWORD not in json.dumps(result)


def test_repo_wrong_password_fails_without_echoing_it(restic, run_module):
    restic(exists=True, password_ok=False)
    result = run_module(repo_mod, repo_args(), check_mode=True)
    assert result["failed"] is True and "does not open" in result["msg"]
    assert PASSWORD not in json.dumps(result)


def test_repo_unreachable_fails_in_apply_and_predicts_in_check(restic, run_module):
    restic(reachable=False)
    assert run_module(repo_mod, repo_args())["failed"] is True
    assert run_module(repo_mod, repo_args(), check_mode=True)["changed"] is True


def test_repo_fresh_host_not_probed(restic, run_module, tmp_path):
    fake = restic()
    result = run_module(repo_mod, repo_args(probe_requires=[str(tmp_path / "missing_key")]), check_mode=True)
    assert result["changed"] is True and fake.calls == []


def test_repo_missing_argument(run_module):
    assert run_module(repo_mod, {"repository": "/x"})["failed"] is True


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "local.pass"
    path.write_text(PASSWORD + "\n")
    return str(path)


def status_args(password_file, **extra):
    return {"kind": "snapshot_age", "repository": "/var/backups/restic", "password_file": password_file,
            "hostname": "bak12-client", "max_age_h": 26, **extra}


def test_status_snapshot_age_compliant(restic, run_module, password_file):
    fresh = datetime.now(UTC) - timedelta(hours=2)
    fake = restic(exists=True, snapshots=json.dumps([{"time": fresh.isoformat(), "hostname": "bak12-client",
                                                       "short_id": "aa11bb22"}]))
    result = run_module(status_mod, status_args(password_file), check_mode=True)
    assert result["changed"] is False and result["socle_finding"]["status"] == "compliant"
    argv, env = fake.calls[0]
    assert argv[-6:] == ["snapshots", "--json", "--latest", "1", "--host", "bak12-client"]
    assert {"--no-lock", "--no-cache"} <= set(argv)
    assert env["RESTIC_PASSWORD_FILE"] == password_file and "RESTIC_PASSWORD" not in env


def test_status_unreadable_repository_is_drift_without_the_password(restic, run_module, password_file):
    restic(exists=True, password_ok=False)
    result = run_module(status_mod, status_args(password_file))
    assert result["socle_finding"]["status"] == "drift"
    assert PASSWORD not in json.dumps(result)


@pytest.mark.parametrize("missing", ["restic", "password"])
def test_status_on_a_fresh_host_is_drift(restic, run_module, tmp_path, monkeypatch, missing, password_file):
    restic()
    if missing == "restic":
        monkeypatch.setattr(status_mod, "RESTIC", str(tmp_path / "nope"))
    args = status_args(password_file if missing == "restic" else str(tmp_path / "none.pass"))
    finding = run_module(status_mod, args, check_mode=True)["socle_finding"]
    assert finding["status"] == "drift"


def test_status_check_and_restore_files(run_module, tmp_path):
    status = tmp_path / "check.status"
    status.write_text(f"{int(datetime.now(UTC).timestamp())} success 0\n")
    result = run_module(status_mod, {"kind": "check", "status_file": str(status), "max_age_d": 8})
    assert result["socle_finding"]["status"] == "compliant"
    record = tmp_path / "restore.json"
    record.write_text(json.dumps({"date": "2020-01-01T00:00:00Z", "result": "success"}))
    result = run_module(status_mod, {"kind": "restore_test", "record_file": str(record), "max_age_d": 365})
    assert result["socle_finding"]["status"] == "drift" and "2020-01-01" in result["socle_finding"]["actual"]
    record.write_text("{broken")
    assert run_module(status_mod, {"kind": "restore_test", "record_file": str(record)})["failed"] is True


@pytest.mark.parametrize(
    "args",
    [{"kind": "snapshot_age"}, {"kind": "nope"}, {"kind": "check", "max_age_d": 0}],
)
def test_status_bad_arguments(run_module, args):
    assert run_module(status_mod, args)["failed"] is True


# -- systemd units and files rendered by the role ---------------------------------------------------
ROLE = ROOT / "roles" / "backup"


def render(name: str, **overrides) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), keep_trailing_newline=True,
                             trim_blocks=True)
    values = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    values.update(inventory_hostname="bak12-client", backup_offsite_ssh_host="127.0.0.1",
                  backup_offsite_ssh_port=2222, backup_local_password=PASSWORD)
    values.update(overrides)
    raw = yaml.safe_load((ROLE / "vars/main.yml").read_text())
    for _ in range(3):  # the role's vars refer to each other and to the defaults
        for key, value in raw.items():
            values[key] = (env.from_string(value).render(**values) if isinstance(value, str) else
                           [env.from_string(v).render(**values) for v in value])
    return env.get_template(name).render(**values)


def unit(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_backup_service_and_timer():
    service = unit(render("restic-backup.service.j2"))
    assert service["Type"] == ["oneshot"]
    assert service["EnvironmentFile"] == ["/etc/restic/env", "/etc/restic/retention.env"]
    backup, forget = service["ExecStart"]
    assert backup.startswith("/usr/bin/restic backup --host bak12-client --files-from /etc/restic/paths")
    assert forget == "/usr/bin/restic forget --prune --host bak12-client $RESTIC_FORGET_ARGS"
    timer = unit(render("restic-backup.timer.j2", backup_on_calendar="*-*-* 02:00"))
    assert timer["OnCalendar"] == ["*-*-* 02:00"] and timer["Persistent"] == ["true"]
    assert timer["WantedBy"] == ["timers.target"]


def test_retention_from_policy():
    text = render("retention.env.j2", backup_keep_daily=3, backup_keep_weekly=2, backup_keep_monthly=6)
    assert unit(text)["RESTIC_FORGET_ARGS"] == ["--keep-daily 3 --keep-weekly 2 --keep-monthly 6"]


def test_offsite_and_check_units():
    # Append-only by default: restic reaches the target's forced "rclone serve restic" through ssh.
    offsite = unit(render("restic-offsite.service.j2"))["ExecStart"][0]
    assert offsite.startswith("/usr/bin/restic -r rclone:socle:bak12-client -o \"rclone.program=ssh -i")
    assert "-p 2222" in offsite and "StrictHostKeyChecking=accept-new" in offsite
    assert offsite.split('"')[1].endswith("restic@127.0.0.1")
    sftp = unit(render("restic-offsite.service.j2", backup_offsite_append_only=False))["ExecStart"][0]
    assert sftp.startswith("/usr/bin/restic -r sftp:restic@127.0.0.1:/repos/bak12-client -o \"sftp.command=ssh -i")
    assert sftp.split('"')[1].endswith("restic@127.0.0.1 -s sftp")
    custom = unit(render("restic-offsite.service.j2", backup_offsite_append_only=False, backup_offsite_path="/x/y"))
    assert custom["ExecStart"][0].startswith("/usr/bin/restic -r sftp:restic@127.0.0.1:/x/y -o")
    pinned = unit(render("restic-offsite.service.j2", backup_offsite_ssh_host_key="ssh-ed25519 AAAA"))["ExecStart"][0]
    assert "UserKnownHostsFile=/etc/restic/known_hosts" in pinned and "StrictHostKeyChecking=yes" in pinned
    check = unit(render("restic-check.service.j2", backup_check_read_data_subset_pct=10))
    assert "-r rclone:socle:bak12-client" in check["ExecStart"][1] and "rclone.program=ssh" in check["ExecStart"][1]
    assert all(e.endswith(" check --read-data-subset=10%%") for e in check["ExecStart"])
    assert len(check["ExecStart"]) == 2
    assert "/var/lib/restic/check.status" in check["ExecStopPost"][0]
    assert len(unit(render("restic-check.service.j2", backup_offsite_enabled=False))["ExecStart"]) == 1


def test_no_password_in_any_rendered_file():
    for template in sorted((ROLE / "templates").glob("*.j2")):
        assert PASSWORD not in render(template.name), template.name


def test_paths_always_include_the_canary():
    lines = [line for line in render("paths.j2", backup_paths=["/srv/data"]).splitlines() if not line.startswith("#")]
    assert lines == ["/srv/data", "/var/lib/restic/canary.txt"]


# -- policy of the two roles ------------------------------------------------------------------------
policy = load_project_module("action_plugins", "socle_policy")


@pytest.mark.parametrize("role", ["backup", "offsite_target"])
def test_defaults_match_specs_and_bounds_cover_numbers(role):
    base = ROOT / "roles" / role
    options = yaml.safe_load((base / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text())
    bounds = yaml.safe_load((base / "meta/socle_bounds.yml").read_text()) or {}
    assert defaults == {name: opt["default"] for name, opt in options.items()}
    numeric = {n for n, o in options.items() if o["type"] in ("int", "float")}
    assert numeric == {n for n, b in bounds.items() if "min" in b}
    for name, bound in ((n, b) for n, b in bounds.items() if "min" in b):
        assert bound["min"] <= options[name]["default"] <= bound["max"] and bound.get("reference"), name
    assert policy.check_role(role, options, bounds, defaults, {}, set()) == []


@pytest.mark.parametrize("variable", ["backup_keep_daily", "backup_keep_weekly", "backup_keep_monthly"])
def test_zero_retention_is_refused(variable):
    base = ROOT / "roles" / "backup"
    options = yaml.safe_load((base / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    bounds = yaml.safe_load((base / "meta/socle_bounds.yml").read_text())
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text())
    errors = policy.check_role("backup", options, bounds, defaults, {variable: 0}, {variable})
    assert errors == [f"backup: {variable} = 0 is below the minimum 1 ({bounds[variable]['reference']})"]


def test_role_tasks_touching_secrets_have_no_log():
    tasks = yaml.safe_load((ROLE / "tasks/linux.yml").read_text())
    for task in tasks:
        text = json.dumps(task)
        if "password" in text.replace("password_file", "") or "private_key" in text:
            assert task.get("no_log") is True, task["name"]


# -- the off-site target's key file and sshd drop-in ------------------------------------------------
TARGET_ROLE = ROOT / "roles" / "offsite_target"
CLIENT_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUnitTestOnly bak12-client"


def render_target(name: str, **overrides) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TARGET_ROLE / "templates"), keep_trailing_newline=True,
                             trim_blocks=True)
    values = yaml.safe_load((TARGET_ROLE / "defaults/main.yml").read_text())
    values.update(offsite_target_clients=[{"host": "bak12-client", "key": CLIENT_KEY + "\n"}])
    values.update(overrides)
    return env.get_template(name).render(**values)


def key_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_append_only_keys_force_the_host_own_repository():
    lines = key_lines(render_target("authorized_keys.j2"))
    assert lines == ['restrict,command="rclone --config \'\' serve restic --stdio --append-only '
                     '/srv/restic-sftp/repos/bak12-client" ' + CLIENT_KEY]
    sshd = render_target("sshd_offsite_target.conf.j2")
    assert "ForceCommand" not in sshd and "ChrootDirectory" not in sshd
    assert "AuthorizedKeysFile /etc/ssh/socle_authorized_keys/%u" in sshd and "PermitTTY no" in sshd


def test_sftp_mode_keys_and_chroot():
    lines = key_lines(render_target("authorized_keys.j2", offsite_target_append_only=False))
    assert lines == ["restrict " + CLIENT_KEY]
    sshd = render_target("sshd_offsite_target.conf.j2", offsite_target_append_only=False)
    assert "ForceCommand internal-sftp" in sshd and "ChrootDirectory /srv/restic-sftp" in sshd
    assert key_lines(render_target("authorized_keys.j2", offsite_target_clients=[])) == []
