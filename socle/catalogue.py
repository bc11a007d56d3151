"""The control catalogue: load and validate it, render it for the README, trace it to tasks and tests.

catalogue/controls.yml is the spine of Socle: one entry per control, with a stable ID such as
``M4-LNX-GNOME-LOCK``. Tasks carry the ID at the start of their name (``"<ID> | what it does"``)
or in their tags; run records, reports, waivers and tests point at the same IDs. This module

* loads the catalogue and checks it (JSON Schema in catalogue/schema.json plus the rules a schema
  cannot express) -- :func:`load_catalogue`, :func:`validate`;
* generates the README's coverage tables from it -- :func:`feature_table`, :func:`update_readme`;
* finds which control IDs the roles and the tests mention, so that the traceability tests can prove
  that every implemented control has tasks and a test, and that no task claims an unknown ID --
  :func:`task_control_ids`, :func:`control_ids_in_tests`, :func:`trace`.

Command line::

    python -m socle.catalogue validate [CATALOGUE]
    python -m socle.catalogue readme [--check] [README]
    python -m socle.catalogue trace [PROJECT_ROOT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from socle import cache

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_PATH = PROJECT_ROOT / "catalogue" / "controls.yml"
SCHEMA_PATH = PROJECT_ROOT / "catalogue" / "schema.json"
README_PATH = PROJECT_ROOT / "README.md"

BEGIN_MARKER = "<!-- catalogue:begin -->"
END_MARKER = "<!-- catalogue:end -->"

LANGS = ("fr", "en")
MEASURES = tuple(range(1, 9))
PLATFORMS = ("linux", "windows", "organisational")
PLATFORM_CODES = {"LNX": "linux", "WIN": "windows", "ORG": "organisational"}
TEXT_FIELDS = ("title", "rationale", "check")
PROSE_FIELDS = ("title", "rationale")  # must differ between fr and en; a check may be a bare registry path

ID_RE = re.compile(r"^M(?P<measure>[1-8])-(?P<code>LNX|WIN|ORG)-[A-Z0-9]+(?:-[A-Z0-9]+)*$")
# Anything that looks like a control ID, deliberately looser than ID_RE (lower case, underscores,
# a typo'd suffix) so that a malformed ID in a task name or tag is reported as unknown instead of
# being silently skipped.
ID_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_-])M[1-8]-(?:LNX|WIN|ORG)-[A-Za-z0-9_-]*[A-Za-z0-9_]")

TASK_GLOBS = (
    "roles/*/tasks/**/*.yml",
    "roles/*/tasks/**/*.yaml",
    "roles/*/handlers/**/*.yml",
    "roles/*/handlers/**/*.yaml",
)
TASK_BLOCK_KEYS = ("block", "rescue", "always")

# Files under tests/ that mention control IDs without testing a control: the catalogue's own tests
# and the fixtures (recorded runs, fake trees).
TEST_EXCLUDED_FILES = frozenset({"test_catalogue.py", "test_traceability.py"})
TEST_EXCLUDED_DIRS = frozenset({"fixtures", "__pycache__", ".pytest_cache"})
TEST_SUFFIXES = frozenset(
    {".py", ".yml", ".yaml", ".json", ".sh", ".ps1", ".j2", ".cfg", ".ini", ".toml", ".txt", ".md"}
)

_LABELS = {
    "en": {
        "summary_caption": "**Coverage by measure**: controls implemented / planned, per platform.",
        "summary_head": ("#", "Measure", "Linux", "Windows", "Organisational", "Implemented controls"),
        "total": "**Total**",
        "full_caption": "**All controls**",
        "full_head": ("ID", "Measure", "Platform", "Kind", "Title", "Implemented"),
        "platforms": {"linux": "Linux", "windows": "Windows", "organisational": "Organisational"},
        "kinds": {"enforce": "enforce", "measure": "measure", "attest": "attest"},
        "generated": "_Generated from `catalogue/controls.yml` by `python -m socle.catalogue readme`; "
        "do not edit by hand._",
        "recorded": "(recorded)",
        "recorded_note": "✅ (recorded): implemented and unit-tested on outputs recorded in the documented formats; "
        "**not tested against a live host** (there is no Windows host here).",
    },
    "fr": {
        "summary_caption": "**Couverture par mesure** : contrôles implémentés / prévus, par plateforme.",
        "summary_head": ("N°", "Mesure", "Linux", "Windows", "Organisationnel", "Contrôles implémentés"),
        "total": "**Total**",
        "full_caption": "**Tous les contrôles**",
        "full_head": ("Identifiant", "Mesure", "Plateforme", "Type", "Intitulé", "Implémenté"),
        "platforms": {"linux": "Linux", "windows": "Windows", "organisational": "Organisationnel"},
        "kinds": {"enforce": "application", "measure": "mesure", "attest": "attestation"},
        "generated": "_Généré depuis `catalogue/controls.yml` par `python -m socle.catalogue readme` ; "
        "ne pas modifier à la main._",
        "recorded": "(enregistré)",
        "recorded_note": "✅ (enregistré) : implémenté et testé unitairement sur des sorties enregistrées aux "
        "formats documentés ; **non testé sur un hôte réel** (aucun hôte Windows ici).",
    },
}


class CatalogueError(Exception):
    """The catalogue (or a file scanned against it) is invalid; ``errors`` lists every problem."""

    def __init__(self, errors: Sequence[str] | str, source: str | Path | None = None) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        self.source = str(source) if source is not None else None
        head = f"{self.source}: " if self.source else ""
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"{head}{len(self.errors)} problem(s)\n{lines}")


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue. ``controls`` maps ID to entry, in file order."""

    measures: dict[int, dict[str, str]]
    controls: dict[str, dict[str, Any]]
    schema_version: int = 1
    path: Path | None = None

    def implemented(self) -> dict[str, dict[str, Any]]:
        """The implemented controls, ID to entry, in file order."""
        return {cid: entry for cid, entry in self.controls.items() if entry["implemented"]}

    def by_measure(self, measure: int) -> dict[str, dict[str, Any]]:
        """The controls of one measure (1-8), ID to entry, in file order."""
        if measure not in self.measures:
            raise ValueError(f"no measure {measure!r}: measures are numbered 1 to 8")
        return {cid: entry for cid, entry in self.controls.items() if entry["measure"] == measure}

    def title(self, control_id: str, lang: str = "fr") -> str:
        """A control's title in ``lang`` (fr, the report's default, or en). KeyError if unknown."""
        _check_lang(lang)
        try:
            entry = self.controls[control_id]
        except KeyError:
            raise KeyError(f"unknown control {control_id!r}") from None
        return entry["title"][lang]

    def measure_title(self, measure: int, lang: str = "fr") -> str:
        """A measure's title in ``lang``."""
        _check_lang(lang)
        if measure not in self.measures:
            raise ValueError(f"no measure {measure!r}: measures are numbered 1 to 8")
        return self.measures[measure][lang]


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}: use one of {', '.join(LANGS)}")


# --------------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------------


# libyaml's parser when PyYAML has it (0.7 s to under 0.1 s for the catalogue, read by every report).
_SAFE_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CatalogueLoader(_SAFE_BASE):  # type: ignore[misc, valid-type]
    """Safe YAML loader that refuses duplicate keys (PyYAML would silently keep the last one)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_CatalogueLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


class _AnsibleLoader(_SAFE_BASE):  # type: ignore[misc, valid-type]
    """Safe YAML loader for task files: Ansible's local tags (!vault, !unsafe) load as plain values."""


def _construct_local_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_AnsibleLoader.add_multi_constructor("!", _construct_local_tag)


def _load_yaml(text: str, loader_cls: type[yaml.SafeLoader]) -> Any:
    loader = loader_cls(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_schema() -> dict[str, Any]:
    """catalogue/schema.json, parsed."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _where(path: Sequence[Any], doc: Any) -> str:
    """A readable location for an error: ``controls[3] (M4-LNX-GNOME-LOCK).title.fr``."""
    if not path:
        return "catalogue"
    parts = list(path)
    out = str(parts[0])
    rest = parts[1:]
    if parts[0] == "controls" and rest and isinstance(rest[0], int):
        index = rest.pop(0)
        out += f"[{index}]"
        controls = doc.get("controls") if isinstance(doc, dict) else None
        if isinstance(controls, list) and index < len(controls) and isinstance(controls[index], dict):
            cid = controls[index].get("id")
            if isinstance(cid, str):
                out += f" ({cid})"
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _schema_errors(data: Any) -> list[str]:
    try:
        doc = json.loads(json.dumps(data))  # the JSON view the schema describes (int keys -> str)
    except (TypeError, ValueError) as exc:
        return [f"catalogue: not representable as JSON ({exc})"]
    import jsonschema  # only when a catalogue is validated (not for one already found valid)

    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    return [f"{_where(list(error.absolute_path), doc)}: {error.message}" for error in errors]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _semantic_errors(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return []
    errors: list[str] = []
    measures = data.get("measures")
    if isinstance(measures, dict):
        for key in measures:
            if not _is_int(key):
                errors.append(f"measures: key {key!r} must be a YAML integer 1-8, not {type(key).__name__}")
    controls = data.get("controls")
    if not isinstance(controls, list):
        return errors
    first_seen: dict[str, int] = {}
    for index, entry in enumerate(controls):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        cid = entry["id"]
        where = f"controls[{index}] ({cid})"
        if cid in first_seen:
            errors.append(f"{where}: duplicate control id {cid}, first at controls[{first_seen[cid]}]")
        else:
            first_seen[cid] = index
        errors.extend(_text_errors(entry, where))
        match = ID_RE.match(cid)
        if match is None:
            continue  # the schema reports the malformed id
        measure = entry.get("measure")
        if _is_int(measure) and measure != int(match["measure"]):
            errors.append(f"{where}: id says measure {match['measure']} but measure is {measure}")
        platform = entry.get("platform")
        expected = PLATFORM_CODES[match["code"]]
        if isinstance(platform, str) and platform != expected:
            code = match["code"]
            errors.append(f"{where}: id code {code} means platform '{expected}' but platform is '{platform}'")
        if platform == "organisational" and entry.get("kind") == "enforce":
            errors.append(f"{where}: an organisational control cannot be of kind 'enforce' (use attest)")
        if entry.get("verified") == "recorded":
            if platform != "windows":
                errors.append(f"{where}: verified: recorded is only for Windows controls (no Windows host here)")
            if entry.get("implemented") is not True:
                errors.append(f"{where}: verified: recorded on a control that is not implemented")
    return errors


def _text_errors(entry: dict[str, Any], where: str) -> list[str]:
    errors = []
    for name in TEXT_FIELDS:
        texts = entry.get(name)
        if not isinstance(texts, dict):
            continue
        fr, en = texts.get("fr"), texts.get("en")
        same = isinstance(fr, str) and isinstance(en, str) and fr.strip() != "" and fr.strip() == en.strip()
        if same and name in PROSE_FIELDS:
            errors.append(f"{where}.{name}: fr and en texts are identical (untranslated?)")
        if name == "title":
            for lang in LANGS:
                if isinstance(texts.get(lang), str) and ("\n" in texts[lang] or "\r" in texts[lang]):
                    errors.append(f"{where}.title.{lang}: a title must fit on one line")
    return errors


def validate(data: Any) -> list[str]:
    """Every problem in a parsed catalogue: schema errors first, then cross-field rules. [] if valid."""
    return _schema_errors(data) + _semantic_errors(data)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load, validate and return the catalogue (catalogue/controls.yml by default).

    Raises CatalogueError listing every problem when the file is unreadable, not YAML, or invalid.
    """
    source = Path(path) if path is not None else CATALOGUE_PATH
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read the catalogue: {exc}", source) from exc
    try:
        data = _load_yaml(text, _CatalogueLoader)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"invalid YAML: {exc}", source) from exc
    # A catalogue validates the same way every time: its verdict is kept under a digest of its text,
    # the schema's and this file's (the rules), so only a changed catalogue or validator runs it again.
    verdict = cache.digest(text, SCHEMA_PATH.read_bytes(), Path(__file__).read_bytes())
    if not cache.has_marker("catalogue-valid", verdict):
        errors = validate(data)
        if errors:
            raise CatalogueError(errors, source)
        cache.set_marker("catalogue-valid", verdict)
    return Catalogue(
        measures={int(k): dict(v) for k, v in sorted(data["measures"].items())},
        controls={entry["id"]: entry for entry in data["controls"]},
        schema_version=data["schema_version"],
        path=source,
    )


# --------------------------------------------------------------------------------------------------
# README tables
# --------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def feature_table(catalogue: Catalogue, lang: str = "en") -> str:
    """Markdown for the README: coverage per measure and platform, then every control.

    The first table has one row per measure with "implemented / planned" per platform and the IDs of
    the implemented controls; the second lists every control in catalogue order.
    """
    _check_lang(lang)
    labels = _LABELS[lang]
    lines = [labels["generated"], "", labels["summary_caption"], ""]
    head = labels["summary_head"]
    lines += [_row(head), _row(["---:"] + ["---"] * (len(head) - 1))]
    totals = {platform: [0, 0] for platform in PLATFORMS}
    for measure in sorted(catalogue.measures):
        controls = catalogue.by_measure(measure)
        cells = [str(measure), _cell(catalogue.measures[measure][lang])]
        for platform in PLATFORMS:
            planned = [e for e in controls.values() if e["platform"] == platform]
            done = [e for e in planned if e["implemented"]]
            totals[platform][0] += len(done)
            totals[platform][1] += len(planned)
            cells.append(f"{len(done)} / {len(planned)}" if planned else "—")
        implemented = [f"`{cid}`" for cid, entry in controls.items() if entry["implemented"]]
        cells.append(", ".join(implemented) if implemented else "—")
        lines.append(_row(cells))
    total_cells = ["", labels["total"]]
    total_cells += [f"{done} / {planned}" for done, planned in totals.values()]
    total_cells.append(f"{len(catalogue.implemented())} / {len(catalogue.controls)}")
    lines.append(_row(total_cells))

    lines += ["", labels["full_caption"], ""]
    head = labels["full_head"]
    lines += [_row(head), _row(["---", "---:", "---", "---", "---", ":---:"])]
    for cid, entry in catalogue.controls.items():
        lines.append(
            _row(
                [
                    f"`{cid}`",
                    str(entry["measure"]),
                    labels["platforms"][entry["platform"]],
                    labels["kinds"][entry["kind"]],
                    _cell(entry["title"][lang]),
                    _implemented_cell(entry, labels),
                ]
            )
        )
    if any(entry.get("verified") == "recorded" for entry in catalogue.implemented().values()):
        lines += ["", labels["recorded_note"]]
    return "\n".join(lines) + "\n"


def _implemented_cell(entry: dict[str, Any], labels: dict[str, Any]) -> str:
    if not entry["implemented"]:
        return "—"
    return "✅ " + labels["recorded"] if entry.get("verified") == "recorded" else "✅"


def _render_readme(text: str, block: str, source: Path) -> str:
    begins, ends = text.count(BEGIN_MARKER), text.count(END_MARKER)
    if begins != 1 or ends != 1:
        raise CatalogueError(
            f"needs exactly one {BEGIN_MARKER} and one {END_MARKER} line (found {begins} and {ends})", source
        )
    start = text.index(BEGIN_MARKER) + len(BEGIN_MARKER)
    end = text.index(END_MARKER)
    if end < start:
        raise CatalogueError(f"{END_MARKER} comes before {BEGIN_MARKER}", source)
    return text[:start] + "\n" + block + text[end:]


def update_readme(
    readme_path: str | Path = README_PATH,
    check: bool = False,
    catalogue: Catalogue | None = None,
    lang: str = "en",
) -> bool:
    """Refresh the generated block between the catalogue markers of a README.

    Returns True when the block was already up to date. With ``check=True`` nothing is written (False
    means the README is stale); otherwise a stale block is rewritten and False is returned.
    Raises CatalogueError when the markers are missing or out of order.
    """
    path = Path(readme_path)
    text = path.read_text(encoding="utf-8")
    wanted = _render_readme(text, feature_table(catalogue or load_catalogue(), lang), path)
    if wanted == text:
        return True
    if not check:
        path.write_text(wanted, encoding="utf-8")
    return False


# --------------------------------------------------------------------------------------------------
# Traceability: catalogue <-> tasks <-> tests
# --------------------------------------------------------------------------------------------------


def find_control_ids(text: str) -> list[str]:
    """Every token of ``text`` that looks like a control ID, in order, without duplicates."""
    return list(dict.fromkeys(ID_TOKEN_RE.findall(text)))


def _walk_tasks(node: Any) -> Iterator[dict[str, Any]]:
    """Every task (and block) of a task or handler file, blocks' own tasks included."""
    if not isinstance(node, list):
        return
    for item in node:
        if not isinstance(item, dict):
            continue
        yield item
        for key in TASK_BLOCK_KEYS:
            yield from _walk_tasks(item.get(key))


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",")]
    if isinstance(value, list):
        return [tag for tag in value if isinstance(tag, str)]
    return []


def _task_files(root: Path) -> list[Path]:
    files = {path for pattern in TASK_GLOBS for path in root.glob(pattern) if path.is_file()}
    return sorted(files)


def task_control_ids(root: str | Path = PROJECT_ROOT) -> dict[str, list[str]]:
    """Control ID -> ``"file:task name"`` for every task or handler of roles/* that carries the ID.

    Task names (convention: ``"<ID> | what it does"``, though any ID-like token counts) and tags are
    searched, blocks are walked into. Paths are relative to ``root``. Raises CatalogueError on a
    task file that is not valid YAML.
    """
    base = Path(root)
    found: dict[str, list[str]] = {}
    for path in _task_files(base):
        rel = path.relative_to(base).as_posix()
        try:
            data = _load_yaml(path.read_text(encoding="utf-8"), _AnsibleLoader)
        except yaml.YAMLError as exc:
            raise CatalogueError(f"invalid YAML: {exc}", rel) from exc
        for task in _walk_tasks(data):
            name = task.get("name") if isinstance(task.get("name"), str) else ""
            ids = find_control_ids(name)
            for tag in _tags(task.get("tags")):
                ids += find_control_ids(tag)
            label = f"{rel}:{name or '<unnamed task>'}"
            for cid in dict.fromkeys(ids):
                found.setdefault(cid, []).append(label)
    return dict(sorted(found.items()))


LIVE_TEST_GLOBS = ("tests/integration", "molecule/*/tests")
# Where a control marked ``verified: recorded`` (Windows only) may be proven instead: unit tests on
# outputs recorded in the documented formats.
RECORDED_TEST_GLOBS = ("tests/unit",)


def control_ids_in_tests(
    root: str | Path = PROJECT_ROOT, globs: Sequence[str] = LIVE_TEST_GLOBS
) -> dict[str, list[str]]:
    """Control ID -> test files that mention it.

    By default only tests that exercise real hosts count (``tests/integration`` and every molecule
    scenario's ``tests``): a unit test of the report that uses an ID as sample data does not test the
    control. :func:`trace` also looks in ``RECORDED_TEST_GLOBS`` for controls marked
    ``verified: recorded``.
    """
    base = Path(root)
    found: dict[str, list[str]] = {}
    for pattern in globs:
        for tests_dir in sorted(base.glob(pattern)):
            for path in sorted(tests_dir.rglob("*")):
                if not path.is_file() or path.suffix not in TEST_SUFFIXES or path.name in TEST_EXCLUDED_FILES:
                    continue
                if any(part in TEST_EXCLUDED_DIRS for part in path.relative_to(tests_dir).parts[:-1]):
                    continue
                rel = path.relative_to(base).as_posix()
                for cid in find_control_ids(path.read_text(encoding="utf-8", errors="replace")):
                    found.setdefault(cid, []).append(rel)
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class TraceReport:
    """What links the catalogue to the roles and the tests, and what is missing."""

    tasks: dict[str, list[str]] = field(default_factory=dict)
    tests: dict[str, list[str]] = field(default_factory=dict)
    untraced: dict[str, str] = field(default_factory=dict)  # implemented ID -> why no task counts
    unknown: dict[str, list[str]] = field(default_factory=dict)  # ID in tasks but not catalogue -> where
    untested: list[str] = field(default_factory=list)  # implemented IDs no test mentions
    recorded: dict[str, list[str]] = field(default_factory=dict)  # verified: recorded ID -> unit tests

    @property
    def ok(self) -> bool:
        return not (self.untraced or self.unknown or self.untested)

    def problems(self) -> list[str]:
        out = [f"{cid}: {why}" for cid, why in self.untraced.items()]
        out += [f"{cid}: not in the catalogue, used by {', '.join(at)}" for cid, at in self.unknown.items()]
        out += [f"{cid}: implemented, but no live test (tests/integration, molecule/*/tests) mentions it"
                for cid in self.untested if cid not in self.recorded]
        out += [f"{cid}: verified: recorded, but no unit test (tests/unit) mentions it"
                for cid in self.untested if cid in self.recorded]
        return out


def trace(root: str | Path = PROJECT_ROOT, catalogue: Catalogue | None = None) -> TraceReport:
    """Cross-check a project tree against a catalogue.

    * untraced: an implemented control with no task carrying its ID in roles/<its role>/;
    * unknown: an ID carried by a task, handler or tag that the catalogue does not define;
    * untested: an implemented control that no live test mentions, or, for a control marked
      ``verified: recorded``, that no unit test mentions either.
    """
    cat = catalogue or load_catalogue()
    tasks = task_control_ids(root)
    tests = control_ids_in_tests(root)
    unit_tests = control_ids_in_tests(root, RECORDED_TEST_GLOBS)
    recorded = {cid: unit_tests.get(cid, []) for cid, entry in cat.implemented().items()
                if entry.get("verified") == "recorded"}
    untraced: dict[str, str] = {}
    for cid, entry in cat.implemented().items():
        places = tasks.get(cid, [])
        prefix = f"roles/{entry['role']}/"
        if not places:
            untraced[cid] = f"implemented in role {entry['role']}, but no task or handler carries the ID"
        elif not any(place.startswith(prefix) for place in places):
            untraced[cid] = (
                f"implemented in role {entry['role']}, but only tasks outside {prefix} carry the ID: "
                + ", ".join(places)
            )
    unknown = {cid: where for cid, where in tasks.items() if cid not in cat.controls}
    untested = [cid for cid in cat.implemented() if cid not in tests and not recorded.get(cid)]
    return TraceReport(tasks=tasks, tests=tests, untraced=untraced, unknown=unknown, untested=untested,
                       recorded=recorded)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m socle.catalogue", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="validate the catalogue")
    check.add_argument("catalogue", nargs="?", type=Path, default=CATALOGUE_PATH)
    readme = sub.add_parser("readme", help="refresh the generated tables of the README")
    readme.add_argument("--check", action="store_true", help="only report whether the README is up to date")
    readme.add_argument("readme", nargs="?", type=Path, default=README_PATH)
    tracing = sub.add_parser("trace", help="check catalogue <-> tasks <-> tests traceability")
    tracing.add_argument("root", nargs="?", type=Path, default=PROJECT_ROOT)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: 0 all good, 1 stale README or traceability gaps, 2 invalid catalogue or README."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "validate":
            catalogue = load_catalogue(args.catalogue)
            print(f"{args.catalogue}: {len(catalogue.controls)} controls, valid")
            return 0
        if args.command == "readme":
            current = update_readme(args.readme, check=args.check)
            if current:
                print(f"{args.readme}: catalogue tables up to date")
                return 0
            if args.check:
                print(f"{args.readme}: catalogue tables are stale; run python -m socle.catalogue readme")
                return 1
            print(f"{args.readme}: catalogue tables updated")
            return 0
        report = trace(args.root)
        for problem in report.problems():
            print(problem)
        if report.ok:
            print("traceability: every implemented control has tasks and a test; no unknown IDs")
        return 0 if report.ok else 1
    except (CatalogueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
