"""The control catalogue: the real file validates, bad entries are refused with a useful message,
the README tables are generated deterministically and stale ones are detected."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from socle import catalogue as cat
from socle.catalogue import (
    BEGIN_MARKER,
    CATALOGUE_PATH,
    END_MARKER,
    CatalogueError,
    feature_table,
    load_catalogue,
    update_readme,
    validate,
)

SESSION_LOCK_IDS = ("M4-LNX-GNOME-LOCK", "M4-LNX-SHELL-TMOUT", "M4-LNX-SSH-IDLE")

# A CIS reference names the benchmark, its version, the recommendation number and its title:
# "CIS Debian Linux 12 Benchmark v1.1.0, 5.4.3.2: Ensure default user shell timeout is configured".
CIS_REFERENCE = re.compile(
    r"^(?P<benchmark>CIS \S.* Benchmark) v(?P<version>\d+(?:\.\d+)+), "
    r"(?P<number>\d+(?:\.\d+)+): (?P<title>[A-Z][a-z]+ \S.*\S)$"
)
# The benchmark a platform's controls may cite; organisational controls have no CIS counterpart.
CIS_BENCHMARKS = {
    "linux": {"CIS Debian Linux 12 Benchmark"},
    "windows": {"CIS Microsoft Windows 11 Enterprise Benchmark", "CIS Microsoft Windows Server 2022 Benchmark"},
    "organisational": set(),
}
# Recommendations each control must cite (numbers in CIS Debian Linux 12 Benchmark v1.1.0 and CIS
# Microsoft Windows 11 Enterprise Benchmark v5.0.1). Sources: ansible-lockdown/DEBIAN12-CIS task
# names and ComplianceAsCode controls/cis_debian12.yml; intuitem/ciso-assistant-community
# cis-benchmark-windows-11.yaml. Removing one of these references fails; adding more does not.
LINUX_CIS_ITEMS = {
    "M1-LNX-PENDING-SECURITY": {"1.2.2.1"},
    "M2-LNX-NFT-BASELINE": {"4.3.8"},
    "M4-LNX-GNOME-LOCK": {"1.7.4", "1.7.5"},
    "M4-LNX-SHELL-TMOUT": {"5.4.3.2"},
    "M4-LNX-SSH-IDLE": {"5.1.7"},
    "M5-LNX-PWQUALITY": {"5.3.2.3", "5.3.3.2.2", "5.3.3.2.3", "5.3.3.2.4", "5.3.3.2.6", "5.3.3.2.8"},
    "M5-LNX-FAILLOCK": {"5.3.2.2", "5.3.3.1.1", "5.3.3.1.2"},
    "M5-LNX-PWHISTORY": {"5.3.2.4", "5.3.3.3.1", "5.3.3.3.2", "5.3.3.3.3"},
    "M5-LNX-PASS-AGEING": {"5.4.1.1", "5.4.1.2", "5.4.1.3"},
    "M5-LNX-EMPTY-PASSWORDS": {"7.2.2"},
    "M5-LNX-EXTRA-UID0": {"5.4.2.1"},
    "M5-LNX-SYSTEM-SHELLS": {"5.4.2.7"},
    "M5-LNX-SUDO-NOPASSWD": {"5.2.4"},
    "M5-LNX-SSH-ROOT-LOGIN": {"5.1.13", "5.1.16", "5.1.20"},
    "M7-LNX-BANNER": {"1.6.1", "1.6.2", "1.6.3", "5.1.5"},
    "M7-LNX-GDM-BANNER": {"1.7.2"},
}
WINDOWS_CIS_ITEMS = {
    "M1-WIN-WU-AUTO": {"18.10.94.1.1", "18.10.94.2.1", "18.10.94.2.2"},
    "M1-WIN-WU-DEFERRALS": {"18.10.94.4.1", "18.10.94.4.2", "18.10.94.4.3"},
    "M1-WIN-WU-NO-PAUSE": {"18.10.94.2.4"},
    "M2-WIN-DEFENDER-RTP": {"18.10.42.10.1", "18.10.42.10.2", "18.10.42.10.3", "18.10.42.13.3"},
    "M2-WIN-DEFENDER-BEHAVIOUR": {"18.10.42.10.4", "18.10.42.10.5"},
    "M2-WIN-DEFENDER-PUA": {"18.10.42.16"},
    "M2-WIN-FW-PROFILES": {"9.1.1", "9.2.1", "9.3.1"},
    "M2-WIN-FW-INBOUND": {"9.1.2", "9.2.2", "9.3.2"},
    "M2-WIN-FW-LOGGING": {f"9.1.{n}" for n in range(4, 8)}
    | {f"9.2.{n}" for n in range(4, 8)}
    | {f"9.3.{n}" for n in range(6, 10)},
    "M4-WIN-INACTIVITY-LIMIT": {"2.3.7.3"},
    "M4-WIN-WAKE-PASSWORD": {"18.9.35.6.5", "18.9.35.6.6"},
    "M5-WIN-PASSWORD-POLICY": {f"1.1.{n}" for n in range(1, 8)},
    "M5-WIN-LOCKOUT-POLICY": {f"1.2.{n}" for n in range(1, 5)},
    "M5-WIN-LOGON-AUDIT": {"17.5.1", "17.5.3", "17.5.4"},
    "M5-WIN-GUEST-DISABLED": {"2.3.1.1"},
    "M5-WIN-BUILTIN-ADMIN": {"2.3.1.3"},
    "M5-WIN-BLANK-PASSWORD-NETWORK": {"2.3.1.2"},
    "M5-WIN-LOCAL-ADMIN-ROTATION": {"18.9.26.1", "18.9.26.4", "18.9.26.5", "18.9.26.6", "18.9.26.8"},
    "M7-WIN-LEGAL-NOTICE": {"2.3.7.4", "2.3.7.5"},
}

# ASCII spellings of French words that must carry an accent: a French text containing one was
# typed without accents.
UNACCENTED_FRENCH = re.compile(
    r"\b(securite|systeme|mises? a jour|a jour|donnees|etre|deja|tres|regle|acces|controle|"
    r"parametre|periode|derive|echue|verrouillee|etablissement|redemarrage|cle|delai)\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def real() -> cat.Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def real_data() -> Any:
    return yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))


def minimal() -> dict[str, Any]:
    """The smallest valid catalogue: eight measures, one implemented control."""
    return {
        "schema_version": 1,
        "measures": {n: {"fr": f"Mesure {n}", "en": f"Measure {n}"} for n in range(1, 9)},
        "controls": [
            {
                "id": "M4-LNX-DEMO-LOCK",
                "measure": 4,
                "platform": "linux",
                "kind": "enforce",
                "title": {"fr": "Verrouillage de démonstration", "en": "Demo lock"},
                "rationale": {"fr": "Parce que.", "en": "Because."},
                "check": {"fr": "On regarde.", "en": "We look."},
                "references": {"anssi": ["2"], "pgssi_s": ["4.5.2.3"]},
                "implemented": True,
                "role": "session_lock",
            }
        ],
    }


# --------------------------------------------------------------------------------------------------
# The real catalogue
# --------------------------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(cat.load_schema())


def test_real_catalogue_validates(real_data):
    assert validate(real_data) == []


def test_real_catalogue_loads(real):
    assert set(real.measures) == set(range(1, 9))
    assert len(real.controls) >= 60
    assert all(ctrl["id"] == cid for cid, ctrl in real.controls.items())


def test_minimal_catalogue_is_valid():
    assert validate(minimal()) == []


@pytest.mark.parametrize("measure", range(1, 9))
def test_every_measure_has_controls(real, measure):
    assert real.by_measure(measure), f"measure {measure} has no control"


@pytest.mark.parametrize("measure", range(1, 9))
def test_technical_measures_cover_linux_and_windows(real, measure):
    # Measures 6-8 are organisational first, but each also has host-side controls (local copy of the
    # procedures, login banner, charter on the hosts): every measure keeps an implemented control
    # on both platforms.
    controls = real.by_measure(measure).values()
    assert {"linux", "windows"} <= {ctrl["platform"] for ctrl in controls}
    assert {"linux", "windows"} <= {ctrl["platform"] for ctrl in controls if ctrl["implemented"]}


@pytest.mark.parametrize("measure", (6, 7, 8))
def test_organisational_measures_have_org_controls(real, measure):
    assert any(ctrl["platform"] == "organisational" for ctrl in real.by_measure(measure).values())


def test_session_lock_controls_are_implemented_by_their_role(real):
    for cid in SESSION_LOCK_IDS:
        assert real.controls[cid]["implemented"] is True
        assert real.controls[cid]["role"] == "session_lock"
    assert set(real.implemented()) >= set(SESSION_LOCK_IDS)


def test_implemented_controls_name_their_role(real):
    assert all(ctrl.get("role") for ctrl in real.implemented().values())


def test_french_texts_carry_their_accents(real):
    bad = []
    for cid, ctrl in real.controls.items():
        for name in ("title", "rationale", "check"):
            match = UNACCENTED_FRENCH.search(ctrl[name]["fr"])
            if match:
                bad.append(f"{cid}.{name}.fr: {match.group(0)!r}")
    for number, titles in real.measures.items():
        if UNACCENTED_FRENCH.search(titles["fr"]):
            bad.append(f"measure {number}")
    assert bad == []


def _cis_items(real: cat.Catalogue) -> list[tuple[str, str, re.Match[str] | None]]:
    return [
        (cid, item, CIS_REFERENCE.match(item))
        for cid, ctrl in real.controls.items()
        for item in ctrl["references"].get("cis", [])
    ]


@pytest.mark.parametrize(
    ("item", "well_formed"),
    [
        ("CIS Debian Linux 12 Benchmark v1.1.0, 5.4.3.2: Ensure default user shell timeout is configured", True),
        (
            "CIS Microsoft Windows 11 Enterprise Benchmark v5.0.1, 2.3.1.3: "
            "Configure 'Accounts: Rename administrator account'",
            True,
        ),
        ("CIS Ubuntu Linux 24.04 LTS 5.4.3.2", False),  # no version, no title
        ("CIS Microsoft Windows 11 Enterprise 9.x.1", False),  # wildcard number, no version, no title
        ("CIS Debian Linux 12 Benchmark v1.1.0, 5.4.3.2", False),  # no title
        ("CIS Debian Linux 12 Benchmark, 5.4.3.2: Ensure default user shell timeout is configured", False),
        ("CIS Debian Linux 12 Benchmark v1.1.0, 5.1.x: Ensure sshd access is configured", False),
        ("CIS Debian Linux 12 Benchmark v1.1.0 5.4.3.2 Ensure default user shell timeout is configured", False),
        ("Debian Linux 12 Benchmark v1.1.0, 5.4.3.2: Ensure default user shell timeout is configured", False),
    ],
)
def test_cis_reference_format(item, well_formed):
    assert bool(CIS_REFERENCE.match(item)) is well_formed
    schema_pattern = cat.load_schema()["$defs"]["references"]["properties"]["cis"]["items"]["pattern"]
    assert bool(re.search(schema_pattern, item)) is well_formed, "schema and test disagree"


def test_cis_references_name_benchmark_version_number_and_title(real):
    malformed = [f"{cid}: {item!r}" for cid, item, match in _cis_items(real) if match is None]
    assert malformed == []


def test_cis_references_cite_their_platform_benchmark(real):
    wrong = []
    for cid, _item, match in _cis_items(real):
        allowed = CIS_BENCHMARKS[real.controls[cid]["platform"]]
        if match is not None and match["benchmark"] not in allowed:
            wrong.append(f"{cid}: {match['benchmark']}")
    assert wrong == []


def test_cis_references_are_consistent(real):
    # One version per benchmark (numbering changes between versions), and one title per number.
    versions: dict[str, set[str]] = {}
    titles: dict[tuple[str, str], set[str]] = {}
    for _cid, _item, match in _cis_items(real):
        if match is None:
            continue
        versions.setdefault(match["benchmark"], set()).add(match["version"])
        titles.setdefault((match["benchmark"], match["number"]), set()).add(match["title"])
    assert {name: found for name, found in versions.items() if len(found) > 1} == {}
    assert {key: found for key, found in titles.items() if len(found) > 1} == {}


@pytest.mark.parametrize("expected", [LINUX_CIS_ITEMS, WINDOWS_CIS_ITEMS], ids=["linux", "windows"])
def test_controls_keep_their_cis_references(real, expected):
    missing = {}
    for cid, numbers in expected.items():
        cited = {
            match["number"]
            for item in real.controls[cid]["references"].get("cis", [])
            if (match := CIS_REFERENCE.match(item))
        }
        if numbers - cited:
            missing[cid] = sorted(numbers - cited)
    assert missing == {}


def test_every_linux_control_with_a_cis_reference_is_listed(real):
    # The list above is the record of what was checked against the benchmark: a new Linux CIS
    # reference must be added to it (with its source) rather than slip in unreviewed.
    cited = {
        cid for cid, ctrl in real.controls.items() if ctrl["platform"] == "linux" and ctrl["references"].get("cis")
    }
    assert cited == set(LINUX_CIS_ITEMS)


def test_helpers(real):
    assert "GNOME" in real.title("M4-LNX-GNOME-LOCK", "en")
    assert real.title("M4-LNX-GNOME-LOCK", "fr").startswith("Verrouillage")
    assert real.title("M4-LNX-GNOME-LOCK") == real.title("M4-LNX-GNOME-LOCK", "fr")
    assert real.measure_title(4, "en") == "Automatic session lock"
    assert list(real.by_measure(4)) == [cid for cid, c in real.controls.items() if c["measure"] == 4]
    with pytest.raises(KeyError, match="M9-LNX-NOPE"):
        real.title("M9-LNX-NOPE", "fr")
    with pytest.raises(ValueError, match="de"):
        real.title("M4-LNX-GNOME-LOCK", "de")
    with pytest.raises(ValueError, match="1 to 8"):
        real.by_measure(9)


def test_catalogue_is_frozen(real):
    with pytest.raises(AttributeError):
        real.controls = {}  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# Invalid catalogues: each mutation must be refused with a message naming the problem
# --------------------------------------------------------------------------------------------------


def _ctrl(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["controls"][0]


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        _ctrl(doc).update(changes)

    return mutate


def _delete(*path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node = _ctrl(doc)
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _duplicate(doc: dict[str, Any]) -> None:
    doc["controls"].append(copy.deepcopy(_ctrl(doc)))


def _drop_measure(doc: dict[str, Any]) -> None:
    del doc["measures"][8]


def _string_measure_key(doc: dict[str, Any]) -> None:
    doc["measures"]["3"] = doc["measures"].pop(3)


def _top_level_extra(doc: dict[str, Any]) -> None:
    doc["owner"] = "someone"


def _second_control(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        other = copy.deepcopy(_ctrl(doc))
        other.update(changes)
        doc["controls"].append(other)

    return mutate


INVALID = [
    ("lower-case id", _set(id="M4-LNX-demo"), r"M4-LNX-demo.*does not match"),
    ("unknown platform code", _set(id="M4-LIN-DEMO"), r"M4-LIN-DEMO.*does not match"),
    ("measure 9 in id", _set(id="M9-LNX-DEMO"), r"M9-LNX-DEMO.*does not match"),
    ("trailing hyphen", _set(id="M4-LNX-DEMO-"), r"does not match"),
    ("platform/id mismatch", _set(platform="windows"), r"id code LNX means platform 'linux'.*'windows'"),
    (
        "ORG id on linux",
        _set(id="M4-ORG-DEMO", kind="attest"),
        r"id code ORG means platform 'organisational'",
    ),
    ("measure/id mismatch", _set(measure=5), r"id says measure 4 but measure is 5"),
    ("duplicate id", _duplicate, r"duplicate control id M4-LNX-DEMO-LOCK"),
    ("missing fr title", _delete("title", "fr"), r"title: 'fr' is a required property"),
    (
        "blank en rationale",
        lambda d: _ctrl(d)["rationale"].update(en="   "),
        r"rationale\.en: .* does not match",
    ),
    ("implemented without role", _delete("role"), r"'role' is a required property"),
    ("unknown key", _set(owner="alice"), r"'owner' was unexpected"),
    ("unknown reference key", lambda d: _ctrl(d)["references"].update(iso=["A.8"]), r"'iso' was unexpected"),
    ("unknown platform", _set(platform="macos"), r"platform: 'macos' is not one of"),
    ("unknown kind", _set(kind="generate"), r"kind: 'generate' is not one of"),
    ("measure out of range", _set(id="M4-LNX-DEMO-LOCK", measure=0), r"measure: 0 is less than the minimum"),
    ("measure as string", _set(measure="4"), r"measure: '4' is not of type 'integer'"),
    ("implemented not boolean", _set(implemented="yes"), r"implemented: 'yes' is not of type 'boolean'"),
    ("bad role name", _set(role="Session-Lock"), r"role: 'Session-Lock' does not match"),
    (
        "no anssi reference",
        lambda d: _ctrl(d)["references"].update(anssi=[]),
        r"anssi: \[\] should be non-empty",
    ),
    ("bad anssi number", lambda d: _ctrl(d)["references"].update(anssi=["43"]), r"'43' does not match"),
    ("bad pgssi item", lambda d: _ctrl(d)["references"].update(pgssi_s=["7.4.x"]), r"'7.4.x' does not match"),
    (
        "CIS without benchmark",
        lambda d: _ctrl(d)["references"].update(cis=["CIS 1.1.6"]),
        r"'CIS 1.1.6' does not",
    ),
    (
        "CIS without version or title",
        lambda d: _ctrl(d)["references"].update(cis=["CIS Ubuntu Linux 24.04 LTS 5.4.3.2"]),
        r"'CIS Ubuntu Linux 24.04 LTS 5.4.3.2' does not",
    ),
    (
        "CIS with a wildcard number",
        lambda d: _ctrl(d)["references"].update(
            cis=["CIS Microsoft Windows 11 Enterprise Benchmark v5.0.1, 9.x.1: Ensure the firewall is on"]
        ),
        r"9\.x\.1.* does not match",
    ),
    (
        "organisational enforce",
        _set(id="M4-ORG-DEMO", platform="organisational"),
        r"cannot be of kind 'enforce'",
    ),
    (
        "untranslated title",
        lambda d: _ctrl(d)["title"].update(en="Verrouillage de démonstration"),
        r"identical",
    ),
    ("two-line title", lambda d: _ctrl(d)["title"].update(en="Demo\nlock"), r"title\.en: a title must fit"),
    ("missing measure", _drop_measure, r"measures: '8' is a required property"),
    ("string measure key", _string_measure_key, r"key '3' must be a YAML integer"),
    ("unknown top-level key", _top_level_extra, r"'owner' was unexpected"),
    ("wrong schema version", lambda d: d.update(schema_version=2), r"schema_version: 1 was expected"),
    ("no controls", lambda d: d.update(controls=[]), r"controls: \[\] should be non-empty"),
    (
        "second control names itself",
        _second_control(id="M4-LNX-OTHER", measure=3),
        r"\(M4-LNX-OTHER\): id says",
    ),
    ("unknown verification", _set(verified="manual"), r"verified: 'manual' is not one of"),
    ("recorded outputs for a Linux control", _set(verified="recorded"), r"verified: recorded is only for Windows"),
    (
        "recorded outputs for a planned control",
        _set(id="M4-WIN-DEMO", platform="windows", implemented=False, verified="recorded"),
        r"verified: recorded on a control that is not implemented",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_catalogue_is_refused(mutate, expected):
    doc = minimal()
    mutate(doc)
    errors = validate(doc)
    assert errors, "the mutation was accepted"
    assert any(re.search(expected, error) for error in errors), errors


def test_validate_survives_garbage():
    assert validate(None)
    assert validate({"controls": [None, 3, {"id": 7}]})
    assert validate({"measures": {1: {"fr": "x", "en": "y"}}, "controls": "nope"})


def test_validate_reports_every_problem_at_once():
    doc = minimal()
    _set(measure=5, owner="alice")(doc)
    _delete("title", "fr")(doc)
    errors = validate(doc)
    assert len(errors) >= 3
    assert all("M4-LNX-DEMO-LOCK" in error for error in errors)


def test_load_catalogue_raises_with_all_messages(tmp_path):
    doc = minimal()
    _set(platform="windows", measure=5)(doc)
    path = tmp_path / "controls.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert len(info.value.errors) == 2
    assert "platform" in str(info.value) and "measure" in str(info.value)
    assert str(path) in str(info.value)


def test_load_catalogue_refuses_duplicate_yaml_keys(tmp_path):
    text = yaml.safe_dump(minimal(), allow_unicode=True).replace(
        "  implemented: true\n", "  implemented: true\n  implemented: false\n"
    )
    assert "implemented: false" in text
    path = tmp_path / "controls.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match="duplicate key 'implemented'"):
        load_catalogue(path)


def test_load_catalogue_reports_unreadable_and_non_yaml(tmp_path):
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("controls: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="invalid YAML"):
        load_catalogue(broken)


# --------------------------------------------------------------------------------------------------
# README tables
# --------------------------------------------------------------------------------------------------


def test_feature_table_is_stable_and_complete(real):
    table = feature_table(real)
    assert table == feature_table(load_catalogue())
    for cid in real.controls:
        assert f"`{cid}`" in table
    for number, titles in real.measures.items():
        assert f"| {number} | {titles['en']} |" in table


def test_feature_table_counts(real):
    lines = feature_table(real).splitlines()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    m4 = real.by_measure(4)
    linux = [c for c in m4.values() if c["platform"] == "linux"]
    done = [c for c in linux if c["implemented"]]
    assert f"| {len(done)} / {len(linux)} |" in rows["4"]
    for cid in SESSION_LOCK_IDS:
        assert f"`{cid}`" in rows["4"]
    total = f"{len(real.implemented())} / {len(real.controls)}"
    assert any(line.startswith("|  | **Total** |") and line.endswith(f"| {total} |") for line in lines)


def test_feature_table_rows_follow_implementation_status(real):
    table = feature_table(real)
    gnome = next(line for line in table.splitlines() if line.startswith("| `M4-LNX-GNOME-LOCK` |"))
    assert gnome.endswith("| ✅ |")
    planned = next(cid for cid, c in real.controls.items() if not c["implemented"])
    line = next(line for line in table.splitlines() if line.startswith(f"| `{planned}` |"))
    assert line.endswith("| — |")


def test_feature_table_marks_controls_verified_on_recorded_outputs():
    doc = minimal()
    doc["controls"].append({**copy.deepcopy(doc["controls"][0]), "id": "M4-WIN-DEMO-LOCK", "platform": "windows",
                            "verified": "recorded"})
    assert validate(doc) == []
    catalogue = cat.Catalogue(measures=doc["measures"], controls={c["id"]: c for c in doc["controls"]})
    lines = feature_table(catalogue).splitlines()
    assert next(line for line in lines if line.startswith("| `M4-WIN-DEMO-LOCK` |")).endswith("| ✅ (recorded) |")
    assert next(line for line in lines if line.startswith("| `M4-LNX-DEMO-LOCK` |")).endswith("| ✅ |")
    assert lines[-1].startswith("✅ (recorded): implemented and unit-tested on outputs recorded")
    assert "**non testé sur un hôte réel**" in feature_table(catalogue, lang="fr")
    assert "recorded" not in feature_table(cat.Catalogue(measures=doc["measures"],
                                                         controls={"M4-LNX-DEMO-LOCK": doc["controls"][0]}))


def test_feature_table_in_french(real):
    table = feature_table(real, lang="fr")
    assert "| Identifiant | Mesure | Plateforme | Type | Intitulé | Implémenté |" in table
    assert real.title("M4-LNX-GNOME-LOCK", "fr") in table
    with pytest.raises(ValueError):
        feature_table(real, lang="de")


def test_feature_table_escapes_pipes():
    doc = minimal()
    _ctrl(doc)["title"]["en"] = "Lock | unlock"
    catalogue = cat.Catalogue(
        measures={int(k): v for k, v in doc["measures"].items()},
        controls={c["id"]: c for c in doc["controls"]},
    )
    assert "Lock \\| unlock" in feature_table(catalogue)


README = f"""# Socle

Intro text that must survive.

{BEGIN_MARKER}
stale tables
{END_MARKER}

## After
Trailing text.
"""


def test_update_readme_detects_and_fixes_a_stale_block(tmp_path, real):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")

    assert update_readme(readme, check=True, catalogue=real) is False
    assert readme.read_text(encoding="utf-8") == README, "check mode must not write"

    assert update_readme(readme, catalogue=real) is False  # it was stale, now rewritten
    text = readme.read_text(encoding="utf-8")
    assert "stale tables" not in text
    assert text.startswith("# Socle\n\nIntro text that must survive.\n\n" + BEGIN_MARKER + "\n")
    assert text.endswith(END_MARKER + "\n\n## After\nTrailing text.\n")
    assert feature_table(real) in text

    assert update_readme(readme, check=True, catalogue=real) is True
    assert update_readme(readme, catalogue=real) is True
    assert readme.read_text(encoding="utf-8") == text, "a second run must change nothing"


def test_update_readme_sees_a_catalogue_change(tmp_path, real):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    update_readme(readme, catalogue=real)
    changed = cat.Catalogue(
        measures=real.measures,
        controls={
            **real.controls,
            "M4-LNX-GNOME-LOCK": {**real.controls["M4-LNX-GNOME-LOCK"], "implemented": False},
        },
    )
    assert update_readme(readme, check=True, catalogue=changed) is False


@pytest.mark.parametrize(
    "text",
    [
        "# no markers at all\n",
        f"{BEGIN_MARKER}\nonly the start\n",
        f"{END_MARKER}\n{BEGIN_MARKER}\n",
        f"{BEGIN_MARKER}\n{END_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n",
    ],
    ids=["none", "begin only", "reversed", "twice"],
)
def test_update_readme_needs_one_pair_of_markers(tmp_path, real, text):
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError, match="catalogue:"):
        update_readme(readme, check=True, catalogue=real)
    assert readme.read_text(encoding="utf-8") == text


def test_cli_readme_check_and_update(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    assert cat.main(["readme", "--check", str(readme)]) == 1
    assert "stale" in capsys.readouterr().out
    assert cat.main(["readme", str(readme)]) == 0
    assert cat.main(["readme", "--check", str(readme)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_cli_validate(tmp_path, capsys):
    assert cat.main(["validate"]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "controls.yml"
    doc = minimal()
    _set(measure=5)(doc)
    bad.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert cat.main(["validate", str(bad)]) == 2
    assert "id says measure 4 but measure is 5" in capsys.readouterr().err


def test_catalogue_path_is_under_the_project_root():
    assert CATALOGUE_PATH == Path(cat.__file__).resolve().parent.parent / "catalogue" / "controls.yml"
