"""Reuse of a check-mode result while everything it was computed from is unchanged.

Host side (imported by modules): ``Inputs`` records the state (``stat``) of every path a module reads,
taken before it reads them; the module returns them as ``socle_inputs`` in check mode.

Controller side (loaded by path by the action plugins): a host's earlier check-mode results are kept with
their inputs, and a request is answered without a round trip only when the module's code, Ansible, the
arguments and the mode are the same and ``socle_facts`` found every recorded input exactly as it was
(device, inode, size, modification and change times in nanoseconds, mode, owner, group). Any difference,
an input the facts did not see, a failed or ``no_log`` task, or an apply run: the module runs as before.

Python 3.9 compatible (RHEL 9 hosts import this file too).
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import hashlib
import ipaddress
import json
import os
import stat
import tempfile

#: Every entry also depends on the host's identity: a rebuilt host (same name, new machine) never matches.
IDENTITY = "/etc/machine-id"
UTC = datetime.timezone.utc  # noqa: UP017 - datetime.UTC is Python 3.11+, RHEL 9 runs 3.9
#: Version of the cache file's layout; a file of another version is ignored.
FORMAT = 1
#: Entries not used for this many days are dropped when the file is written.
KEEP_DAYS = 30


# -- host side -----------------------------------------------------------------------------------------

def stat_key(path: str) -> list | None:
    """What identifies the state of a path: its lstat (and, for a symlink, its target's), or None if absent."""

    def fields(st: os.stat_result) -> list:
        return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode, st.st_uid, st.st_gid]

    try:
        st = os.lstat(path)
    except OSError:
        return None
    key = fields(st)
    if stat.S_ISLNK(st.st_mode):
        try:
            key += fields(os.stat(path))
        except OSError:
            key.append(None)
    return key


class Inputs:
    """The paths a module reads, each with its state before the read."""

    def __init__(self) -> None:
        self.paths: dict[str, list | None] = {}
        self.add(IDENTITY)

    def add(self, *paths: str) -> None:
        for path in paths:
            if path and path not in self.paths:
                self.paths[path] = stat_key(path)

    def add_glob(self, pattern: str) -> list[str]:
        """The folder of a pattern (its listing) and every match; returns the matches, sorted."""
        self.add(os.path.dirname(pattern) or ".")
        matches = sorted(glob.glob(pattern))
        self.add(*matches)
        return matches


def watch(paths: list[str]) -> dict[str, list | None]:
    """The state of each path now (socle_facts, for the controller to compare)."""
    return {path: stat_key(path) for path in paths if isinstance(path, str) and path.startswith("/")}


# -- controller side -----------------------------------------------------------------------------------

def cache_dir(environ=None, variable: str = "SOCLE_CHECK_CACHE", name: str = "check-results") -> str | None:
    """The folder ``variable`` names (off: no cache), else $XDG_CACHE_HOME/socle/<name>."""
    environ = os.environ if environ is None else environ
    setting = environ.get(variable, "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return setting or os.path.join(base, "socle", name)


#: The audit caches of this file: variable, folder name, what is lost when the folder cannot be written.
AUDIT_CACHES = (
    ("SOCLE_CHECK_CACHE", "check-results",
     "earlier check results are not reused and no measurement is made ahead: every check runs on the hosts"),
    ("SOCLE_APT_CACHE", "apt-simulation", "the pending-updates simulation runs again on every host"),
)


def cache_warnings(environ=None) -> list[str]:
    """One message for each audit cache whose folder cannot be made or written (the audit still runs)."""
    messages = []
    for variable, name, lost in AUDIT_CACHES:
        folder = cache_dir(environ, variable, name)
        if folder is None:
            continue  # turned off on purpose
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            usable = os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)
        except OSError:
            usable = False
        if not usable:
            messages.append(f"Socle cannot write its cache folder {folder} ({variable}): {lost}. Give {variable} a "
                            f"folder you can write, or off to say so.")
    return messages


def host_file(folder: str, task_vars: dict) -> str:
    """One file per managed host: a digest of its inventory name, address, port and user."""
    who = "\0".join(str(task_vars.get(k, "")) for k in
                    ("inventory_hostname", "ansible_host", "ansible_port", "ansible_user"))
    return os.path.join(folder, hashlib.sha256(who.encode()).hexdigest()[:32] + ".json")


def code_digest(module_name: str, root: str | None = None) -> str:
    """The module's source and every project module_utils file (what the module's payload is built from)."""
    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    paths = [os.path.join(root, "library", module_name + ".py")]
    paths += sorted(glob.glob(os.path.join(root, "module_utils", "*.py")))
    for path in paths:
        digest.update(path.encode() + b"\0")
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def request_key(module_name: str, args: dict, context: dict, code: str) -> str:
    """Everything a check-mode result depends on besides the host's files."""
    text = json.dumps({"module": module_name, "args": args, "context": context, "code": code},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load(path: str) -> dict:
    """The host's cache; an unreadable or foreign file is an empty cache."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {"format": FORMAT, "entries": {}}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
        return {"format": FORMAT, "entries": {}}
    return data


def watched_paths(cache: dict) -> list[str]:
    """Every input of every entry, for socle_facts to look at once at the start of the play."""
    paths = {IDENTITY}
    for entry in cache["entries"].values():
        if isinstance(entry, dict) and isinstance(entry.get("inputs"), dict):
            paths.update(p for p in entry["inputs"] if isinstance(p, str))
    return sorted(paths)


def lookup(cache: dict, key: str, watched) -> dict | None:
    """The stored result when every recorded input is, in this play's facts, exactly as it was."""
    entry = cache["entries"].get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("inputs"), dict) or not isinstance(watched, dict):
        return None
    inputs = entry["inputs"]
    if IDENTITY not in inputs or inputs[IDENTITY] is None:
        return None
    for path, state in inputs.items():
        if path not in watched or watched[path] != state:
            return None
    result = entry.get("result")
    return result if isinstance(result, dict) else None


def _today() -> str:
    return datetime.datetime.now(UTC).strftime("%Y-%m-%d")


def write_json(path: str, data) -> None:
    """Write a cache file atomically (a temporary file, then a rename); a file that cannot be written is left."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def save(path: str, cache: dict) -> None:
    """Write the host's cache, without the entries and measurements unused for KEEP_DAYS; errors are ignored."""
    limit = (datetime.datetime.now(UTC) - datetime.timedelta(days=KEEP_DAYS)).strftime("%Y-%m-%d")
    for part in ("entries", "measures"):
        if isinstance(cache.get(part), dict):
            cache[part] = {k: v for k, v in cache[part].items()
                           if isinstance(v, dict) and str(v.get("used", "")) >= limit}
    write_json(path, cache)


def run(action, module_name: str, args: dict, task_vars: dict) -> dict:
    """Run a module through an action plugin, reusing its earlier check-mode result when nothing changed.

    ``action`` is the ActionBase instance; ``args`` the module's final arguments.
    """
    task_vars = task_vars or {}
    check = bool(action._play_context.check_mode)
    folder = cache_dir() if check and not action._task.no_log else None
    path = host_file(folder, task_vars) if folder else None
    key = cache = None
    if path:
        try:
            code = code_digest(module_name)
        except OSError:
            path = None
    if path:
        from ansible.release import __version__ as ansible_version  # noqa: PLC0415 - controller only

        context = {"check": check, "diff": bool(action._play_context.diff), "ansible": ansible_version,
                   "become": bool(action._play_context.become), "become_user": action._play_context.become_user,
                   "remote_user": action._play_context.remote_user}
        key = request_key(module_name, args, context, code)
        cache = load(path)
        facts = (task_vars.get("ansible_facts") or {}).get("socle") or {}
        stored = lookup(cache, key, facts.get("watched"))
        if stored is not None:
            entry = cache["entries"][key]
            if entry.get("used") != _today():  # one write a day at most: a reused result costs no write
                entry["used"] = _today()
                save(path, cache)
            return {**json.loads(json.dumps(stored)), "socle_reused": True}
    result = action._execute_module(module_name=module_name, module_args=args, task_vars=task_vars)
    inputs = result.pop("socle_inputs", None)
    if path and isinstance(inputs, dict) and not result.get("failed") and not result.get("skipped"):
        kept = {k: v for k, v in result.items() if k not in ("invocation", "_ansible_no_log")}
        cache["entries"][key] = {"module": module_name, "inputs": inputs, "result": kept, "used": _today()}
        save(path, cache)
    return result


# -- the package simulation of socle_updates_facts ------------------------------------------------------

def simulation_file(task_vars: dict) -> str | None:
    """This host's last package simulation (key and pending updates): SOCLE_APT_CACHE, else
    $XDG_CACHE_HOME/socle/apt-simulation, one file per inventory name, address and port."""
    folder = cache_dir(variable="SOCLE_APT_CACHE", name="apt-simulation")
    if not folder:
        return None
    who = "\0".join(str(task_vars.get(k, "")) for k in ("inventory_hostname", "ansible_host", "ansible_port"))
    return os.path.join(folder, hashlib.sha256(who.encode()).hexdigest()[:32] + ".json")


def read_simulation(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("key"), str) else None


def keep_simulation(path: str, simulation: dict) -> None:
    write_json(path, {"key": simulation["key"], "pending": simulation["pending"]})


def with_simulation(args: dict, task_vars: dict) -> dict:
    """socle_updates_facts' arguments with the host's earlier simulation (the module reuses it only when the
    key of the simulation's inputs is the same)."""
    path = simulation_file(task_vars)
    if path and "simulation" not in args:
        earlier = read_simulation(path)
        if earlier:
            return {**args, "simulation": earlier}
    return args


def keep_new_simulation(result: dict, task_vars: dict) -> None:
    simulation = result.get("simulation")
    path = simulation_file(task_vars)
    if path and isinstance(simulation, dict) and not simulation.get("reused") and not result.get("failed"):
        keep_simulation(path, simulation)


# -- read-only measurements made ahead, in the socle_facts round trip (see socle_measure) ----------------

def ssh_endpoint(value) -> list | None:
    """Of SSH_CONNECTION ('client cport server sport'), what socle_nftables' check uses: the client address and
    the server port (as its parse_ssh_connection reads them); None when it cannot be read."""
    parts = str(value or "").split()
    if len(parts) != 4 or not parts[3].isdigit():
        return None
    client = parts[0].split("%", 1)[0]
    try:
        ipaddress.ip_address(client)
    except ValueError:
        return None
    return [client, int(parts[3])]


def nftables_key_args(args: dict) -> dict | None:
    """socle_nftables' arguments as its check depends on them: the client port of ssh_connection changes with
    every connection and the check never reads it. None (never made ahead) for a confirmation or when the
    connection is unknown (the module would then look for it on the host)."""
    endpoint = ssh_endpoint(args.get("ssh_connection"))
    if args.get("state", "present") != "present" or endpoint is None:
        return None
    return {**args, "ssh_connection": endpoint}


def nftables_answer(result: dict, args: dict) -> dict:
    """The result made ahead, with this run's connection where the module echoes it."""
    raw = str(args.get("ssh_connection") or "").strip()
    if isinstance(result.get("lockout"), dict):
        result["lockout"] = {**result["lockout"], "connection": raw}
    if isinstance((result.get("invocation") or {}).get("module_args"), dict):
        result["invocation"]["module_args"]["ssh_connection"] = raw
    return result


#: The modules whose measurement socle_facts may make ahead, with what completes their arguments.
PREFETCHABLE = {
    "socle_accounts_audit": None,
    "socle_clamav_facts": None,
    "socle_updates_facts": with_simulation,
    "socle_nftables": None,
}


def final_args(name: str, args: dict, task_vars: dict) -> dict:
    complete = PREFETCHABLE.get(name)
    return complete(args, task_vars) if complete else args


def measure_key(name: str, args: dict, action) -> str | None:
    """A measurement's identity: the module, its final arguments (as its result depends on them) and who it
    runs as; None when it is never made ahead."""
    if name == "socle_nftables":
        args = nftables_key_args(args)
        if args is None:
            return None
    context = {"become": bool(action._play_context.become), "become_user": action._play_context.become_user,
               "remote_user": action._play_context.remote_user}
    text = json.dumps({"module": name, "args": args, "context": context}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def prefetch_requests(cache: dict, action, task_vars: dict) -> list[dict]:
    """What socle_facts measures ahead: the measurements of this host's previous audit, with their key."""
    requests = []
    measures = cache.get("measures")
    for name, entry in sorted((measures if isinstance(measures, dict) else {}).items()):
        if name in PREFETCHABLE and isinstance(entry, dict) and isinstance(entry.get("args"), dict):
            args = final_args(name, entry["args"], task_vars)
            key = measure_key(name, args, action)
            if key is not None:
                requests.append({"name": name, "args": args, "key": key})
    return requests


def measure(action, name: str, args: dict, task_vars: dict) -> dict:
    """Run a read-only measurement, or return the one socle_facts made ahead with the same key.

    ``args`` are the task's arguments. In check mode with the cache on (and not ``no_log``), the host's
    cache remembers the call so that the next audit's socle_facts makes it ahead.
    """
    task_vars = task_vars or {}
    module_args = final_args(name, args, task_vars)
    folder = cache_dir() if action._play_context.check_mode and not action._task.no_log else None
    path = host_file(folder, task_vars) if folder else None
    result = None
    if path:
        key = measure_key(name, module_args, action)
        facts = (task_vars.get("ansible_facts") or {}).get("socle") or {}
        ahead = (facts.get("prefetched") or {}).get(name)
        if (key is not None and isinstance(ahead, dict) and ahead.get("key") == key
                and isinstance(ahead.get("result"), dict)):
            result = json.loads(json.dumps(ahead["result"]))
            result["invocation"] = {"module_args": json.loads(json.dumps(ahead.get("params")))}
            result["socle_prefetched"] = True
            if name == "socle_nftables":
                result = nftables_answer(result, module_args)
    if result is None:  # a copy: _execute_module adds Ansible's _ansible_* settings to the dict it is given
        result = action._execute_module(module_name=name, module_args=dict(module_args), task_vars=task_vars)
    if path and not result.get("failed"):
        cache = load(path)
        measures = cache.setdefault("measures", {})
        entry = {"args": args, "used": _today()}
        if measures.get(name) != entry:  # a new call, or the first of the day
            measures[name] = entry
            save(path, cache)
    return result
