#!/usr/bin/env python3
"""Socle benchmark: audit speed per host, Ansible floor, Lynis, scaling across hosts, report rendering.

Runs everything in one go on a lab of its own (SOCLE_LAB_NAME=socle-bench) and prints each figure and
the ratios, then writes bench/RESULTS.md. Usage (from the project root, after `make deps`):

    .venv/bin/python bench/bench.py [--repeat 3] [--scale 1,5,20] [--skip-lynis] [--skip-backups]
        [--accounts 12] [--skip-converged-scale]

Never part of the test suite: timings depend on the machine; only ratios measured in one run mean much.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LAB_ENV = {
    "SOCLE_LAB_NAME": "socle-bench",
    "SOCLE_LAB_PORT": "2801",
    "SOCLE_LAB_DIR": str(ROOT / ".lab-bench"),
    "SOCLE_LAB_INVENTORY": str(ROOT / "inventories" / "lab" / "hosts-bench.yml"),
    "CONTAINERS_CONF": str(ROOT / "lab" / "containers.conf"),
}
ENV = {**os.environ, **LAB_ENV, "PATH": f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}",
       "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "SOCLE_TEMPLATE_CACHE": "off"}
INVENTORY = LAB_ENV["SOCLE_LAB_INVENTORY"]
NOOP_SHORT = 10  # tasks of the short play of the "Ansible alone" figures


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], ok=(0,), **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, **kw)
    if proc.returncode not in ok:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-2000:]}")
    return proc


def timed(cmd: list[str], ok=(0,)) -> float:
    start = time.perf_counter()
    run(cmd, ok=ok)
    return time.perf_counter() - start


def controller_cpu() -> float:
    """CPU seconds (user + system) used so far by this script's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def hosts_cpu() -> float | None:
    """CPU seconds used so far by the bench lab's containers (their cgroups), None where unreadable."""
    ids = run(["podman", "ps", "-q", "--no-trunc", "--filter", f"name={LAB_ENV['SOCLE_LAB_NAME']}-"]).stdout.split()
    total = 0.0
    for cid in ids:
        v1 = list(Path("/sys/fs/cgroup/cpuacct").glob(f"**/libpod-{cid}/cpuacct.usage"))
        v2 = list(Path("/sys/fs/cgroup").glob(f"**/libpod-{cid}*/cpu.stat")) if not v1 else []
        try:
            if v1:
                total += int(v1[0].read_text()) / 1e9
            elif v2:
                usage = next(line for line in v2[0].read_text().splitlines() if line.startswith("usage_usec"))
                total += int(usage.split()[1]) / 1e6
            else:
                return None
        except (OSError, ValueError, StopIteration):
            return None
    return total if ids else None


def tasks_per_host(output: Path) -> int:
    """Task results of one host in a run's Ansible output (its PLAY RECAP line: ok + failed + skipped + rescued)."""
    for line in output.read_text(encoding="utf-8").splitlines():
        counts = dict(part.split("=") for part in line.split(":", 1)[-1].split() if "=" in part)
        if {"ok", "skipped", "failed"} <= counts.keys():
            return sum(int(counts.get(k, 0)) for k in ("ok", "failed", "skipped", "rescued"))
    raise SystemExit(f"no PLAY RECAP in {output}")


def noop_playbook(tmp: Path, count: int) -> Path:
    """A play of ``count`` controller-only tasks: Ansible's own cost per task and host, no SSH, no host work."""
    task = "    - name: No-op {}\n      ansible.builtin.debug:\n        msg: no-op\n      changed_when: false\n"
    tasks = "".join(task.format(i) for i in range(count))
    path = tmp / f"noop-{count}.yml"
    path.write_text(f"---\n- name: Ansible alone, {count} tasks\n  hosts: all\n  gather_facts: false\n"
                    f"  tasks:\n{tasks}", encoding="utf-8")
    return path


def median_of(repeat: int, cmd: list[str], ok=(0,)) -> tuple[float, list[float]]:
    times = [timed(cmd, ok=ok) for _ in range(repeat)]
    return statistics.median(times), times


def lab_up(count: int) -> list[dict]:
    run([PY, "-m", "socle", "lab", "up", "--count", str(count), "--release", "12"])
    return json.loads((Path(LAB_ENV["SOCLE_LAB_DIR"]) / "lab.json").read_text())["hosts"]


def socle(mode: str, out: Path, limit: str | None = None, forks: int | None = None, apt_cache: str = "off",
          check_cache: str = "off", template_cache: str = "off") -> list[str]:
    """The socle command line; ``apt_cache`` is SOCLE_APT_CACHE (off: every audit simulates the upgrade),
    ``check_cache`` SOCLE_CHECK_CACHE (off: every check result is measured on the host), ``template_cache``
    SOCLE_TEMPLATE_CACHE (off: every worker compiles the templates it meets)."""
    cmd = ["env", f"SOCLE_APT_CACHE={apt_cache}", f"SOCLE_CHECK_CACHE={check_cache}",
           f"SOCLE_TEMPLATE_CACHE={template_cache}", PY, "-m", "socle", mode, "-q",
           "-i", INVENTORY, "--out", str(out)]
    if limit:
        cmd += ["--limit", limit]
    if forks:
        cmd += ["--forks", str(forks)]
    return cmd


def ssh(host: dict, command: str) -> list[str]:
    return ["ssh", "-q", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-i", str(Path(LAB_ENV["SOCLE_LAB_DIR"]) / "id_ed25519"), "-p", str(host["port"]),
            "socleadm@127.0.0.1", command]


def bench_report(tmp: Path) -> dict:
    """Render a synthetic run record of 1,000 hosts x every catalogue control, in a child process."""
    code = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from socle.catalogue import load_catalogue
from socle.record import load_record
from socle.report.html import render_html
cat = load_catalogue()
ids = list(cat.controls)
statuses = ["compliant"] * 6 + ["drift", "not_applicable", "error"]
DIFF = "--- a\n+++ b\n@@ -1 +1 @@\n-ClientAliveInterval 0\n+ClientAliveInterval 300\n"
hosts = {}
for n in range(1000):
    controls = {}
    for i, cid in enumerate(ids):
        st = statuses[(n + i) % len(statuses)]
        controls[cid] = {"status": st, "changed": st == "drift",
            "expected": "ClientAliveInterval 300" if st == "drift" else None,
            "actual": "ClientAliveInterval 0" if st == "drift" else None,
            "diff": DIFF if st == "drift" else None,
            "message": "boom" if st == "error" else None,
            "tasks": [{"name": cid + " | task", "result": "changed" if st == "drift" else "ok", "msg": None}]}
    hosts[f"pc-{n:04d}.facility.lan"] = {"status": "ok", "message": None, "facility": "EHPAD Bench",
        "platform": "Debian 12", "controls": controls}
record = {"schema_version": 1, "run": {"id": "20261128T000000Z-00000000", "mode": "audit",
    "started": "2026-11-28T00:00:00Z", "finished": "2026-11-28T00:10:00Z", "ansible_version": "2.19.14",
    "socle_version": "0.1.0", "playbooks": ["audit.yml"], "errors": []}, "hosts": hosts}
path = Path(sys.argv[2]) / "run.json"
path.write_text(json.dumps(record))
start = time.perf_counter()
rec = load_record(path)
loaded = time.perf_counter()
html = render_html(rec, cat, lang="fr")
done = time.perf_counter()
print(json.dumps({"load_s": loaded - start, "render_s": done - loaded, "total_s": done - start,
    "html_bytes": len(html.encode()), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "hosts": len(hosts), "controls": len(ids)}))
"""
    proc = run([PY, "-c", code, str(ROOT), str(tmp)])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scheduled_with(host: dict, tmp: Path, caches: dict, repeat: int, label: str, variables: dict,
                   settings: tuple[str, ...]) -> tuple[float, list[float]]:
    """The scheduled audit of the converged host with ``variables`` added to the inventory: apply, one audit
    to leave the caches, then the timed audits; refused unless the last audit finds ``settings`` compliant."""
    name = host["name"]
    inventory = tmp / f"{label}-inventory.yml"
    inventory.write_text(json.dumps({"all": {"vars": variables}}), encoding="utf-8")
    inventory.chmod(0o600)

    def command(mode: str, out: str) -> list[str]:
        cmd = socle(mode, tmp / f"{label}-{out}", limit=name, **caches)
        at = cmd.index("--out")
        return [*cmd[:at], "-i", str(inventory), *cmd[at:]]

    run(command("apply", "apply"), ok=(0, 2))
    run(command("audit", "prime"), ok=(0, 2))
    seconds, runs = median_of(repeat, command("audit", "conv"), ok=(0, 2))
    record = json.loads((tmp / f"{label}-conv" / "run.json").read_text(encoding="utf-8"))
    statuses = {cid: c["status"] for cid, c in record["hosts"][name]["controls"].items() if cid in settings}
    if statuses != dict.fromkeys(settings, "compliant"):
        raise SystemExit(f"the {label} figure's audit did not find its settings converged: {statuses}")
    return seconds, runs


def bench_backups(host: dict, tmp: Path, caches: dict, repeat: int) -> dict:
    """The scheduled audit of the converged host once its backups are on (local restic repository; the
    off-site copy needs a second host and is left out), against the same audit without backups."""
    log(f"backups on for {host['name']} (local repository): apply, then the scheduled audit")
    # Throw-away lab host, bench-only password.
    variables = {"backup_enabled": True, "backup_offsite_enabled": False,
                 "backup_local_password": "bench-only-password-0001"}
    seconds, runs = scheduled_with(host, tmp, caches, repeat, "backups", variables,
                                   ("M3-LNX-REPO-LOCAL", "M3-LNX-RESTIC-JOB", "M3-LNX-RETENTION"))
    return {"audit_converged_backups_s": seconds, "audit_converged_backups_runs": runs}


def bench_accounts(host: dict, tmp: Path, caches: dict, count: int, repeat: int) -> dict:
    """The scheduled audit of the converged host once it has ``count`` personal accounts and two departed
    people's accounts (a facility's host), against the same audit without them, in the same run."""
    departed = ["parti1", "parti2"]
    users = [f"agent{i:02d}" for i in range(count)] + departed
    log(f"{count} personal accounts and {len(departed)} departed on {host['name']}: apply, then the scheduled audit")
    run(ssh(host, "sudo -n sh -c 'for u in " + " ".join(users) + "; do useradd -m -s /bin/bash $u; done'"))
    seconds, runs = scheduled_with(host, tmp, caches, repeat, "accounts", {"accounts_departed": departed},
                                   ("M5-LNX-PASS-AGEING", "M5-LNX-DEPARTED-LOCKED"))
    return {"accounts": count, "accounts_departed": len(departed), "audit_converged_accounts_s": seconds,
            "audit_converged_accounts_runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per single-host figure (median kept)")
    parser.add_argument("--scale", default="1,5,20", help="host counts for the scaling figure")
    parser.add_argument("--skip-lynis", action="store_true")
    parser.add_argument("--accounts", type=int, default=12,
                        help="personal accounts given to the converged host for the accounts figure (0: leave it out)")
    parser.add_argument("--skip-backups", action="store_true", help="leave out the backups figure")
    parser.add_argument("--skip-converged-scale", action="store_true",
                        help="leave out the scheduled audit of the last --scale count of converged hosts")
    args = parser.parse_args(argv)
    scale = [int(n) for n in args.scale.split(",") if n.strip()]
    results: dict = {"repeat": args.repeat, "load_at_start": [round(x, 1) for x in os.getloadavg()]}
    tmp = Path(tempfile.mkdtemp(prefix="socle-bench-"))
    try:
        log("starting 1 fresh Debian 12 host")
        host = lab_up(1)[0]
        name = host["name"]
        floor = [str(Path(PY).with_name("ansible-playbook")), "-i", INVENTORY, str(ROOT / "bench" / "floor.yml")]
        log("Ansible floor (one play, no fact gathering, one module)")
        results["floor_s"], results["floor_runs"] = median_of(args.repeat, floor)
        log("Socle audit, fresh host (a first audit: nothing reused)")
        results["audit_fresh_s"], results["audit_fresh_runs"] = median_of(
            args.repeat, socle("audit", tmp / "fresh", limit=name), ok=(2,))
        log("apply, then Socle audit, converged host")
        run(socle("apply", tmp / "apply", limit=name), ok=(0, 2))
        # A scheduled audit of a converged host: the package simulation and the check results of the
        # previous audit are reused while their inputs are unchanged. One audit (not timed) leaves them.
        caches = {"apt_cache": str(tmp / "apt-cache"), "check_cache": str(tmp / "check-cache"),
                  "template_cache": str(tmp / "ansible-jinja")}
        run(socle("audit", tmp / "conv-prime", limit=name, **caches), ok=(0, 2))
        cpu, host_cpu = controller_cpu(), hosts_cpu()
        results["audit_converged_s"], results["audit_converged_runs"] = median_of(
            args.repeat, socle("audit", tmp / "conv", limit=name, **caches), ok=(0, 2))
        results["audit_converged_controller_cpu_s"] = round((controller_cpu() - cpu) / args.repeat, 2)
        if host_cpu is not None and (after := hosts_cpu()) is not None:
            results["audit_converged_hosts_cpu_s"] = round((after - host_cpu) / args.repeat, 2)
        results["audit_tasks_per_host"] = tasks_per_host(tmp / "conv" / "ansible-output.txt")
        results["audit_converged_no_reuse_s"], results["audit_converged_no_reuse_runs"] = median_of(
            args.repeat, socle("audit", tmp / "conv-no-reuse", limit=name), ok=(0, 2))
        if not args.skip_lynis:
            log("installing lynis (Debian package) on the same host")
            run(ssh(host, "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis"))
            log("lynis audit system")
            results["lynis_s"], results["lynis_runs"] = median_of(
                args.repeat, ssh(host, "sudo -n lynis audit system --quick --no-colors --no-log >/dev/null"))
        if not args.skip_backups:
            results.update(bench_backups(host, tmp, caches, args.repeat))
        if args.accounts:
            results.update(bench_accounts(host, tmp, caches, args.accounts, args.repeat))
        for count in scale:
            log(f"scaling: {count} fresh host(s), forks={count}")
            lab_up(count)
            cpu = controller_cpu()
            results[f"audit_{count}_hosts_s"] = timed(socle("audit", tmp / f"scale{count}", forks=count), ok=(2,))
            # The controller's own CPU (Ansible, its workers, the reports); the lab hosts share the same cores.
            results[f"audit_{count}_hosts_controller_cpu_s"] = round(controller_cpu() - cpu, 2)
        if scale and not args.skip_converged_scale:
            count = scale[-1]  # the hosts of the last scaling step are still up
            log(f"scheduled audit at scale: apply on the {count} hosts, one audit to leave the caches, then timed")
            run(socle("apply", tmp / f"scale{count}-apply", forks=count), ok=(0, 2))
            caches = {"apt_cache": str(tmp / "apt-cache-scale"), "check_cache": str(tmp / "check-cache-scale"),
                      "template_cache": str(tmp / "ansible-jinja-scale")}
            run(socle("audit", tmp / f"scale{count}-prime", forks=count, **caches), ok=(0, 2))
            cpu, host_cpu = controller_cpu(), hosts_cpu()
            results["audit_converged_scale_hosts"] = count
            results["audit_converged_scale_s"] = timed(
                socle("audit", tmp / f"scale{count}-conv", forks=count, **caches), ok=(0, 2))
            results["audit_converged_scale_controller_cpu_s"] = round(controller_cpu() - cpu, 2)
            if host_cpu is not None and (after := hosts_cpu()) is not None:
                results["audit_converged_scale_hosts_cpu_s"] = round(after - host_cpu, 2)
            # What Ansible alone scales to on this machine: as many controller-only tasks as the audit ran
            # per host (no SSH, no host work), on 1 host and on all of them; and a short play for contrast.
            playbook = [str(Path(PY).with_name("ansible-playbook")), "-i", INVENTORY, "--forks", str(count)]
            for tasks in sorted({results["audit_tasks_per_host"], NOOP_SHORT}):
                log(f"Ansible alone: {tasks} controller-only tasks on 1 and {count} hosts")
                noop = str(noop_playbook(tmp, tasks))
                results[f"noop_{tasks}_1_s"], _ = median_of(args.repeat, playbook + ["--limit", name, noop])
                results[f"noop_{tasks}_{count}_s"], _ = median_of(args.repeat, playbook + [noop])
        log("report rendering: 1,000 hosts x every catalogue control")
        results["report"] = bench_report(tmp)
    finally:
        run([PY, "-m", "socle", "lab", "down"], ok=(0, 1))
    write_results(results, scale)
    return 0


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": platform.machine(), "cpus": str(os.cpu_count()),
           "load average at the end (1, 5, 15 min)": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    out["ansible-core"] = run([str(Path(PY).with_name("ansible")), "--version"]).stdout.split("\n")[0]
    try:
        out["cpu"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                          if line.startswith("model name"))
    except (OSError, StopIteration):
        out["cpu"] = platform.processor()
    return out


def cpu_bound(r: dict) -> list[str]:
    """What the CPU measured in this run allows: the scheduled audit of N hosts cannot take less than the CPU
    it used (controller and lab hosts) spread over every core of the machine."""
    needed = ("audit_converged_scale_s", "audit_converged_scale_controller_cpu_s", "audit_converged_scale_hosts_cpu_s")
    if not all(k in r for k in needed):
        return []
    cores = os.cpu_count() or 1
    n, wall = r["audit_converged_scale_hosts"], r["audit_converged_scale_s"]
    cpu = r["audit_converged_scale_controller_cpu_s"] + r["audit_converged_scale_hosts_cpu_s"]
    best = cpu / cores
    controller, hosts = r["audit_converged_scale_controller_cpu_s"], r["audit_converged_scale_hosts_cpu_s"]
    lines = ["", f"CPU bound of the scheduled audit of {n} hosts: it used {cpu:.1f} s of CPU (controller "
             f"{controller:.1f} s, lab hosts {hosts:.1f} s) "
             f"in {wall:.1f} s on {cores} cores ({100 * cpu / (wall * cores):.0f} % of the machine); spread perfectly "
             f"over the {cores} cores that CPU takes at least {best:.1f} s, {best / r['audit_converged_s']:.2f}× one "
             "converged host: the ratio cannot go below that without less work per task and host or fewer tasks."]
    tasks = r.get("audit_tasks_per_host")
    if tasks and f"noop_{tasks}_{n}_s" in r:
        ratio = r[f"noop_{tasks}_{n}_s"] / r[f"noop_{tasks}_1_s"]
        lines.append(f"The audit ran {tasks} tasks per host; Ansible alone, running {tasks} tasks that do nothing "
                     f"on the controller (no SSH, no host work), takes {ratio:.2f}× "
                     f"as long on {n} hosts as on 1 on this machine.")
    return lines


def write_results(r: dict, scale: list[int]) -> None:
    lines = ["# Socle benchmark results", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/bench.py` in one run, "
             "on the lab (podman containers, systemd, SSH on loopback with pipelining).", ""]
    lines += ["| Machine | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in versions().items()] + [""]
    rows = [("Ansible floor: one play, no facts, one module, 1 host", r["floor_s"]),
            ("Socle full dry-run audit, 1 fresh host (CLI, reports included; a first audit, nothing reused)",
             r["audit_fresh_s"]),
            ("Socle full dry-run audit, 1 converged host (scheduled audit: the previous audit's package simulation,"
             " check results and compiled task templates reused where their inputs are unchanged)",
             r["audit_converged_s"]),
            ("Socle full dry-run audit, 1 converged host (nothing reused: every check measured on the host)",
             r["audit_converged_no_reuse_s"])]
    if "lynis_s" in r:
        rows.append(("`lynis audit system --quick`, same host", r["lynis_s"]))
    if "audit_converged_backups_s" in r:
        rows.append(("Socle scheduled audit of the same converged host with its backups on (local restic repository)",
                     r["audit_converged_backups_s"]))
    if "audit_converged_accounts_s" in r:
        rows.append((f"Socle scheduled audit of the same converged host with {r['accounts']} personal accounts and "
                     f"{r['accounts_departed']} departed people's accounts", r["audit_converged_accounts_s"]))
    rows += [(f"Socle audit of {n} fresh hosts (forks {n}; a first audit, nothing reused)", r[f"audit_{n}_hosts_s"])
             for n in scale]
    rows += [(f"  controller CPU (user + system) of that audit, {n} host(s)", r[f"audit_{n}_hosts_controller_cpu_s"])
             for n in scale if f"audit_{n}_hosts_controller_cpu_s" in r]
    if "audit_converged_scale_s" in r:
        n = r["audit_converged_scale_hosts"]
        rows += [(f"Socle scheduled audit of {n} converged hosts (forks {n}; caches of the previous audit, "
                  "compiled templates included)",
                  r["audit_converged_scale_s"]),
                 ("  controller CPU (user + system) of that audit", r["audit_converged_scale_controller_cpu_s"])]
        if "audit_converged_scale_hosts_cpu_s" in r:
            rows.append(("  the lab hosts' CPU during that audit (their cgroups)",
                         r["audit_converged_scale_hosts_cpu_s"]))
        for key, value in sorted(r.items()):
            if key.startswith("noop_") and key.endswith("_s"):
                tasks, hosts = key[5:-2].split("_")
                rows.append((f"Ansible alone: a play of {tasks} controller-only tasks (`debug`, no SSH), "
                             f"{hosts} host(s), forks {n}", value))
    if "audit_converged_controller_cpu_s" in r:
        rows.append(("  controller CPU (user + system) of one scheduled audit of 1 converged host",
                     r["audit_converged_controller_cpu_s"]))
    if "audit_converged_hosts_cpu_s" in r:
        rows.append(("  that host's CPU during that audit (its cgroup)", r["audit_converged_hosts_cpu_s"]))
    lines += ["| Figure | Seconds |", "|---|---|"] + [f"| {k} | {v:.2f} |" for k, v in rows] + [""]
    ratios = [("Socle audit (converged) / Ansible floor", r["audit_converged_s"] / r["floor_s"], "≤ 3"),
              ("Socle audit (converged, nothing reused) / Ansible floor",
               r["audit_converged_no_reuse_s"] / r["floor_s"], "≤ 3"),
              ("Socle audit (fresh) / Ansible floor", r["audit_fresh_s"] / r["floor_s"], "≤ 3")]
    if "lynis_s" in r:
        ratios.append(("Lynis / Socle audit (converged): Socle is N× faster", r["lynis_s"] / r["audit_converged_s"],
                       "≥ 9"))
        ratios.append(("Lynis / Socle audit (converged, nothing reused): Socle is N× faster",
                       r["lynis_s"] / r["audit_converged_no_reuse_s"], "≥ 9"))
        ratios.append(("Lynis / Socle audit (fresh): Socle is N× faster", r["lynis_s"] / r["audit_fresh_s"], "≥ 9"))
    if "audit_converged_backups_s" in r:
        ratios.append(("Converged host with backups on / off (scheduled audits)",
                       r["audit_converged_backups_s"] / r["audit_converged_s"], "(reference)"))
    if "audit_converged_accounts_s" in r:
        ratios.append((f"Converged host with {r['accounts'] + r['accounts_departed']} more accounts / without them "
                       "(scheduled audits)", r["audit_converged_accounts_s"] / r["audit_converged_s"], "(reference)"))
    if 1 in scale and 20 in scale:
        ratios.append(("20 hosts / 1 host", r["audit_20_hosts_s"] / r["audit_1_hosts_s"], "≤ 4"))
    if "audit_converged_scale_s" in r:
        ratios.append((f"{r['audit_converged_scale_hosts']} converged hosts / 1 converged host (scheduled audits)",
                       r["audit_converged_scale_s"] / r["audit_converged_s"], "≤ 4"))
        n = r["audit_converged_scale_hosts"]
        for tasks in sorted({r.get("audit_tasks_per_host"), NOOP_SHORT} - {None}):
            if f"noop_{tasks}_{n}_s" in r:
                ratios.append((f"Ansible alone, {tasks} controller-only tasks: {n} hosts / 1 host",
                               r[f"noop_{tasks}_{n}_s"] / r[f"noop_{tasks}_1_s"], "(reference)"))
    rep = r["report"]
    lines += ["| Ratio | Value | Target |", "|---|---|---|"] + [f"| {k} | {v:.2f} | {t} |" for k, v, t in ratios]
    lines += cpu_bound(r)
    lines += ["", f"Report of {rep['hosts']} hosts × {rep['controls']} controls: load {rep['load_s']:.2f} s, "
              f"render {rep['render_s']:.2f} s (total {rep['total_s']:.2f} s, target < 3 s), HTML "
              f"{rep['html_bytes'] / 1e6:.2f} MB (target < 5 MB), peak memory {rep['peak_rss_mb']:.0f} MB.", ""]
    lines += ["Single-host figures are the median of the runs listed in the JSON below.", "", "```json",
              json.dumps(r, indent=1), "```", ""]
    text = "\n".join(lines)
    (ROOT / "bench" / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
