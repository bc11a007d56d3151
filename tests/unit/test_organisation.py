"""Organisational measures 6, 7, 8: facility data, FINESS key, attestations, documents, report statuses."""

from __future__ import annotations

import base64
import copy
import ctypes
import ctypes.util
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, load_project_module

from socle.catalogue import load_catalogue
from socle.record import EXIT_DRIFT, parse_record
from socle.report.html import render_html

org = load_project_module("action_plugins", "socle_organisation")
policy = load_project_module("action_plugins", "socle_policy")
callback = load_project_module("callback_plugins", "socle_record")
dconf_mod = load_project_module("library", "socle_dconf")

ROLE = ROOT / "roles" / "organisation"
TEMPLATES = str(ROLE / "templates")
TODAY = dt.date(2026, 11, 28)

FACILITY = {
    "name": "EHPAD « L'Oustal » d'Évreux <script>alert(1)</script>",
    "finess": "010003820",
    "address": "12 rue de l'Église, 27000 Évreux",
    "director": "Hélène D'Arcy",
    "security_referent": {"name": "Noël L'Hôte", "phone": "02 32 00 00 01"},
    "dpo": {"name": "Zoé Müller", "email": "dpo@oustal.example"},
    "msp": {"name": "Infogérance & Cie", "phone": "02 32 00 00 02"},
    "critical_applications": [
        {
            "name": "Dossier de soins « NetSoins »",
            "fallback": "Classeur papier des transmissions",
            "decides": "Infirmière coordinatrice",
        },
    ],
    "backup_locations": ["Baie du bureau infirmier", "Coffre de la mairie (copie hebdomadaire)"],
}


def values(**overrides) -> dict:
    data = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
    data.update({"organisation_enabled": True, "organisation_facility": copy.deepcopy(FACILITY)})
    data.update(overrides)
    return data


# -- FINESS check key (Luhn over the first eight characters) ---------------------------------------
@pytest.mark.parametrize("number", ["010003820", "010003812", "750712184"])  # published FINESS numbers
def test_published_finess_numbers_are_valid(number):
    assert org.finess_is_valid(number)


@pytest.mark.parametrize("number", ["010003820", "010003812", "750712184"])
def test_any_other_check_key_is_refused(number):
    wrong = [number[:-1] + str(d) for d in range(10) if str(d) != number[-1]]
    assert [n for n in wrong if org.finess_is_valid(n)] == []


@pytest.mark.parametrize("number", ["01000382", "0100038200", "01000382O", "", "abcdefghi", "1A0003820", 10003820])
def test_malformed_finess_numbers(number):
    assert not org.finess_is_valid(number)


def test_corsican_finess_letters_read_as_zero():
    assert org.finess_is_valid("2A0000007") == org.finess_is_valid("200000007")
    assert sum(org.finess_is_valid(f"2B000000{d}") for d in range(10)) == 1


# -- facility data: every problem names its field --------------------------------------------------
def test_disabled_needs_no_data():
    assert org.validate({"organisation_enabled": False, "organisation_facility": {}}) == []


def test_complete_facility_is_valid():
    assert org.validate(values()) == []


def test_missing_facility_is_named():
    errors = org.validate(values(organisation_facility={}))
    assert len(errors) == 1 and errors[0].startswith("organisation_facility: missing")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("name",), "", "organisation_facility.name: missing"),
        (("finess",), "010003821", "organisation_facility.finess: '010003821' is not a FINESS number"),
        (("finess",), "12345", "organisation_facility.finess: '12345'"),
        (("security_referent", "phone"), None, "organisation_facility.security_referent.phone: missing"),
        (("dpo", "email"), "not-an-address", "organisation_facility.dpo.email: 'not-an-address'"),
        (("msp",), "Infogérance", "organisation_facility.msp: missing or not a mapping (name, phone)"),
        (("critical_applications",), [], "organisation_facility.critical_applications: list at least one"),
        (
            ("critical_applications",),
            [{"name": "DPI", "fallback": "papier"}],
            "organisation_facility.critical_applications[0].decides: missing",
        ),
        (("backup_locations",), ["  "], "organisation_facility.backup_locations:"),
    ],
)
def test_each_malformed_field_is_named(path, value, field):
    data = values()
    target = data["organisation_facility"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    errors = org.validate(data)
    assert len(errors) == 1, errors
    assert errors[0].startswith(field), errors


@pytest.mark.parametrize(
    ("name", "records", "field"),
    [
        (
            "organisation_charter_acknowledgements",
            [{"name": "A", "date": "28/11/2026", "version": "1"}],
            "organisation_charter_acknowledgements[0].date: '28/11/2026' is not a date",
        ),
        (
            "organisation_charter_acknowledgements",
            [{"name": "A", "date": "2026-11-01"}],
            "organisation_charter_acknowledgements[0].version: missing",
        ),
        (
            "organisation_awareness_sessions",
            [{"date": "2026-11-01", "topic": "Phishing", "attendees": 0}],
            "organisation_awareness_sessions[0].attendees: 0 is not a number",
        ),
        (
            "organisation_staff",
            [{"name": "A", "arrived": "2026-02-30"}],
            "organisation_staff[0].arrived: '2026-02-30' is not a date",
        ),
        ("organisation_staff", "A, B", "organisation_staff: must be a list"),
    ],
)
def test_malformed_registers_are_named(name, records, field):
    errors = org.validate(values(**{name: records}))
    assert errors == [e for e in errors if e.startswith(field)] and len(errors) == 1, errors


def test_yaml_dates_are_accepted():
    data = values(organisation_charter_acknowledgements=[{"name": "A", "date": dt.date(2026, 1, 5), "version": 1}])
    assert org.validate(data) == []


DRILL = {"date": "2026-06-09", "kind": "drill", "scenario": "Panne du dossier de soins", "attendees": 12}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"organisation_degraded_drills": [{**DRILL, "kind": "exercice"}]},
            "organisation_degraded_drills[0].kind: 'exercice' is not one of drill, training",
        ),
        (
            {"organisation_degraded_drills": [{**DRILL, "date": "9 juin 2026"}]},
            "organisation_degraded_drills[0].date: '9 juin 2026' is not a date",
        ),
        (
            {"organisation_degraded_drills": [{**DRILL, "scenario": " "}]},
            "organisation_degraded_drills[0].scenario: missing",
        ),
        (
            {"organisation_degraded_drills": [{**DRILL, "attendees": "douze"}]},
            "organisation_degraded_drills[0].attendees: 'douze' is not a number",
        ),
        ({"organisation_degraded_drills": {"date": "2026-06-09"}}, "organisation_degraded_drills: must be a list"),
        ({"organisation_charter_date": "15/01/2026"}, "organisation_charter_date: '15/01/2026' is not a date"),
        ({"organisation_charter_reviewed": "2026-02-30"}, "organisation_charter_reviewed: '2026-02-30' is not a date"),
        ({"organisation_charter_annexed": "hier"}, "organisation_charter_annexed: 'hier' is not a date"),
    ],
)
def test_new_registers_and_dates_are_named(overrides, field):
    errors = org.validate(values(**overrides))
    assert len(errors) == 1 and errors[0].startswith(field), errors


@pytest.mark.parametrize(
    ("referent", "field"),
    [
        ({"reviewed": "2026-13-01"}, "organisation_facility.security_referent.reviewed: '2026-13-01' is not a date"),
        ({"email": "referent-at-ehpad"}, "organisation_facility.security_referent.email: 'referent-at-ehpad' is not"),
    ],
)
def test_referent_review_date_and_email_are_named(referent, field):
    data = values()
    data["organisation_facility"]["security_referent"].update(referent)
    errors = org.validate(data)
    assert len(errors) == 1 and errors[0].startswith(field), errors


def test_new_records_are_optional_and_yaml_dates_accepted():
    data = values(organisation_degraded_drills=[{**DRILL, "date": dt.date(2026, 6, 9)}])
    data["organisation_facility"]["security_referent"].update({"reviewed": dt.date(2026, 9, 1), "email": ""})
    assert org.validate(data) == []


# -- attestations ----------------------------------------------------------------------------------
STAFF = [
    {"name": "Alice Martin", "arrived": "2020-01-06", "briefed": "2020-01-10"},
    {"name": "Bruno N'Diaye", "arrived": "2026-11-20"},
    {"name": "Chloé Petit", "arrived": "2019-05-01", "left": "2026-06-30"},
]
ACKS = [
    {"name": "Alice Martin", "date": "2025-03-01", "version": "1"},
    {"name": "bruno n'diaye", "date": "2026-11-21", "version": "1"},
]


def assess(control, **overrides):
    data = {"organisation_staff": STAFF, "organisation_charter_acknowledgements": ACKS, **overrides}
    return org.assess(control, values(**data), TODAY)


def test_every_active_holder_acknowledged_the_current_version():
    finding = assess("M8-ORG-ACKNOWLEDGEMENTS")
    assert finding["status"] == "attested"
    assert "2/2 active staff acknowledged version 1 (100%)" in finding["actual"]
    assert "latest acknowledgement 2026-11-21" in finding["actual"]


def test_a_new_charter_version_makes_acknowledgements_due_again():
    finding = assess("M8-ORG-ACKNOWLEDGEMENTS", organisation_charter_version="2")
    assert finding["status"] == "attestation_due"
    assert "0/2 active staff acknowledged version 2 (0%)" in finding["actual"]
    assert finding["actual"].endswith("due: Alice Martin, Bruno N'Diaye")


def test_acknowledgement_share_below_the_threshold():
    acks = [*ACKS[:1], {"name": "Bruno N'Diaye", "date": "2026-11-21", "version": "2"}]
    assert assess("M8-ORG-ACKNOWLEDGEMENTS", organisation_charter_acknowledgements=acks)["status"] == "attestation_due"
    finding = org.assess(
        "M8-ORG-ACKNOWLEDGEMENTS",
        values(
            organisation_staff=STAFF,
            organisation_charter_acknowledgements=acks,
            organisation_acknowledgement_min_pct=50,
        ),
        TODAY,
    )
    assert finding["status"] == "attested" and "(50%)" in finding["actual"]


def test_no_staff_register_is_due():
    assert org.assess("M8-ORG-ACKNOWLEDGEMENTS", values(), TODAY)["status"] == "attestation_due"


@pytest.mark.parametrize(
    ("sessions", "status"),
    [
        ([{"date": "2026-06-01", "topic": "Hameçonnage", "attendees": 14}], "attested"),  # 180 days
        ([{"date": "2026-05-28", "topic": "Hameçonnage", "attendees": 14}], "attestation_due"),  # 184 days
        ([{"date": "2027-01-10", "topic": "Planned", "attendees": 3}], "attestation_due"),  # future: not held yet
        ([], "attestation_due"),
    ],
)
def test_last_awareness_session_age(sessions, status):
    finding = assess("M7-ORG-AWARENESS-SESSIONS", organisation_awareness_sessions=sessions)
    assert finding["status"] == status, finding


def test_new_staff_briefed_within_the_delay():
    # Bruno arrived 8 days ago, not briefed yet: still within the 30 days.
    assert assess("M7-ORG-NEW-STAFF-BRIEFED")["status"] == "attested"
    late = [
        *STAFF,
        {"name": "Dina", "arrived": "2026-09-01"},
        {"name": "Eli", "arrived": "2026-01-01", "briefed": "2026-03-01"},
    ]
    finding = assess("M7-ORG-NEW-STAFF-BRIEFED", organisation_staff=late)
    assert finding["status"] == "attestation_due"
    assert "Dina (arrived 2026-09-01, not briefed)" in finding["actual"]
    assert "Eli (arrived 2026-01-01, briefed 2026-03-01)" in finding["actual"]


@pytest.mark.parametrize(
    ("reviewed", "status"), [("2025-12-01", "attested"), ("2025-11-27", "attestation_due"), ("", "attestation_due")]
)
def test_runbook_review_age(reviewed, status):
    finding = assess(
        "M6-ORG-RUNBOOK", organisation_runbook_reviewed=reviewed, organisation_runbook_reviewer="H. D'Arcy"
    )
    assert finding["status"] == status


def slurped(host, data):
    result = {"item": host, "failed": data is None}
    if data is not None:
        result["content"] = base64.b64encode(json.dumps(data).encode()).decode()
    return result


@pytest.mark.parametrize(
    ("records", "status", "words"),
    [
        (
            [slurped("srv", {"date": "2026-11-01T03:00:00Z", "result": "success"})],
            "attested",
            "srv: success on 2026-11-01",
        ),
        ([slurped("srv", {"date": "2025-11-01T03:00:00Z", "result": "success"})], "attestation_due", "392 days ago"),
        ([slurped("srv", {"date": "2026-11-01T03:00:00Z", "result": "failure"})], "attestation_due", "srv: failure"),
        (
            [slurped("srv", {"date": "2026-11-01T03:00:00Z", "result": "success"}), slurped("nas", None)],
            "attestation_due",
            "nas: no restore-test record",
        ),
        ([], "attestation_due", "no backed-up host"),
    ],
)
def test_restore_test_records(records, status, words):
    finding = org.assess("M6-ORG-RESTORE-EXERCISE", values(), TODAY, records)
    assert finding["status"] == status and words in finding["actual"], finding


@pytest.mark.parametrize(
    ("drills", "status", "words"),
    [
        ([DRILL], "attested", "last drill 2026-06-09 (172 days ago): Panne du dossier de soins, 12 attendees"),
        (
            [DRILL, {**DRILL, "date": "2026-11-02", "kind": "training", "scenario": "Accueil des nouveaux"}],
            "attested",
            "last training 2026-11-02 (26 days ago): Accueil des nouveaux, 12 attendees; 2 recorded "
            "(1 drill(s), 1 training(s))",
        ),
        ([{**DRILL, "date": "2025-11-27"}], "attestation_due", "(366 days ago)"),  # one day too old
        ([{**DRILL, "date": "2025-11-28"}], "attested", "(365 days ago)"),
        ([{**DRILL, "date": "2027-01-15"}], "attestation_due", "no degraded-mode drill or training held"),  # planned
        ([], "attestation_due", "no degraded-mode drill or training held (organisation_degraded_drills)"),
    ],
)
def test_last_degraded_mode_drill_age(drills, status, words):
    finding = assess("M6-ORG-DEGRADED-DRILL", organisation_degraded_drills=drills)
    assert finding["status"] == status and words in finding["actual"], finding
    assert "within the last 365 days" in finding["expected"]


def test_degraded_drill_age_is_the_policy_s():
    finding = assess(
        "M6-ORG-DEGRADED-DRILL", organisation_degraded_drills=[DRILL], organisation_degraded_drill_max_age_d=90
    )
    assert finding["status"] == "attestation_due" and "within the last 90 days" in finding["expected"], finding


@pytest.mark.parametrize(
    ("referent", "status", "words"),
    [
        ({"reviewed": "2026-09-07"}, "attested", "Noël L'Hôte (02 32 00 00 01); reviewed 2026-09-07 (82 days ago)"),
        (
            {"reviewed": "2026-09-07", "email": "ssi@oustal.example"},
            "attested",
            "(02 32 00 00 01, ssi@oustal.example)",
        ),
        ({"reviewed": "2025-11-27"}, "attestation_due", "reviewed 2025-11-27 (366 days ago)"),
        ({"reviewed": "2026-12-01"}, "attestation_due", "review date 2026-12-01 is in the future"),
        ({}, "attestation_due", "no review recorded (organisation_facility.security_referent.reviewed)"),
        ({"reviewed": "2026-09-07", "name": "", "phone": ""}, "attestation_due", "no name (no contact)"),
    ],
)
def test_referent_named_with_a_contact_and_reviewed(referent, status, words):
    data = values()
    data["organisation_facility"]["security_referent"].update(referent)
    finding = org.assess("M7-ORG-REFERENT", data, TODAY)
    assert finding["status"] == status and words in finding["actual"], finding


@pytest.mark.parametrize(
    ("charter", "status", "words"),
    [
        (
            {"organisation_charter_date": "2026-01-15", "organisation_charter_annexed": "2026-02-01"},
            "attested",
            "version 1; adopted 2026-01-15; annexed to the internal rules 2026-02-01; "
            "317 days since the last adoption or review",
        ),
        (  # adopted long ago, reviewed this year and kept unchanged
            {
                "organisation_charter_date": "2019-03-01",
                "organisation_charter_annexed": "2019-04-01",
                "organisation_charter_reviewed": "2026-03-10",
            },
            "attested",
            "last reviewed 2026-03-10; 263 days since the last adoption or review",
        ),
        (
            {"organisation_charter_date": "2025-11-27", "organisation_charter_annexed": "2025-12-01"},
            "attestation_due",
            "366 days since the last adoption or review",
        ),
        (
            {"organisation_charter_date": "2026-01-15"},
            "attestation_due",
            "no annexation to the internal rules recorded (organisation_charter_annexed)",
        ),
        ({"organisation_charter_annexed": "2026-02-01"}, "attestation_due", "no adoption date"),
        (
            {"organisation_charter_date": "2027-01-01", "organisation_charter_annexed": "2027-01-02"},
            "attestation_due",
            "adoption date in the future",
        ),
        (
            {
                "organisation_charter_version": "",
                "organisation_charter_date": "2026-01-15",
                "organisation_charter_annexed": "2026-02-01",
            },
            "attestation_due",
            "no version (organisation_charter_version)",
        ),
    ],
)
def test_charter_in_force_adopted_annexed_and_reviewed(charter, status, words):
    finding = org.assess("M8-ORG-CHARTER", values(**charter), TODAY)
    assert finding["status"] == status and words in finding["actual"], finding


def test_charter_review_period_is_the_policy_s():
    charter = {"organisation_charter_date": "2024-06-01", "organisation_charter_annexed": "2024-07-01"}
    assert org.assess("M8-ORG-CHARTER", values(**charter), TODAY)["status"] == "attestation_due"
    longer = values(**charter, organisation_charter_review_max_age_d=1096)
    finding = org.assess("M8-ORG-CHARTER", longer, TODAY)
    assert finding["status"] == "attested" and "within the last 1096 days" in finding["expected"], finding


def test_unknown_control_is_an_error():
    with pytest.raises(ValueError, match="M9-ORG-NOPE"):
        org.assess("M9-ORG-NOPE", values(), TODAY)


# -- documents -------------------------------------------------------------------------------------
def context():
    return {
        "facility": FACILITY,
        "charter_version": "3",
        "charter_date": "2026-11-01",
        "dir": "/srv/ssi",
        "windows_dir": "C:\\ProgramData\\SSI",
        "restore_test_record": "/var/lib/restic/restore-test.json",
        "backups": [
            {
                "host": "srv-dossiers",
                "backup_paths": ["/srv", "/etc"],
                "backup_local_repository": "/var/backups/restic",
                "backup_on_calendar": "daily",
                "backup_offsite_enabled": True,
                "backup_offsite_ssh_host": "nas.example",
                "backup_offsite_on_calendar": "daily",
                "backup_keep_daily": 7,
                "backup_keep_weekly": 4,
                "backup_keep_monthly": 12,
            }
        ],
    }


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "fr",
            [
                "Charte d'utilisation des moyens informatiques",
                "Procédures de fonctionnement en mode dégradé",
                "ne pas l'éteindre",
                "Qui décide du basculement",
            ],
        ),
        ("en", ["IT usage charter", "Degraded-mode procedures", "do not switch it", "Who decides to switch"]),
    ],
)
def test_documents_in_both_languages_escape_the_facility_data(lang, words):
    docs = org.render_documents(TEMPLATES, lang, context())
    html = docs["charter_html"] + docs["runbook_html"]
    for word in words:
        assert word.replace("'", "&#39;") in html or word in html, word
    assert f'<html lang="{lang}">' in docs["charter_html"]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "L&#39;Oustal" in html and "Hélène D&#39;Arcy" in html and "Infogérance &amp; Cie" in html
    assert "Classeur papier des transmissions" in docs["runbook_html"]
    assert "restic restore latest" in docs["runbook_html"] and "nas.example" in docs["runbook_html"]
    assert "/var/lib/restic/restore-test.json" in docs["runbook_html"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_banner_is_plain_text_without_escapes(lang):
    ctx = context()
    ctx["facility"] = {**FACILITY, "name": "EHPAD \\s \\r \x1b[2J L'Oustal"}
    docs = org.render_documents(TEMPLATES, lang, ctx)
    banner = docs["banner"]
    assert "\\" not in banner and "\x1b" not in banner
    assert "EHPAD /s /r [2J L'Oustal" in banner  # not HTML-escaped: it is a text file
    assert "/srv/ssi/charte.html" in banner and "version 3" in banner and "02 32 00 00 01" in banner
    assert "C:\\ProgramData\\SSI\\charte.html" in docs["banner_windows"]


def test_pdf_is_produced_with_the_facility_text_and_is_reproducible(tmp_path: Path):
    pypdf = pytest.importorskip("pypdf")
    docs = org.render_documents(TEMPLATES, "fr", context())
    first = org.write_documents(str(tmp_path / "a"), docs)
    second = org.write_documents(str(tmp_path / "b"), docs)
    for kind in ("charter_pdf", "runbook_pdf"):
        data = Path(first[kind]).read_bytes()
        assert data.startswith(b"%PDF-")
        assert data == Path(second[kind]).read_bytes(), "same data, same PDF: idempotent deployment"
    text = " ".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(Path(first["charter_pdf"]).read_bytes())).pages
    )
    text = " ".join(text.split())
    assert "Charte d'utilisation des moyens informatiques" in text
    assert "Hélène D'Arcy" in text and "010003820" in text and "version 3" in text.lower()
    runbook = " ".join(p.extract_text() for p in pypdf.PdfReader(first["runbook_pdf"]).pages)
    assert "Classeur papier des transmissions" in " ".join(runbook.split())


# -- the role's policy variables --------------------------------------------------------------------
def role_data():
    options = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    bounds = yaml.safe_load((ROLE / "meta/socle_bounds.yml").read_text())
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    return options, bounds, defaults


def test_defaults_equal_the_argument_specs_and_are_valid():
    options, bounds, defaults = role_data()
    assert defaults == {name: opt["default"] for name, opt in options.items()}
    assert policy.check_role("organisation", options, bounds, defaults, {}, set()) == []
    numeric = {n for n, o in options.items() if o["type"] == "int"}
    assert numeric == set(bounds)
    for name, bound in bounds.items():
        assert bound["min"] <= options[name]["default"] <= bound["max"] and bound["reference"], name


def test_policy_refuses_an_out_of_range_value_and_a_typo():
    options, bounds, defaults = role_data()
    errors = policy.check_role(
        "organisation",
        options,
        bounds,
        defaults,
        {"organisation_awareness_max_age_d": 900, "organisation_lang": "de"},
        {"organisation_awareness_max_age_d", "organisation_lang", "organisation_staf"},
    )
    assert any("organisation_awareness_max_age_d = 900 is above the maximum 366" in e for e in errors)
    assert any("organisation_lang" in e and "de" in e for e in errors)
    assert any("unknown variable organisation_staf; did you mean organisation_staff?" in e for e in errors)


# -- run record and report: attested / attestation_due ----------------------------------------------
@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({"attested"}, "attested"),
        ({"attestation_due"}, "attestation_due"),
        ({"attested", "attestation_due"}, "attestation_due"),
        ({"attested", "drift"}, "drift"),
    ],
)
def test_callback_turns_evidence_into_its_status(monkeypatch, statuses, expected):
    monkeypatch.delenv("SOCLE_RECORD", raising=False)
    plugin = callback.CallbackModule()
    plugin.run["mode"] = "audit"
    tasks = [
        {
            "name": "M8-ORG-ACKNOWLEDGEMENTS | t",
            "result": "ok",
            "msg": None,
            "expected": None,
            "actual": None,
            "diff": None,
            "finding": {"status": s, "expected": "rule", "actual": f"evidence {s}"},
        }
        for s in sorted(statuses)
    ]
    result = plugin.control(tasks)
    assert result["status"] == expected and result["finding"] is True


def record_with_evidence() -> dict:
    def control(status, expected, actual):
        return {
            "status": status,
            "changed": False,
            "expected": expected,
            "actual": actual,
            "diff": None,
            "message": None,
            "finding": True,
            "tasks": [{"name": "x", "result": "ok", "msg": None}],
        }

    return {
        "schema_version": 1,
        "run": {
            "id": "20261128T120000Z-0123abcd",
            "mode": "audit",
            "started": "2026-11-28T12:00:00Z",
            "finished": "2026-11-28T12:01:00Z",
            "ansible_version": "2.19.14",
            "socle_version": "0.1.0",
            "playbooks": ["audit.yml"],
            "errors": [],
        },
        "hosts": {
            "deb12-org": {
                "status": "ok",
                "facility": "EHPAD L'Oustal",
                "platform": "Debian 12",
                "controls": {
                    "M8-ORG-ACKNOWLEDGEMENTS": control(
                        "attestation_due",
                        "charter version 2 acknowledged by 100%",
                        "1/2 active staff acknowledged version 2 (50%); due: Bruno <N'Diaye>",
                    ),
                    "M7-ORG-AWARENESS-SESSIONS": control(
                        "attested",
                        "an awareness session within the last 183 days",
                        "last session 2026-06-01 (180 days ago): Hameçonnage, 14 attendees",
                    ),
                },
            }
        },
    }


@pytest.mark.parametrize(
    ("lang", "due", "attested"), [("fr", "attestation échue", "attesté"), ("en", "attestation due", "attested")]
)
def test_report_shows_attestations_under_their_measure_with_evidence(lang, due, attested):
    record = parse_record(record_with_evidence())
    assert record.exit_code() == EXIT_DRIFT
    assert record.summary().measures[8]["attestation_due"] == 1 and record.summary().measures[7]["attested"] == 1
    html = render_html(record, load_catalogue(), lang=lang)
    assert due in html and attested in html
    assert "1/2 active staff acknowledged version 2 (50%); due: Bruno &lt;N&#39;Diaye&gt;" in html
    assert "last session 2026-06-01 (180 days ago)" in html
    assert 'class="finding s-attested"' in html and 'class="finding s-attestation_due"' in html


def test_the_example_inventory_is_valid_and_attested():
    folder = ROOT / "inventories" / "example" / "group_vars" / "all"
    data = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
    for name in ("organisation.yml", "charter_acknowledgements.yml"):
        data.update(yaml.safe_load((folder / name).read_text(encoding="utf-8")))
    assert org.validate(data) == []
    finding = org.assess("M8-ORG-ACKNOWLEDGEMENTS", data, dt.date(2026, 11, 28))
    assert finding["status"] == "attested", finding


def test_a_facility_pdf_is_rendered_once_per_run(tmp_path: Path, monkeypatch):
    calls = []
    monkeypatch.setattr(org, "html_to_pdf", lambda html: calls.append(html) or b"%PDF-fake")
    docs = org.render_documents(TEMPLATES, "en", context())
    first = org.write_documents(str(tmp_path), docs)
    assert org.write_documents(str(tmp_path), docs) == first  # every other host of the facility
    assert len(calls) == 2  # the charter and the runbook, once each
    other = org.render_documents(TEMPLATES, "fr", context())
    org.write_documents(str(tmp_path), other)
    assert len(calls) == 4  # other data, other documents


ORG_RECORDS = {
    "M6-ORG-RUNBOOK", "M6-ORG-RESTORE-EXERCISE", "M6-ORG-DEGRADED-DRILL", "M7-ORG-AWARENESS-SESSIONS",
    "M7-ORG-NEW-STAFF-BRIEFED", "M7-ORG-REFERENT", "M8-ORG-ACKNOWLEDGEMENTS", "M8-ORG-CHARTER",
}  # fmt: skip


def test_the_example_inventory_attests_every_record_it_holds():
    folder = ROOT / "inventories" / "example" / "group_vars" / "all"
    data = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
    for name in ("organisation.yml", "charter_acknowledgements.yml"):
        data.update(yaml.safe_load((folder / name).read_text(encoding="utf-8")))
    for control in ORG_RECORDS - {"M6-ORG-RESTORE-EXERCISE"}:  # restore tests are read from the hosts
        finding = org.assess(control, data, dt.date(2026, 11, 28))
        assert finding["status"] == "attested", (control, finding)


def lab_policy() -> dict:
    """The built-in lab's policy as Ansible templates it (its register dates are relative to the run)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def trusted(value):  # group_vars files are trusted templates for Ansible
        if isinstance(value, dict):
            return {k: trusted(v) for k, v in value.items()}
        if isinstance(value, list):
            return [trusted(v) for v in value]
        return trust_as_template(value) if isinstance(value, str) else value

    raw = yaml.safe_load((ROOT / "inventories/lab/group_vars/all/socle.yml").read_text(encoding="utf-8"))
    data = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
    data.update(Templar(loader=DataLoader()).template(trusted(raw)))
    return data


def test_the_lab_facility_is_valid_and_its_records_attested_whatever_the_day():
    data = lab_policy()
    assert data["organisation_enabled"] is True and org.validate(data) == []
    assert org.finess_is_valid(data["organisation_facility"]["finess"])
    options, bounds, defaults = role_data()
    names = {n for n in data if n.startswith("organisation_")}
    assert policy.check_role("organisation", options, bounds, defaults, data, names) == []
    today = dt.datetime.now(dt.UTC).date()
    for control in ORG_RECORDS:
        # No lab host has Socle backups: the restore exercise is due, which the demo says.
        expected = "attestation_due" if control == "M6-ORG-RESTORE-EXERCISE" else "attested"
        assert org.assess(control, data, today, [])["status"] == expected, control
    # Dates printed in the documents stay fixed, or the copies on the hosts would change every day.
    assert org.parse_date(data["organisation_charter_date"]) is not None
    assert "{{" not in (ROOT / "inventories/lab/group_vars/all/socle.yml").read_text().split(
        "organisation_charter_date:")[1].splitlines()[0]


def test_every_record_control_of_the_catalogue_is_assessed_by_a_task():
    catalogue = load_catalogue()
    org_controls = {cid for cid, c in catalogue.controls.items() if c["platform"] == "organisational"
                    and c.get("role") == "organisation"}  # fmt: skip
    assert org_controls == ORG_RECORDS
    tasks = yaml.safe_load((ROLE / "tasks/evidence.yml").read_text(encoding="utf-8"))
    assessing = [t for t in tasks if "socle_organisation" in t]
    assessed = {cid for t in assessing for cid in t["socle_organisation"]["controls"]}
    assert assessed == ORG_RECORDS
    # one task, whose tags make the run record give each control its finding (socle_controls)
    assert len(assessing) == 1 and set(assessing[0]["tags"]) == ORG_RECORDS | {"socle_controls"}
    # Nothing recorded: due (the staff briefing control has nobody late in an empty register, and the
    # acknowledgements control already makes an empty staff register due).
    for control in ORG_RECORDS - {"M6-ORG-RESTORE-EXERCISE", "M7-ORG-NEW-STAFF-BRIEFED"}:
        assert org.assess(control, values(), TODAY)["status"] == "attestation_due", control


# -- GNOME login-screen banner (M7-LNX-GDM-BANNER) ----------------------------------------------------
GLIB = ctypes.util.find_library("glib-2.0")


@pytest.fixture(scope="module")
def glib():
    """GLib itself (the library dconf and GDM use), to check the GVariant text both ways."""
    # Never skipped: GLib comes with WeasyPrint's libraries (make apt), and without it this check proves nothing.
    assert GLIB is not None, "GLib is not installed: run `make apt` (it comes with WeasyPrint's libraries)"
    lib = ctypes.CDLL(GLIB)
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    for name, restype, argtypes in [
        ("g_variant_new_string", vp, [cp]),
        ("g_variant_print", cp, [vp, ctypes.c_int]),
        ("g_variant_parse", vp, [vp, cp, vp, vp, vp]),
        ("g_variant_get_type_string", cp, [vp]),
        ("g_key_file_new", vp, []),
        ("g_key_file_load_from_data", ctypes.c_int, [vp, cp, ctypes.c_size_t, ctypes.c_int, vp]),
        ("g_key_file_get_value", cp, [vp, cp, cp, vp]),
    ]:
        getattr(lib, name).restype = restype
        getattr(lib, name).argtypes = argtypes
    return lib


def glib_print(lib, text: str) -> str:
    return lib.g_variant_print(lib.g_variant_new_string(text.encode()), 0).decode()


def dconf_value(lib, keyfile: str, group: str, key: str) -> tuple[str, str]:
    """What `dconf compile` stores for a key: the keyfile's raw value parsed as GVariant text."""
    kf = lib.g_key_file_new()
    data = keyfile.encode()
    assert lib.g_key_file_load_from_data(kf, data, len(data), 0, None)
    raw = lib.g_key_file_get_value(kf, group.encode(), key.encode(), None)
    variant = lib.g_variant_parse(None, raw, None, None, None)
    assert variant, f"GVariant text that dconf cannot parse: {raw!r}"
    return lib.g_variant_get_type_string(variant).decode(), lib.g_variant_print(variant, 0).decode()


@pytest.mark.parametrize(
    "text",
    [
        "EHPAD des Tilleuls - réservé aux personnes autorisées",  # no apostrophe: single quotes
        "EHPAD « L'Oustal » d'Évreux\nLigne deux\tfin",  # apostrophe: double quotes
        'Both \' and " and a back\\slash',
        "bell \x07 zero-width \u200b nbsp \u00a0 narrow \u202f emoji \U0001f600 tag \U000e0001",
    ],
)
def test_gvariant_text_is_exactly_what_glib_prints_back(glib, text):
    literal = org.gvariant_string(text)
    assert literal == glib_print(glib, text)
    variant = glib.g_variant_parse(None, literal.encode(), None, None, None)
    assert variant and glib.g_variant_print(variant, 0).decode() == literal


def gdm_task(name_part: str) -> dict:
    tasks = yaml.safe_load((ROLE / "tasks/linux.yml").read_text(encoding="utf-8"))
    return next(t for t in tasks if t["name"].startswith("M7-LNX-GDM-BANNER |") and name_part in t["name"])


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_gdm_banner_task_gives_gdm_the_text_banner(glib, lang):
    """The task's module arguments, rendered as Ansible would, give GDM's dconf database the banner."""
    from jinja2 import Environment

    docs = org.render_documents(TEMPLATES, lang, context())
    assert docs["banner_gdm"] == org.gvariant_string(docs["banner"].rstrip("\n"))
    task = gdm_task("login screen shows")
    args = task["socle_dconf"]
    assert (args["db"], args["profile"], args["control"]) == ("gdm", "gdm", "M7-LNX-GDM-BANNER")
    settings = {
        directory: {k: Environment().from_string(v).render(__organisation_documents=docs) for k, v in keys.items()}
        for directory, keys in args["settings"].items()
    }
    assert set(settings) == {"org/gnome/login-screen"}
    assert all("\n" not in v for v in settings["org/gnome/login-screen"].values())  # one GVariant line each
    keyfile = dconf_mod.render_keyfile(settings, args["control"])
    assert dconf_value(glib, keyfile, "org/gnome/login-screen", "banner-message-enable") == ("b", "true")
    kind, printed = dconf_value(glib, keyfile, "org/gnome/login-screen", "banner-message-text")
    assert kind == "s" and printed == settings["org/gnome/login-screen"]["banner-message-text"]
    assert glib_print(glib, docs["banner"].rstrip("\n")) == printed  # the text banner, line breaks kept
    assert "L'Oustal" in docs["banner"] and "02 32 00 00 01" in docs["banner"] and "\\" not in docs["banner"]
    assert dconf_mod.render_locks(settings, args["control"]).splitlines()[1:] == [
        "/org/gnome/login-screen/banner-message-enable",
        "/org/gnome/login-screen/banner-message-text",
    ]


def test_gdm_banner_only_where_gdm_is_and_never_installs_it():
    dconf_task = gdm_task("login screen shows")
    assert dconf_task["when"] == "organisation_banner_enabled and ansible_facts['socle']['gdm']"
    absent = gdm_task("No GNOME login screen")
    assert absent["when"] == "organisation_banner_enabled and not ansible_facts['socle']['gdm']"
    assert absent["socle_finding"]["finding"]["status"] == "not_applicable"
    packages = [t["socle_packages"]["name"] for t in yaml.safe_load((ROLE / "tasks/linux.yml").read_text())
                if "socle_packages" in t]  # fmt: skip
    assert packages == [["dconf-cli"]]  # the dconf tools only, on hosts that already have GDM


def test_pdfs_are_kept_between_runs_by_the_digest_of_their_html(tmp_path: Path, monkeypatch):
    calls = []
    monkeypatch.setattr(org, "html_to_pdf", lambda html: calls.append(html) or b"%PDF-fake " + html[:20].encode())
    cache = str(tmp_path / "cache")
    docs = org.render_documents(TEMPLATES, "en", context())
    first = org.write_documents(str(tmp_path / "run1"), docs, cache)
    assert len(calls) == 2
    second = org.write_documents(str(tmp_path / "run2"), docs, cache)  # the next run: nothing rendered
    assert len(calls) == 2
    for kind in ("charter_pdf", "runbook_pdf"):
        assert Path(first[kind]).read_bytes() == Path(second[kind]).read_bytes()
    assert len(list(Path(cache).glob("*.pdf"))) == 2
    # A damaged cache entry is rendered again, never served.
    for path in Path(cache).glob("*.pdf"):
        path.write_bytes(b"garbage")
    org.write_documents(str(tmp_path / "run3"), docs, cache)
    assert len(calls) == 4
    # Other data, other documents; and with the cache off, every run renders.
    org.write_documents(str(tmp_path / "run4"), org.render_documents(TEMPLATES, "fr", context()), cache)
    assert len(calls) == 6
    monkeypatch.setenv("SOCLE_PDF_CACHE", "off")
    assert org.pdf_cache_dir() is None
    monkeypatch.setenv("SOCLE_PDF_CACHE", cache)
    assert org.pdf_cache_dir() == cache


def test_evidence_of_several_controls_in_one_task(monkeypatch):
    from types import SimpleNamespace

    data = values()
    monkeypatch.setattr(org.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    monkeypatch.setattr(org.ActionModule, "_values", lambda self, task_vars: data)
    action = org.ActionModule.__new__(org.ActionModule)
    controls = sorted(ORG_RECORDS)
    action._task = SimpleNamespace(args={"step": "evidence", "controls": controls, "today": TODAY.isoformat(),
                                         "restore_records": []})
    result = action.run(task_vars={})
    assert set(result["socle_findings"]) == ORG_RECORDS and "socle_finding" not in result
    for cid in controls:  # each finding is the one the single-control assessment gives
        assert result["socle_findings"][cid] == org.assess(cid, data, TODAY, [])
    action._task = SimpleNamespace(args={"step": "evidence", "controls": ["M9-ORG-NOPE"], "today": "2026-11-28"})
    failed = action.run(task_vars={})
    assert failed["failed"] is True and "M9-ORG-NOPE" in failed["msg"]
    action._task = SimpleNamespace(args={"step": "evidence", "controls": [], "today": "2026-11-28"})
    assert action.run(task_vars={})["failed"] is True


def test_the_documents_templates_are_compiled_once_and_kept_beside_the_compiled_task_templates(monkeypatch,
                                                                                              tmp_path):
    """In the folder of the compile cache socle_preload installs (private, checked there, one per version)."""
    from types import SimpleNamespace

    import jinja2
    from ansible._internal._templating._jinja_bits import AnsibleEnvironment

    monkeypatch.setattr(AnsibleEnvironment, "_socle_compile_cache", None, raising=False)
    assert org.template_bytecode_cache() is None  # no compile cache (SOCLE_TEMPLATE_CACHE off): Jinja compiles
    first = org.render_documents(TEMPLATES, "fr", context())
    version = tmp_path / "ansible-jinja" / "v1"
    version.mkdir(parents=True, mode=0o700)
    monkeypatch.setattr(AnsibleEnvironment, "_socle_compile_cache", SimpleNamespace(folder=str(version)))
    assert org.render_documents(TEMPLATES, "fr", context()) == first
    folder = version / "organisation"
    kept = sorted(folder.iterdir())
    assert len(kept) >= 3 and oct(folder.stat().st_mode & 0o777) == "0o700"  # charter, runbook, banner (and parts)
    assert all(org._SOURCE_DIGEST in path.name for path in kept)  # an edit of the plugin never meets older code
    compiled = []
    real = jinja2.Environment._generate
    monkeypatch.setattr(jinja2.Environment, "_generate", lambda *a, **k: compiled.append(a[2]) or real(*a, **k))
    assert org.render_documents(TEMPLATES, "fr", context()) == first and compiled == []  # loaded, not compiled
