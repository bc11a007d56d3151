"""Load once, in Ansible's main process, what each worker process would otherwise load again."""

from __future__ import annotations

DOCUMENTATION = r"""
name: socle_preload
type: aggregate
short_description: Load the Jinja plugins and Socle's action plugins once, before the workers fork
description:
  - Ansible runs every task of every host in a new worker process forked from its main process. A worker
    that templates a filter loads every filter and test plugin first (Socle's Windows filters execute the
    decision code of module_utils/socle_windows.py when they load), and a worker that runs one of Socle's
    action plugins loads that plugin from its source. Each worker does it again, for every task and host;
    on 20 hosts this was the largest single share of the controller's CPU.
  - At the start of the playbook this plugin does that loading once in the main process, so the workers
    inherit it (every filter and test plugin, every action plugin of the project's C(action_plugins)
    folder, the catalogue's control IDs that C(socle_policy) reads for every host, and the controller side of
    C(module_utils/socle_reuse.py) that several actions load). Nothing else changes;
    each worker would have loaded the same plugins from the same files. Any failure only leaves the
    loading to the workers, with a message at -vvv. C(SOCLE_PRELOAD=off) turns it off.
  - At the start of each play it also calls C(gc.freeze()), which moves every object the main process
    holds out of reach of the garbage collector, so a forked worker that collects does not write to (and
    copy) the parent's pages (5 hosts - 5 % less controller CPU). C(SOCLE_GC_FREEZE=off) leaves it out.
  - It keeps the Python code Jinja compiles from each task template and conditional (a C(when), an argument
    with C({{ }})) in a folder, C($XDG_CACHE_HOME/socle/ansible-jinja) (C(~/.cache/socle/ansible-jinja), or
    the folder C(SOCLE_TEMPLATE_CACHE) names; C(off) turns it off). Each worker compiled every template
    it met again, for every task and host (a fifth of a worker's time on a converged host); with the cache a
    worker loads the code the first run compiled. The code is keyed on the template's exact text, the Jinja
    settings that change what it compiles to (delimiters, whitespace control, escaping, the environment's
    class), and the versions of Python, Jinja, ansible-core and ansible with the size and modification time
    of every filter and test plugin file Ansible lists; a change in any of them misses. The folder must
    belong to the user and be writable by no one else (it holds code the controller runs), otherwise the
    cache is left off with a warning; any error reading or writing it only leaves the compiling to Jinja. A
    template that does not compile is never kept.
  - In check mode it warns, once, when the folder of an audit cache (C(SOCLE_CHECK_CACHE), C(SOCLE_APT_CACHE))
    cannot be written, saying what the audit then does without; the audit still runs.
requirements: []
"""

import contextlib
import gc
import hashlib
import marshal
import os
import shutil
import stat
import sys
import tempfile
import threading
import types
from pathlib import Path

from ansible import context
from ansible.plugins.callback import CallbackBase

ACTIONS = Path(__file__).resolve().parent.parent / "action_plugins"


def preload() -> list[str]:
    """Load the Jinja plugins and the project's action plugins in this process; return what was loaded."""
    from ansible.plugins.loader import action_loader, filter_loader, test_loader  # noqa: PLC0415

    loaded = [f"{len(list(filter_loader.all()))} filters", f"{len(list(test_loader.all()))} tests"]
    for path in sorted(ACTIONS.glob("socle_*.py")):
        plugin = action_loader.get(path.stem, class_only=True)
        if plugin is None:
            continue
        loaded.append(path.stem)
        module = sys.modules.get(plugin.__module__)
        if hasattr(module, "catalogue_ids"):
            module.catalogue_ids()  # cached in the module: each host's policy check reads it
        if hasattr(module, "preload"):
            done = module.preload()  # the controller-side module_utils the action loads (socle_reuse)
            if done and done not in loaded:
                loaded.append(done)
    return loaded


def private_folder(path: str) -> bool:
    """True if ``path`` is a directory (not a link) of this user that no one else can write."""
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def salt() -> str:
    """What the compiled code depends on besides the template and the environment's settings."""
    import jinja2  # noqa: PLC0415
    from ansible import release  # noqa: PLC0415
    from ansible.plugins.loader import filter_loader, test_loader  # noqa: PLC0415

    try:
        from importlib.metadata import version  # noqa: PLC0415

        collections = version("ansible")
    except Exception:  # noqa: BLE001 - ansible-core alone
        collections = "-"
    import importlib.util  # noqa: PLC0415

    parts = [sys.version, importlib.util.MAGIC_NUMBER.hex(), jinja2.__version__, release.__version__, collections]
    # Jinja writes a filter's or test's context-passing convention into the code: the plugin files count.
    paths = sorted({str(getattr(p, "_original_path", "")) for p in (*filter_loader.all(), *test_loader.all())})
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


class CompileCache:
    """Jinja's compiled code for Ansible's templates and conditionals, in memory and in a private folder.

    Installed in Ansible's main process, it is inherited by every forked worker; a worker that compiles a
    template the folder does not hold yet adds it (one file per template, written to a temporary name and
    renamed), so the next run loads it instead of compiling it.
    """

    MAX_FILES = 5000  # a folder that grows past this (templates edited over time) is emptied and starts again

    def __init__(self, folder: str, version: str):
        self.root = folder
        self.folder = os.path.join(folder, version)
        self.memory: dict[str, types.CodeType] = {}
        # The code compile_expression compiles, per thread: Ansible's main process has a results thread too.
        self.local = threading.local()

    def open(self) -> int:
        """Make (or check) the folder, drop other versions' code, load this version's; return how many."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        if not (private_folder(self.root) and private_folder(self.folder)):
            raise PermissionError(f"{self.root} is not a private folder of this user")
        for other in os.listdir(self.root):
            if other != os.path.basename(self.folder):
                shutil.rmtree(os.path.join(self.root, other), ignore_errors=True)
        names = [n for n in os.listdir(self.folder) if n.endswith(".code")]
        if len(names) > self.MAX_FILES:
            for name in names:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.folder, name))
            return 0
        for name in names:
            code = self.read(name[:-5])
            if code is not None:
                self.memory[name[:-5]] = code
        return len(self.memory)

    @staticmethod
    def key(kind: str, source: str, env, *extra) -> str | None:
        from ansible._internal._templating import _jinja_bits  # noqa: PLC0415

        if getattr(env, "_debuggable_template_source", False):
            return None  # Ansible's template debugging writes its own source: leave it alone
        context = _jinja_bits._TemplateCompileContext.current(optional=True)
        settings = (
            f"{type(env).__module__}.{type(env).__qualname__}",
            tuple(getattr(env, name, None) for name in _jinja_bits._TEMPLATE_OVERRIDE_FIELD_NAMES),
            env.optimized, env.is_async, tuple(sorted(env.extensions)),
            getattr(context, "escape_backslashes", None),
            getattr(_jinja_bits._TemplateConfig, "allow_embedded_templates", None),
            kind, extra,
        )
        digest = hashlib.sha256(repr(settings).encode())
        digest.update(b"\0" + str.encode(source, "utf-8", "surrogatepass"))
        return digest.hexdigest()[:40]

    def read(self, key: str) -> types.CodeType | None:
        try:
            with open(os.path.join(self.folder, key + ".code"), "rb") as handle:
                st = os.fstat(handle.fileno())
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    return None
                code = marshal.loads(handle.read())  # noqa: S302 - our own folder, private: checked above
        except (OSError, ValueError, EOFError, TypeError):
            return None
        return code if isinstance(code, types.CodeType) else None

    def get(self, key: str) -> types.CodeType | None:
        code = self.memory.get(key)
        if code is None:
            code = self.read(key)
            if code is not None:
                self.memory[key] = code
        return code

    def put(self, key: str, code: types.CodeType) -> None:
        self.memory[key] = code
        try:
            handle, temp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(marshal.dumps(code))
            os.replace(temp, os.path.join(self.folder, key + ".code"))
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temp)

    def install(self) -> None:
        """Wrap the compile steps of Ansible's Jinja environment class (this process and its future forks)."""
        from ansible._internal._templating._jinja_bits import AnsibleEnvironment  # noqa: PLC0415
        from jinja2 import nodes  # noqa: PLC0415
        from jinja2.environment import TemplateExpression  # noqa: PLC0415

        if getattr(AnsibleEnvironment, "_socle_compile_cache", None) is not None:
            AnsibleEnvironment._socle_compile_cache = self
            return
        compile_ = AnsibleEnvironment.compile
        compile_expression = AnsibleEnvironment.compile_expression
        AnsibleEnvironment._socle_compile_cache = self

        def cached_compile(env, source, name=None, filename=None, raw=False, defer_init=False):
            cache = AnsibleEnvironment._socle_compile_cache
            if isinstance(source, nodes.Template):  # an expression's tree (compile_expression below keys it)
                code = compile_(env, source, name, filename, raw, defer_init)
                capture = getattr(cache.local, "capture", None)
                if capture is not None and not raw:
                    capture.append(code)
                return code
            key = None if raw or not isinstance(source, str) else cache.key("template", source, env, name,
                                                                           filename, defer_init)
            if key is None:
                return compile_(env, source, name, filename, raw, defer_init)
            code = cache.get(key)
            if code is None:
                code = compile_(env, source, name, filename, raw, defer_init)
                cache.put(key, code)
            return code

        def cached_compile_expression(env, source, undefined_to_none=True):
            cache = AnsibleEnvironment._socle_compile_cache
            key = cache.key("expression", source, env, undefined_to_none) if isinstance(source, str) else None
            code = None if key is None else cache.get(key)
            if code is not None:
                template = env.template_class.from_code(env, code, env.make_globals(None), None)
                return TemplateExpression(template, undefined_to_none)
            outer = getattr(cache.local, "capture", None)
            cache.local.capture = capture = []
            try:
                expression = compile_expression(env, source, undefined_to_none)
                if key is not None and len(capture) == 1:
                    cache.put(key, capture[0])
                return expression
            finally:
                cache.local.capture = outer

        AnsibleEnvironment.compile = cached_compile
        AnsibleEnvironment.compile_expression = cached_compile_expression


#: Where the compiled task templates go, by socle_reuse.cache_dir's rule (the other caches' rule).
TEMPLATE_CACHE = {"variable": "SOCLE_TEMPLATE_CACHE", "name": "ansible-jinja"}


def template_cache(reuse, environ=None) -> str:
    """Install the compile cache in this process; return what to report at -vvv. ``reuse`` is
    module_utils/socle_reuse, as the actions' preload loaded it."""
    folder = reuse.cache_dir(environ, **TEMPLATE_CACHE)
    if folder is None:
        return "template cache off"
    cache = CompileCache(folder, salt())
    loaded = cache.open()
    cache.install()
    return f"template cache {cache.folder} ({loaded} loaded)"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "socle_preload"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._off = os.environ.get("SOCLE_PRELOAD", "").lower() in ("off", "0", "no", "false")
        self._done = False

    def v2_playbook_on_play_start(self, play):
        if self._off:
            return
        if not self._done:
            self._done = True
            try:
                self._display.vvv(f"socle_preload: loaded {', '.join(preload())}")
            except Exception as exc:  # noqa: BLE001 - an optimisation: the workers load what they need themselves
                self._display.vvv(f"socle_preload: nothing preloaded: {exc}")
            reuse = sys.modules.get("socle_module_utils_reuse")  # loaded by preload() above
            try:
                self._display.vvv(f"socle_preload: {template_cache(reuse)}")
            except Exception as exc:  # noqa: BLE001 - an optimisation: Jinja compiles as it always did
                self._display.warning(f"Socle keeps no compiled templates (SOCLE_TEMPLATE_CACHE): {exc}")
            if reuse is not None and context.CLIARGS.get("check"):
                for message in reuse.cache_warnings():
                    self._display.warning(message)
        if os.environ.get("SOCLE_GC_FREEZE", "") != "off":
            # Every object the main process holds now (plugins, the play, the inventory) moves out of reach of
            # the garbage collector: a forked worker that collects no longer writes to their pages, which
            # copy-on-write would otherwise copy for each task and host.
            gc.freeze()
