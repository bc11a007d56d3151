"""Organisational measures 6, 7 and 8 on the controller: facility data, documents, attestations."""

from __future__ import annotations

DOCUMENTATION = r"""
action: socle_organisation
short_description: Validate a facility's data, render its charter and runbook, assess its attestations
description:
  - Runs on the controller only, with no connection to the host, and never changes a host.
  - C(step=validate) checks the facility data and registers of the C(organisation) role (facility
    name, FINESS number and its Luhn check key, contacts, critical applications with their paper
    fallback, backup locations, the referent's review date, charter dates, acknowledgements,
    awareness sessions, staff, degraded-mode drills) and fails with one message per problem, each
    naming the field.
  - C(step=render) renders, from the role's templates and the facility data, the IT charter and the
    continuity runbook (HTML, escaped, and PDF with WeasyPrint) and the login banner text, also as the
    GVariant string the GNOME login screen's dconf key takes (C(banner_gdm)). Files go to
    a content-addressed folder in the controller's per-run temporary directory, from where the role
    copies them to the hosts (so check mode compares checksums exactly). The same data gives the same
    bytes, so a facility's documents are rendered once per run.
  - C(step=evidence) assesses one organisational control (C(control)) from the inventory's records and
    returns it as C(socle_finding) with status C(attested) or C(attestation_due), the rule and the
    evidence with its dates; with C(controls), several in one task, returned as C(socle_findings) (control
    ID to finding, which the C(socle_record) callback splits when the task carries the tag C(socle_controls)).
options:
  step:
    description: What to do.
    type: str
    choices: [validate, render, evidence]
    required: true
  control:
    description: With C(step=evidence), the control ID to assess.
    type: str
  controls:
    description: With C(step=evidence), several control IDs to assess in one task (instead of C(control)).
    type: list
    elements: str
  restore_records:
    description: With C(step=evidence) and C(M6-ORG-RESTORE-EXERCISE), the restore-test records read
      from the backed-up hosts (results of C(ansible.builtin.slurp), with the host in C(item)).
    type: list
    elements: dict
  today:
    description: Date of the assessment (YYYY-MM-DD); today (UTC) by default. For tests.
    type: str
"""

import base64
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping
from typing import Any

from ansible import constants as C
from ansible.plugins.action import ActionBase

FACILITY_VAR = "organisation_facility"
FINESS_RE = re.compile(r"^(?:\d{2}|2[AB])\d{7}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Strings the facility must give, by dotted path.
REQUIRED_TEXT = (
    "name", "finess", "address", "director",
    "security_referent.name", "security_referent.phone",
    "dpo.name", "dpo.email",
    "msp.name", "msp.phone",
)  # fmt: skip
#: Characters agetty interprets in /etc/issue (\\s, \\r...) and that a banner must not carry.
BANNER_UNSAFE = re.compile(r"[\\\x00-\x08\x0b-\x1f\x7f]")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Kinds of entry in the register of degraded-mode drills.
DRILL_KINDS = ("drill", "training")


# -- facility data ---------------------------------------------------------------------------------
def finess_is_valid(number: str) -> bool:
    """True when a FINESS number has 9 characters and a right Luhn check key (its last digit).

    FINESS numbers are 9 characters, the first two being the département; the last one is a Luhn
    (mod 10) key over the first eight. Corsican numbers start with 2A or 2B: the letters are read as
    0 for the key (the INSEE practice for the NIR; not confirmed by an ANS text).
    """
    if not isinstance(number, str) or not FINESS_RE.match(number):
        return False
    digits = number.replace("A", "0").replace("B", "0")
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def parse_date(value: Any) -> dt.date | None:
    """A date from the inventory (YYYY-MM-DD, as a string or a YAML date); None when malformed."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and DATE_RE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _check_records(name: str, records: Any, fields: Mapping[str, str | tuple[str, ...]], errors: list[str]) -> None:
    """Each record a mapping; ``fields`` maps a field to ``text``, ``date``, ``count``, ``date?`` (optional)
    or a tuple of the accepted values."""
    if not isinstance(records, list):
        errors.append(f"{name}: must be a list, got {type(records).__name__}")
        return
    for index, record in enumerate(records):
        where = f"{name}[{index}]"
        if not isinstance(record, Mapping):
            errors.append(f"{where}: must be a mapping")
            continue
        for field, kind in fields.items():
            value = record.get(field)
            if isinstance(kind, tuple):
                if value not in kind:
                    errors.append(f"{where}.{field}: {value!r} is not one of {', '.join(kind)}")
                continue
            if kind.endswith("?") and value in (None, ""):
                continue
            kind = kind.rstrip("?")
            if kind == "text" and not _is_text(value if not isinstance(value, (int, float)) else str(value)):
                errors.append(f"{where}.{field}: missing or empty")
            elif kind == "date" and parse_date(value) is None:
                errors.append(f"{where}.{field}: {value!r} is not a date (YYYY-MM-DD)")
            elif kind == "count" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                errors.append(f"{where}.{field}: {value!r} is not a number of people (1 or more)")


def validate(values: Mapping[str, Any]) -> list[str]:
    """Problems with the organisation role's data, each naming the field; [] when valid or disabled."""
    if not values.get("organisation_enabled"):
        return []
    errors: list[str] = []
    facility = values.get(FACILITY_VAR)
    if not isinstance(facility, Mapping) or not facility:
        return [f"{FACILITY_VAR}: missing; organisation_enabled needs the facility's data (see the role's README)"]
    groups = {path.split(".")[0] for path in REQUIRED_TEXT if "." in path}
    bad_groups = set()
    for group in sorted(groups):
        if not isinstance(facility.get(group), Mapping):
            fields = ", ".join(p.split(".")[1] for p in REQUIRED_TEXT if p.startswith(group + "."))
            errors.append(f"{FACILITY_VAR}.{group}: missing or not a mapping ({fields})")
            bad_groups.add(group)
    for path in REQUIRED_TEXT:
        if path.split(".")[0] in bad_groups:
            continue
        value = _get(facility, path)
        if not _is_text(value):
            errors.append(f"{FACILITY_VAR}.{path}: missing or empty")
    finess = _get(facility, "finess")
    if _is_text(finess) and not finess_is_valid(str(finess).replace(" ", "")):
        errors.append(
            f"{FACILITY_VAR}.finess: {finess!r} is not a FINESS number "
            "(9 characters, the last one a Luhn check key over the first eight)"
        )
    for path in ("dpo.email", "security_referent.email"):
        email = _get(facility, path)
        if email is None or (isinstance(email, str) and not email.strip()):
            continue  # a required one that is missing is reported above, an optional one may be absent
        if not (isinstance(email, str) and EMAIL_RE.match(email)):
            errors.append(f"{FACILITY_VAR}.{path}: {email!r} is not an e-mail address")
    reviewed = _get(facility, "security_referent.reviewed")
    if reviewed not in (None, "") and parse_date(reviewed) is None:
        errors.append(f"{FACILITY_VAR}.security_referent.reviewed: {reviewed!r} is not a date (YYYY-MM-DD)")
    apps = facility.get("critical_applications")
    if not isinstance(apps, list) or not apps:
        errors.append(f"{FACILITY_VAR}.critical_applications: list at least one application with its paper fallback")
    else:
        _check_records(
            f"{FACILITY_VAR}.critical_applications",
            apps,
            {"name": "text", "fallback": "text", "decides": "text"},
            errors,
        )
    locations = facility.get("backup_locations")
    if not isinstance(locations, list) or not locations or not all(_is_text(x) for x in locations):
        errors.append(f"{FACILITY_VAR}.backup_locations: list where the backups are kept (at least one, non-empty)")
    version = values.get("organisation_charter_version")
    if not _is_text(str(version) if version is not None else ""):
        errors.append("organisation_charter_version: missing or empty")
    _check_records(
        "organisation_charter_acknowledgements",
        values.get("organisation_charter_acknowledgements", []),
        {"name": "text", "date": "date", "version": "text"},
        errors,
    )
    _check_records(
        "organisation_staff",
        values.get("organisation_staff", []),
        {"name": "text", "arrived": "date", "briefed": "date?", "left": "date?"},
        errors,
    )
    _check_records(
        "organisation_awareness_sessions",
        values.get("organisation_awareness_sessions", []),
        {"date": "date", "topic": "text", "attendees": "count"},
        errors,
    )
    _check_records(
        "organisation_degraded_drills",
        values.get("organisation_degraded_drills", []),
        {"date": "date", "kind": DRILL_KINDS, "scenario": "text", "attendees": "count"},
        errors,
    )
    for name in (
        "organisation_runbook_reviewed", "organisation_charter_date", "organisation_charter_reviewed",
        "organisation_charter_annexed",
    ):  # fmt: skip
        value = values.get(name)
        if value not in (None, "") and parse_date(value) is None:
            errors.append(f"{name}: {value!r} is not a date (YYYY-MM-DD)")
    return errors


# -- attestations ----------------------------------------------------------------------------------
def _finding(ok: bool, expected: str, actual: str) -> dict[str, str]:
    return {"status": "attested" if ok else "attestation_due", "expected": expected, "actual": actual}


def _active_staff(values: Mapping[str, Any], today: dt.date) -> list[Mapping[str, Any]]:
    staff = []
    for person in values.get("organisation_staff") or []:
        left = parse_date(person.get("left"))
        if left is None or left > today:
            staff.append(person)
    return staff


def assess(
    control: str, values: Mapping[str, Any], today: dt.date, restore_records: list[dict] | None = None
) -> dict[str, str]:
    """Status, rule and evidence of one organisational control, from the inventory's records."""
    if control == "M8-ORG-ACKNOWLEDGEMENTS":
        version = str(values.get("organisation_charter_version"))
        minimum = int(values.get("organisation_acknowledgement_min_pct", 100))
        signed: dict[str, dt.date] = {}
        for ack in values.get("organisation_charter_acknowledgements") or []:
            if str(ack.get("version")) == version:
                signed[str(ack.get("name")).strip().casefold()] = parse_date(ack.get("date"))
        staff = _active_staff(values, today)
        names = [str(p.get("name")).strip() for p in staff]
        missing = sorted(n for n in names if n.casefold() not in signed)
        done = len(names) - len(missing)
        share = round(100 * done / len(names)) if names else 0
        expected = f"charter version {version} acknowledged by at least {minimum}% of active staff"
        actual = f"{done}/{len(names)} active staff acknowledged version {version} ({share}%)"
        if signed:
            actual += f"; latest acknowledgement {max(signed.values()).isoformat()}"
        if missing:
            actual += "; due: " + ", ".join(missing)
        return _finding(bool(names) and share >= minimum, expected, actual)
    if control == "M7-ORG-AWARENESS-SESSIONS":
        max_age = int(values.get("organisation_awareness_max_age_d", 183))
        sessions = sorted(
            (
                (parse_date(s.get("date")), s)
                for s in values.get("organisation_awareness_sessions") or []
                if parse_date(s.get("date")) is not None and parse_date(s.get("date")) <= today
            ),
            key=lambda pair: pair[0],
        )
        expected = f"an awareness session within the last {max_age} days"
        if not sessions:
            return _finding(False, expected, "no awareness session recorded")
        last_date, last = sessions[-1]
        age = (today - last_date).days
        actual = (
            f"last session {last_date.isoformat()} ({age} days ago): {last.get('topic')}, "
            f"{last.get('attendees')} attendees; {len(sessions)} session(s) recorded"
        )
        return _finding(age <= max_age, expected, actual)
    if control == "M7-ORG-NEW-STAFF-BRIEFED":
        delay = int(values.get("organisation_new_staff_briefing_max_d", 30))
        late, briefed = [], 0
        for person in _active_staff(values, today):
            arrived, when = parse_date(person.get("arrived")), parse_date(person.get("briefed"))
            if arrived is None:
                continue
            if when is not None and (when - arrived).days <= delay:
                briefed += 1
            elif when is not None or (today - arrived).days > delay:
                late.append(
                    f"{person.get('name')} (arrived {arrived.isoformat()}, "
                    + (f"briefed {when.isoformat()})" if when else "not briefed)")
                )
        expected = f"every staff member briefed within {delay} days of arrival"
        actual = f"{briefed} briefed in time"
        if late:
            actual += "; late: " + ", ".join(sorted(late))
        return _finding(not late, expected, actual)
    if control == "M6-ORG-RUNBOOK":
        max_age = int(values.get("organisation_runbook_review_max_age_d", 365))
        reviewed = parse_date(values.get("organisation_runbook_reviewed"))
        reviewer = values.get("organisation_runbook_reviewer") or "?"
        expected = f"runbook reviewed and approved within the last {max_age} days"
        if reviewed is None:
            return _finding(False, expected, "no review recorded (organisation_runbook_reviewed)")
        age = (today - reviewed).days
        return _finding(
            0 <= age <= max_age, expected, f"reviewed {reviewed.isoformat()} by {reviewer} ({age} days ago)"
        )
    if control == "M6-ORG-RESTORE-EXERCISE":
        max_age = int(values.get("organisation_restore_test_max_age_d", 365))
        expected = f"a successful restore test within the last {max_age} days on every backed-up host"
        lines, ok = [], True
        for record in restore_records or []:
            host = record.get("item")
            data = None
            if record.get("content"):
                try:
                    data = json.loads(base64.b64decode(record["content"]).decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    data = None
            when = parse_date(str((data or {}).get("date", ""))[:10]) if isinstance(data, dict) else None
            if when is None:
                ok = False
                lines.append(f"{host}: no restore-test record")
                continue
            age = (today - when).days
            good = data.get("result") == "success" and 0 <= age <= max_age
            ok = ok and good
            lines.append(f"{host}: {data.get('result')} on {when.isoformat()} ({age} days ago)")
        if not lines:
            return _finding(False, expected, "no backed-up host in the facility's inventory (backup_enabled)")
        return _finding(ok, expected, "; ".join(lines))
    if control == "M6-ORG-DEGRADED-DRILL":
        return _assess_drills(values, today)
    if control == "M7-ORG-REFERENT":
        return _assess_referent(values, today)
    if control == "M8-ORG-CHARTER":
        return _assess_charter(values, today)
    raise ValueError(f"socle_organisation: no assessment for control {control!r}")


def _assess_drills(values: Mapping[str, Any], today: dt.date) -> dict[str, str]:
    """M6-ORG-DEGRADED-DRILL: the last drill (or training in the procedures) held is recent enough."""
    max_age = int(values.get("organisation_degraded_drill_max_age_d", 365))
    held = sorted(
        ((parse_date(d.get("date")), d) for d in values.get("organisation_degraded_drills") or []
         if parse_date(d.get("date")) is not None and parse_date(d.get("date")) <= today),
        key=lambda pair: pair[0],
    )  # fmt: skip
    expected = f"a degraded-mode drill, or a training of the teams in the procedures, within the last {max_age} days"
    if not held:
        return _finding(False, expected, "no degraded-mode drill or training held (organisation_degraded_drills)")
    last_date, last = held[-1]
    age = (today - last_date).days
    drills = sum(1 for _d, entry in held if entry.get("kind") == "drill")
    actual = (
        f"last {last.get('kind')} {last_date.isoformat()} ({age} days ago): {last.get('scenario')}, "
        f"{last.get('attendees')} attendees; {len(held)} recorded ({drills} drill(s), {len(held) - drills} training(s))"
    )
    return _finding(age <= max_age, expected, actual)


def _assess_referent(values: Mapping[str, Any], today: dt.date) -> dict[str, str]:
    """M7-ORG-REFERENT: a named referent with a contact, whose designation was reviewed recently."""
    max_age = int(values.get("organisation_referent_review_max_age_d", 365))
    referent = _get(values.get(FACILITY_VAR) or {}, "security_referent") or {}
    name = str(referent.get("name") or "").strip()
    contacts = [str(referent[k]).strip() for k in ("phone", "email") if _is_text(str(referent.get(k) or ""))]
    expected = (
        f"a named IT-security referent with a phone or an e-mail address, reviewed within the last {max_age} days"
    )
    actual = f"{name or 'no name'} ({', '.join(contacts) or 'no contact'})"
    reviewed = parse_date(referent.get("reviewed"))
    if reviewed is None:
        actual += f"; no review recorded ({FACILITY_VAR}.security_referent.reviewed)"
        return _finding(False, expected, actual)
    age = (today - reviewed).days
    if age < 0:
        actual += f"; review date {reviewed.isoformat()} is in the future"
    else:
        actual += f"; reviewed {reviewed.isoformat()} ({age} days ago)"
    return _finding(bool(name) and bool(contacts) and 0 <= age <= max_age, expected, actual)


def _assess_charter(values: Mapping[str, Any], today: dt.date) -> dict[str, str]:
    """M8-ORG-CHARTER: a version in force, adopted (dated), annexed to the internal rules, reviewed recently."""
    max_age = int(values.get("organisation_charter_review_max_age_d", 365))
    version = str(values.get("organisation_charter_version") or "").strip()
    adopted = parse_date(values.get("organisation_charter_date"))
    reviewed = parse_date(values.get("organisation_charter_reviewed"))
    annexed = parse_date(values.get("organisation_charter_annexed"))
    expected = (
        "a charter version in force, adopted by management (date), annexed to the internal rules, "
        f"adopted or reviewed within the last {max_age} days"
    )
    parts = [f"version {version}" if version else "no version (organisation_charter_version)"]
    parts.append(f"adopted {adopted.isoformat()}" if adopted else "no adoption date (organisation_charter_date)")
    parts.append(
        f"annexed to the internal rules {annexed.isoformat()}" if annexed
        else "no annexation to the internal rules recorded (organisation_charter_annexed)"
    )  # fmt: skip
    if reviewed is not None:
        parts.append(f"last reviewed {reviewed.isoformat()}")
    latest = max((d for d in (adopted, reviewed) if d is not None and d <= today), default=None)
    ok = bool(version) and adopted is not None and adopted <= today and annexed is not None and latest is not None
    if latest is not None:
        age = (today - latest).days
        parts.append(f"{age} days since the last adoption or review")
        ok = ok and age <= max_age
    elif adopted is not None:
        parts.append("adoption date in the future")
    return _finding(ok, expected, "; ".join(parts))


# -- documents -------------------------------------------------------------------------------------
def banner_safe(text: str) -> str:
    """Text safe for /etc/issue and sshd: no backslash escapes for agetty, no control characters."""
    return BANNER_UNSAFE.sub(lambda m: "/" if m.group() == "\\" else "", text)


def gvariant_string(text: str) -> str:
    """``text`` as GVariant text, exactly as ``dconf read`` prints it back (GLib's g_variant_print).

    Double quotes when the text holds an apostrophe, single quotes otherwise; the quote and the
    backslash escaped; non-printable characters (GLib: control, format, unassigned, surrogate) as
    C escapes or \\uXXXX. Printing it the canonical way lets socle_dconf compare the compiled database
    with the policy text byte for byte, so a converged host stays unchanged.
    """
    quote = '"' if "'" in text else "'"
    named = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}
    out = [quote]
    for char in text:
        if char in (quote, "\\"):
            out.append("\\" + char)
        elif unicodedata.category(char) not in ("Cc", "Cf", "Cn", "Cs"):
            out.append(char)
        elif char in named:
            out.append("\\" + named[char])
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append(quote)
    return "".join(out)


def template_bytecode_cache():
    """Jinja's compiled charter, runbook and banner templates, kept between runs and hosts beside the compiled
    task templates: in the folder of the compile cache socle_preload installed (private, one per version of
    Python, Jinja and Ansible; SOCLE_TEMPLATE_CACHE), under a name that holds this file's digest, so an edit
    of the environment's settings below never meets code compiled before it. None without that cache."""
    from ansible._internal._templating._jinja_bits import AnsibleEnvironment
    from jinja2 import FileSystemBytecodeCache

    cache = getattr(AnsibleEnvironment, "_socle_compile_cache", None)
    if cache is None:
        return None
    folder = os.path.join(cache.folder, "organisation")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(folder, pattern=f"__socle_{_SOURCE_DIGEST}_%s.cache")


with open(__file__, "rb") as _source:
    #: This plugin's own source: the documents' Jinja settings (render_documents) are part of it.
    _SOURCE_DIGEST = hashlib.sha256(_source.read()).hexdigest()[:12]


def render_documents(template_dir: str, lang: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """HTML of the charter and runbook (autoescaped) and the banner text, for one facility."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        # Only this environment uses that folder: Jinja keys its code on the template's name and source.
        bytecode_cache=template_bytecode_cache(),
        loader=FileSystemLoader(template_dir),
        # HTML templates are autoescaped; the banner (.txt.j2) is plain text, cleaned by banner_safe.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["banner_safe"] = banner_safe
    ctx = {"sep": "/", **context, "lang": lang}
    banner = env.get_template(f"banner.{lang}.txt.j2")
    return {
        "charter_html": env.get_template(f"charter.{lang}.html.j2").render(ctx),
        "runbook_html": env.get_template(f"runbook.{lang}.html.j2").render(ctx),
        "banner": banner_safe(banner.render(ctx)),
        # The same reminder on the GNOME login screen: one dconf string value (newlines escaped).
        "banner_gdm": gvariant_string(banner_safe(banner.render(ctx)).rstrip("\n")),
        # Windows paths keep their backslashes: no agetty there, only the facility's strings are cleaned.
        "banner_windows": banner.render({**ctx, "dir": context.get("windows_dir", ctx.get("dir")), "sep": "\\"}),
    }


def html_to_pdf(html: str) -> bytes:
    """PDF of an HTML document (WeasyPrint; the same HTML gives the same bytes)."""
    import weasyprint

    return weasyprint.HTML(string=html).write_pdf()


def _store(folder: str, name: str, data: bytes) -> str:
    """Write ``data`` once under its digest; concurrent writers of the same bytes are harmless."""
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(folder, digest[:2], digest, name)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return path


RESTORE_TEST_RECORD = "/var/lib/restic/restore-test.json"


def document_context(values: Mapping[str, Any], backups: list) -> dict[str, Any]:
    """What the charter, runbook and banner templates are rendered from (validated facility data)."""
    return {
        "facility": values["organisation_facility"],
        "charter_version": str(values.get("organisation_charter_version")),
        "charter_date": str(values.get("organisation_charter_date") or ""),
        "dir": values.get("organisation_dir"),
        "windows_dir": values.get("organisation_windows_dir"),
        "backups": backups,
        "restore_test_record": RESTORE_TEST_RECORD,
    }


def pdf_cache_dir() -> str | None:
    """Where PDFs are kept between runs, by the digest of their HTML (None: no cache).

    ``SOCLE_PDF_CACHE`` (``off`` turns it off), else ``$XDG_CACHE_HOME/socle/pdf`` (``~/.cache/socle/pdf``).
    Rendering a PDF takes about a second; the documents change only with the facility's data.
    """
    setting = os.environ.get("SOCLE_PDF_CACHE", "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return setting or os.path.join(base, "socle", "pdf")


def _cached_pdf(cache: str | None, html: bytes, render) -> bytes:
    """The PDF of ``html`` from the cache, or rendered (and kept there when the cache can be written)."""
    if cache is None:
        return render()
    path = os.path.join(cache, hashlib.sha256(html).hexdigest() + ".pdf")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        if data.startswith(b"%PDF-"):
            os.utime(path)
            return data
    except OSError:
        pass
    data = render()
    try:
        os.makedirs(cache, mode=0o700, exist_ok=True)
        _store_at(path, data)
    except OSError:
        pass  # a cache that cannot be written only costs the next run a rendering
    return data


def write_documents(folder: str, docs: Mapping[str, Any], pdf_cache: str | None = None) -> dict[str, str]:
    """Store the HTML, their PDFs (rendered once per HTML) and the banner; return their paths."""
    paths: dict[str, str] = {}
    for kind in ("charter", "runbook"):
        html = docs[f"{kind}_html"].encode("utf-8")
        paths[f"{kind}_html"] = html_path = _store(folder, f"{kind}.html", html)
        pdf_path = os.path.join(os.path.dirname(html_path), f"{kind}.pdf")
        if not os.path.exists(pdf_path):
            # Forks render the same facility's documents at once: one renders, the others wait for it.
            with open(pdf_path + ".lock", "w", encoding="utf-8") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not os.path.exists(pdf_path):
                    text = docs[f"{kind}_html"]
                    _store_at(pdf_path, _cached_pdf(pdf_cache, html, lambda text=text: html_to_pdf(text)))
        paths[f"{kind}_pdf"] = pdf_path
    paths["banner"] = _store(folder, "banner.txt", docs["banner"].encode("utf-8"))
    return paths


def _store_at(path: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def backup_context(
    task_vars: Mapping[str, Any], facility: str | None, defaults: Mapping[str, Any], template
) -> list[dict[str, Any]]:
    """What the runbook says of backups: the facility's backed-up hosts and their settings.

    Read from the backup role's variables (defaults merged with each host's own); every inventory
    host of the same facility, not only the play's, so a --limit run renders the same runbook.
    """
    hostvars = task_vars.get("hostvars") or {}
    hosts = (task_vars.get("groups") or {}).get("all") or []
    out = []
    keys = (
        "backup_enabled",
        "backup_paths",
        "backup_local_repository",
        "backup_on_calendar",
        "backup_offsite_enabled",
        "backup_offsite_ssh_host",
        "backup_offsite_on_calendar",
        "backup_keep_daily",
        "backup_keep_weekly",
        "backup_keep_monthly",
    )
    for name in sorted(hosts):
        hv = hostvars.get(name) or {}
        if hv.get("socle_facility") != facility:
            continue
        settings = {k: template(hv[k]) if k in hv else defaults.get(k) for k in keys}
        if settings["backup_enabled"]:
            out.append({"host": name, **settings})
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    VARIABLES = (
        "organisation_enabled", "organisation_lang", "organisation_facility", "organisation_charter_version",
        "organisation_charter_date", "organisation_charter_acknowledgements", "organisation_staff",
        "organisation_awareness_sessions", "organisation_awareness_max_age_d",
        "organisation_new_staff_briefing_max_d", "organisation_acknowledgement_min_pct",
        "organisation_runbook_reviewed", "organisation_runbook_reviewer", "organisation_runbook_review_max_age_d",
        "organisation_restore_test_max_age_d", "organisation_dir", "organisation_windows_dir",
        "organisation_charter_reviewed", "organisation_charter_annexed", "organisation_charter_review_max_age_d",
        "organisation_referent_review_max_age_d", "organisation_degraded_drills",
        "organisation_degraded_drill_max_age_d",
    )  # fmt: skip

    def _values(self, task_vars: Mapping[str, Any]) -> dict[str, Any]:
        defaults = self._role_defaults("organisation")
        values = dict(defaults)
        for name in self.VARIABLES:
            if name in task_vars:
                values[name] = self._templar.template(task_vars[name])
        return values

    def _role_dir(self, role: str) -> str:
        basedir = self._loader.get_basedir()
        for path in [
            *(os.path.join(p, role) for p in C.DEFAULT_ROLES_PATH),
            os.path.join(basedir, "..", "roles", role),
            os.path.join(basedir, "roles", role),
        ]:
            if os.path.isdir(path):
                return os.path.normpath(path)
        return os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "roles", role))

    def _role_defaults(self, role: str) -> dict[str, Any]:
        import yaml

        path = os.path.join(self._role_dir(role), "defaults", "main.yml")
        if not os.path.exists(path):
            return {}
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        result["changed"] = False
        step = self._task.args.get("step")
        values = self._values(task_vars)
        if step == "validate":
            errors = validate(values)
            if errors:
                result["failed"] = True
                result["errors"] = errors
                result["msg"] = "Invalid facility data, nothing was changed: " + "; ".join(errors)
            else:
                result["msg"] = "facility data valid" if values.get("organisation_enabled") else "organisation disabled"
            return result
        today = self._task.args.get("today")
        today = parse_date(today) if today else dt.datetime.now(dt.UTC).date()
        if step == "evidence":
            controls = self._task.args.get("controls")
            records = self._task.args.get("restore_records")
            try:
                if controls is not None:
                    if not isinstance(controls, list) or not controls:
                        raise ValueError(f"socle_organisation: controls must be a list of IDs, got {controls!r}")
                    findings = {cid: assess(cid, values, today, records) for cid in controls}
                else:
                    finding = assess(self._task.args.get("control"), values, today, records)
            except ValueError as exc:
                result["failed"] = True
                result["msg"] = str(exc)
                return result
            if controls is not None:
                result["socle_findings"] = findings
                result["msg"] = "; ".join(f"{cid}: {f['status']}" for cid, f in findings.items())
            else:
                result["socle_finding"] = finding
                result["msg"] = f"{finding['status']}: {finding['actual']}"
            return result
        if step == "render":
            errors = validate(values)
            if errors:
                result["failed"] = True
                result["msg"] = "; ".join(errors)
                return result
            lang = values.get("organisation_lang") or "fr"
            context = document_context(values, backup_context(
                task_vars, task_vars.get("socle_facility"), self._role_defaults("backup"), self._templar.template))
            try:
                docs = render_documents(os.path.join(self._role_dir("organisation"), "templates"), lang, context)
                folder = os.path.join(C.DEFAULT_LOCAL_TMP, "socle-organisation")
                result["files"] = write_documents(folder, docs, pdf_cache_dir())
            except Exception as exc:  # noqa: BLE001 - any template or PDF error names the step
                result["failed"] = True
                result["msg"] = f"could not render the facility's documents: {type(exc).__name__}: {exc}"
                return result
            result["banner"] = docs["banner"]
            result["banner_windows"] = docs["banner_windows"]
            result["banner_gdm"] = docs["banner_gdm"]
            result["msg"] = f"documents rendered ({lang})"
            return result
        result["failed"] = True
        result["msg"] = f"step must be validate, render or evidence, got {step!r}"
        return result
