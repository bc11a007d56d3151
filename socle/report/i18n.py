"""User-interface strings of the reports (French by default, English) and catalogue look-ups.

``t(key, lang)`` returns a UI string; the ``catalogue_*`` helpers read the control catalogue
(see ``socle.catalogue``) defensively, so a report never fails on an ID the catalogue lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "STRINGS",
    "check_lang",
    "control_field",
    "control_references",
    "control_title",
    "localized",
    "measure_title",
    "status_label",
    "t",
]

DEFAULT_LANG = "fr"
LANGS: tuple[str, ...] = ("fr", "en")

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "report_title_audit": "Rapport d'audit de sécurité",
        "report_title_apply": "Rapport d'application du socle de sécurité",
        "baseline": "Socle de sécurité des établissements sociaux et médico-sociaux",
        "mode": "Mode",
        "mode_audit": "Audit (simulation, aucune modification effectuée)",
        "mode_apply": "Application (modifications effectuées sur les postes)",
        "run_id": "Identifiant d'exécution",
        "started": "Début",
        "finished": "Fin",
        "not_finished": "non terminée",
        "duration": "Durée",
        "ansible_version": "Version d'Ansible",
        "socle_version": "Version de Socle",
        "playbooks": "Playbooks",
        "run_errors": "Erreurs d'exécution",
        "verdict": "Résultat",
        "verdict_ok": "Tous les contrôles évalués sont conformes ou non applicables.",
        "verdict_ok_waived": "Aucun écart à traiter : les contrôles évalués sont conformes, non applicables ou "
        "couverts par une dérogation en cours ({n} résultat(s), voir « Dérogations »).",
        "verdict_drift": "Des écarts au socle ont été détectés.",
        "verdict_error": "Des erreurs ou des hôtes injoignables empêchent un résultat complet.",
        "verdict_unfinished": "L'exécution ne s'est pas terminée : le résultat est incomplet.",
        "summary": "Synthèse",
        "hosts": "Hôtes",
        "host": "Hôte",
        "hosts_evaluated": "hôtes évalués",
        "results": "résultats de contrôle",
        "controls_evaluated": "contrôles distincts",
        "facility": "Établissement",
        "platform": "Plateforme",
        "host_status": "État de l'hôte",
        "host_ok": "joignable",
        "by_measure": "Résultats par mesure",
        "measure": "Mesure",
        "measure_n": "Mesure {n}",
        "chart_title": "Répartition des résultats par mesure",
        "no_control": "Aucun contrôle de cette mesure n'a été évalué lors de cette exécution.",
        "control": "Contrôle",
        "title": "Intitulé",
        "results_col": "Résultats",
        "findings_col": "Constats",
        "matrix": "Matrice hôtes × contrôles",
        "matrix_hint": "Chaque case donne le résultat d'un contrôle (colonne) sur un hôte (ligne), "
        "selon la légende ; « · » signifie que le contrôle n'a pas été évalué sur cet hôte.",
        "matrix_measures": "Matrice hôtes × mesures",
        "matrix_summary_hint": "Cette exécution porte sur {hosts} hôtes : au-delà de {max} hôtes, la "
        "matrice hôtes × contrôles ({cells} cases) ne se lirait plus. Chaque case résume donc une mesure "
        "(colonne) pour un hôte (ligne) : le symbole du résultat le plus grave et, s'il y en a, le nombre "
        "de contrôles de la mesure en écart, en erreur ou injoignables. Le résultat de chaque contrôle est "
        "compté dans « Résultats par mesure » et chaque hôte concerné est nommé dans « Écarts et erreurs ».",
        "legend": "Légende",
        "host_one": "1 hôte",
        "hosts_n": "{n} hôtes",
        "more_hosts": "et {n} autres hôtes",
        "findings_grouped_one": "{results} résultats identiques regroupés en un seul constat.",
        "findings_grouped": "{results} résultats regroupés en {groups} constats. Un constat réunit les "
        "hôtes sur lesquels le contrôle a donné exactement le même résultat (valeurs, modification, "
        "message, tâches) ; dès qu'un détail diffère, l'hôte fait l'objet d'un constat distinct.",
        "na_grouped": "{results} résultats regroupés par contrôle et par raison.",
        "top_hosts": "Hôtes les plus concernés ({n} sur {total})",
        "top_hosts_hint": "Hôtes ayant le plus d'écarts, d'erreurs et de contrôles injoignables. Tous "
        "les hôtes figurent dans la matrice hôtes × mesures.",
        "not_evaluated": "non évalué",
        "findings": "Écarts et erreurs",
        "findings_hint": "Chaque écart indique la valeur attendue par le socle, la valeur constatée et "
        "la modification que le mode application apporterait.",
        "findings_hint_apply": "Contrôles restés non conformes ou en erreur après application.",
        "no_findings": "Aucun écart ni erreur.",
        "changes": "Modifications effectuées",
        "changes_hint": "Contrôles remis en conformité lors de cette exécution.",
        "unreachable_hosts": "Hôtes injoignables ou en erreur",
        "rationale": "Pourquoi ce contrôle",
        "check": "Vérification",
        "references": "Références",
        "expected": "Attendu",
        "actual": "Constaté",
        "diff": "Modification prévue",
        "diff_apply": "Modification effectuée",
        "message": "Message",
        "tasks": "Tâches Ansible",
        "task_ok": "ok",
        "task_changed": "modifiée",
        "task_skipped": "ignorée",
        "task_failed": "échec",
        "task_unreachable": "injoignable",
        "would_change": "serait modifié",
        "was_changed": "modifié",
        "unknown_control": "Contrôle absent du catalogue",
        "none": "—",
        "generated_by": "Rapport généré par Socle {version}",
        "status_compliant": "conforme",
        "status_drift": "écart",
        "status_waived": "dérogation",
        "status_attested": "attesté",
        "status_attestation_due": "attestation échue",
        "status_not_applicable": "non applicable",
        "status_error": "erreur",
        "status_unreachable": "injoignable",
        "colon": "\u00a0: ",
        "not_applicable_title": "Contrôles non applicables",
        "not_applicable_hint": "Contrôles sans objet sur ces hôtes, avec la raison relevée lors de l'exécution.",
        "reason": "Raison",
        "score": "Score",
        "score_hint": "Score d'une mesure : part de ses résultats applicables qui sont conformes (ou attestés), "
        "arrondie à l'entier inférieur ; les écarts, dérogations, erreurs et contrôles injoignables comptent comme "
        "non conformes, les contrôles non applicables ne comptent pas. Score global : moyenne des scores des "
        "mesures évaluées, chaque mesure pesant autant (voir docs/scores.md).",
        "waivers": "Dérogations",
        "waivers_hint": "Contrôles couverts par une dérogation déclarée dans l'inventaire : ils restent mesurés et "
        "affichés. Une dérogation expirée ne couvre plus rien : le contrôle redevient un écart.",
        "waiver_label": "Dérogation",
        "waiver_expired_label": "Dérogation expirée",
        "waiver_expired": "expirée",
        "accepted_by": "Acceptée par",
        "expires": "Échéance",
        "status": "État",
        "since_previous": "Changements depuis l'exécution précédente",
        "since_previous_hint": "Comparaison avec l'exécution {id} ({mode}, {started}), la plus récente de "
        "l'historique portant sur ces hôtes.",
        "change": "Changement",
        "before": "Avant",
        "now": "Maintenant",
        "change_regressed": "régressions",
        "change_new": "nouveaux problèmes",
        "change_fixed": "corrigés",
        "change_gone": "plus évalués",
        "change_other": "autres changements",
        "change_failing": "toujours à traiter",
        "more_changes": "et {n} autres changements, dans « socle diff ».",
        "no_changes": "Aucun changement d'état depuis l'exécution précédente.",
        "row_regressed": "régression",
        "row_new": "nouveau problème",
        "row_fixed": "corrigé",
        "row_gone": "plus évalué",
        "row_other": "autre changement",
        "short_audit": "audit",
        "short_apply": "application",
        "score_chart_title": "Score par mesure",
        "score_chart_hint": "Score de chaque mesure, de 0 à 100 ; « — » : aucun résultat applicable.",
        "back_to_overview": "← Vue d'ensemble de tous les établissements",
        "overview_title": "Vue d'ensemble des établissements",
        "overview_hint": "Une ligne par établissement, calculée sur ses seuls hôtes. Le rapport de chaque "
        "établissement ne contient que ses hôtes.",
        "overview_facilities": "{n} établissements · {hosts} hôtes",
        "facility_scores_title": "Score global par établissement",
        "no_facility": "(sans établissement)",
        "facility_report": "rapport",
        "hosts_col": "Hôtes",
        "drift_col": "Écarts",
        "waived_col": "Dérogations",
        "errors_col": "Erreurs",
        "trend_col": "Depuis la précédente",
        "overview_scores_run": "Score par mesure, toute l'exécution",
        "hosts_not_ok": "{n} injoignables ou en erreur",
        "no_previous": "pas d'exécution précédente",
        "overview_trend": "{before} → {after}",
        "overview_changes": "{worse} régressions ou nouveaux problèmes, {fixed} corrigés",
        "whole_run_report": "Rapport de toute l'exécution",
    },
    "en": {
        "report_title_audit": "Security audit report",
        "report_title_apply": "Security baseline enforcement report",
        "baseline": "Security baseline for social and medico-social facilities",
        "mode": "Mode",
        "mode_audit": "Audit (dry run, nothing was changed)",
        "mode_apply": "Apply (changes were made on the hosts)",
        "run_id": "Run ID",
        "started": "Started",
        "finished": "Finished",
        "not_finished": "did not finish",
        "duration": "Duration",
        "ansible_version": "Ansible version",
        "socle_version": "Socle version",
        "playbooks": "Playbooks",
        "run_errors": "Run errors",
        "verdict": "Result",
        "verdict_ok": "Every control evaluated is compliant or not applicable.",
        "verdict_ok_waived": "No drift to fix: the controls evaluated are compliant, not applicable or covered "
        "by a waiver in force ({n} result(s), see “Waivers”).",
        "verdict_drift": "Drift from the baseline was found.",
        "verdict_error": "Errors or unreachable hosts prevent a complete result.",
        "verdict_unfinished": "The run did not finish: the result is incomplete.",
        "summary": "Summary",
        "hosts": "Hosts",
        "host": "Host",
        "hosts_evaluated": "hosts evaluated",
        "results": "control results",
        "controls_evaluated": "distinct controls",
        "facility": "Facility",
        "platform": "Platform",
        "host_status": "Host status",
        "host_ok": "reachable",
        "by_measure": "Results by measure",
        "measure": "Measure",
        "measure_n": "Measure {n}",
        "chart_title": "Results by measure",
        "no_control": "No control of this measure was evaluated in this run.",
        "control": "Control",
        "title": "Title",
        "results_col": "Results",
        "findings_col": "Findings",
        "matrix": "Host × control matrix",
        "matrix_hint": "Each cell gives the result of one control (column) on one host (row), as in "
        "the legend; “·” means the control was not evaluated on that host.",
        "matrix_measures": "Host × measure matrix",
        "matrix_summary_hint": "This run covers {hosts} hosts: beyond {max} hosts, the host × control "
        "matrix ({cells} cells) would no longer be readable. Each cell therefore sums up one measure "
        "(column) for one host (row): the symbol of the worst result and, if any, how many controls of "
        "the measure are in drift, in error or unreachable. Every control's results are counted in "
        "“Results by measure” and every host concerned is named in “Drift and errors”.",
        "legend": "Legend",
        "host_one": "1 host",
        "hosts_n": "{n} hosts",
        "more_hosts": "and {n} more hosts",
        "findings_grouped_one": "{results} identical results grouped into one finding.",
        "findings_grouped": "{results} results grouped into {groups} findings. A finding brings "
        "together the hosts on which the control gave exactly the same result (values, change, message, "
        "tasks); as soon as one detail differs, the host gets a finding of its own.",
        "na_grouped": "{results} results grouped by control and reason.",
        "top_hosts": "Hosts most concerned ({n} of {total})",
        "top_hosts_hint": "Hosts with the most drift, errors and unreachable controls. Every host is "
        "in the host × measure matrix.",
        "not_evaluated": "not evaluated",
        "findings": "Drift and errors",
        "findings_hint": "Each drift shows the value the baseline expects, the value found and the "
        "change apply mode would make.",
        "findings_hint_apply": "Controls still not compliant, or in error, after apply.",
        "no_findings": "No drift and no error.",
        "changes": "Changes made",
        "changes_hint": "Controls brought back into compliance by this run.",
        "unreachable_hosts": "Unreachable hosts and hosts in error",
        "rationale": "Why this control",
        "check": "Check",
        "references": "References",
        "expected": "Expected",
        "actual": "Found",
        "diff": "Planned change",
        "diff_apply": "Change made",
        "message": "Message",
        "tasks": "Ansible tasks",
        "task_ok": "ok",
        "task_changed": "changed",
        "task_skipped": "skipped",
        "task_failed": "failed",
        "task_unreachable": "unreachable",
        "would_change": "would change",
        "was_changed": "changed",
        "unknown_control": "Control not in the catalogue",
        "none": "—",
        "generated_by": "Report generated by Socle {version}",
        "status_compliant": "compliant",
        "status_drift": "drift",
        "status_waived": "waived",
        "status_attested": "attested",
        "status_attestation_due": "attestation due",
        "status_not_applicable": "not applicable",
        "status_error": "error",
        "status_unreachable": "unreachable",
        "colon": ": ",
        "not_applicable_title": "Controls not applicable",
        "not_applicable_hint": "Controls that do not apply to these hosts, with the reason found during the run.",
        "reason": "Reason",
        "score": "Score",
        "score_hint": "A measure's score: the share of its applicable results that are compliant (or attested), "
        "rounded down; drift, waived, error and unreachable count as not compliant, not applicable results do not "
        "count. Overall score: the mean of the scores of the measures assessed, each measure weighing the same "
        "(see docs/scores.md).",
        "waivers": "Waivers",
        "waivers_hint": "Controls covered by a waiver declared in the inventory: they are still measured and "
        "shown. An expired waiver covers nothing: the control is drift again.",
        "waiver_label": "Waiver",
        "waiver_expired_label": "Expired waiver",
        "waiver_expired": "expired",
        "accepted_by": "Accepted by",
        "expires": "Expires",
        "status": "Status",
        "since_previous": "Changes since the previous run",
        "since_previous_hint": "Compared with run {id} ({mode}, {started}), the latest one in the history that "
        "covered these hosts.",
        "change": "Change",
        "before": "Before",
        "now": "Now",
        "change_regressed": "regressed",
        "change_new": "new problems",
        "change_fixed": "fixed",
        "change_gone": "no longer assessed",
        "change_other": "other changes",
        "change_failing": "still to fix",
        "more_changes": "and {n} more changes, in “socle diff”.",
        "no_changes": "No status changed since the previous run.",
        "row_regressed": "regressed",
        "row_new": "new problem",
        "row_fixed": "fixed",
        "row_gone": "no longer assessed",
        "row_other": "other change",
        "short_audit": "audit",
        "short_apply": "apply",
        "score_chart_title": "Score per measure",
        "score_chart_hint": "Each measure's score, 0 to 100; “—”: no applicable result.",
        "back_to_overview": "← Overview of every facility",
        "overview_title": "Facilities overview",
        "overview_hint": "One row per facility, computed over its own hosts only. Each facility's report "
        "contains only its hosts.",
        "overview_facilities": "{n} facilities · {hosts} hosts",
        "facility_scores_title": "Overall score per facility",
        "no_facility": "(no facility)",
        "facility_report": "report",
        "hosts_col": "Hosts",
        "drift_col": "Drift",
        "waived_col": "Waived",
        "errors_col": "Errors",
        "trend_col": "Since the previous run",
        "overview_scores_run": "Score per measure, whole run",
        "hosts_not_ok": "{n} unreachable or in error",
        "no_previous": "no previous run",
        "overview_trend": "{before} → {after}",
        "overview_changes": "{worse} regressed or new, {fixed} fixed",
        "whole_run_report": "Report of the whole run",
    },
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if reports exist in it, else raise ``ValueError``."""
    if lang not in STRINGS:
        raise ValueError(f"unsupported report language {lang!r}: choose one of {', '.join(LANGS)}")
    return lang


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """Return the UI string ``key`` in ``lang``, formatted with ``params`` if any."""
    text = STRINGS[check_lang(lang)][key]
    return text.format(**params) if params else text


def status_label(status: str, lang: str = DEFAULT_LANG) -> str:
    """Translated word for a control status (``drift`` → ``écart``); unknown statuses pass through."""
    return STRINGS[check_lang(lang)].get(f"status_{status}", status)


# -- catalogue look-ups ----------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from an object attribute or a mapping key."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def localized(value: Any, lang: str) -> str | None:
    """Pick ``lang`` from a ``{"fr": ..., "en": ...}`` value, falling back to the other language."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in (lang, DEFAULT_LANG, *LANGS):
            text = value.get(key)
            if text:
                return str(text)
        return None
    return str(value)


def _entry(catalogue: Any, control_id: str) -> Any:
    controls = _get(catalogue, "controls") if catalogue is not None else None
    if not isinstance(controls, Mapping):
        return None
    return controls.get(control_id)


def control_field(catalogue: Any, control_id: str, name: str, lang: str) -> str | None:
    """A localized text field (``title``, ``rationale``, ``check``) of a control, or ``None``."""
    entry = _entry(catalogue, control_id)
    return localized(_get(entry, name), lang) if entry is not None else None


def control_title(catalogue: Any, control_id: str, lang: str) -> str | None:
    """Title of a control in ``lang``, or ``None`` if the catalogue does not know the ID."""
    if _entry(catalogue, control_id) is None:
        return None
    title = getattr(catalogue, "title", None)
    if callable(title):
        try:
            text = title(control_id, lang)
        except (KeyError, LookupError, ValueError):
            text = None
        if text:
            return str(text)
    return control_field(catalogue, control_id, "title", lang)


def control_references(catalogue: Any, control_id: str) -> list[tuple[str, list[str]]]:
    """References of a control as ``[("ANSSI", [...]), ("PGSSI-S", [...]), ("CIS", [...])]``."""
    entry = _entry(catalogue, control_id)
    refs = _get(entry, "references") if entry is not None else None
    if not isinstance(refs, Mapping):
        return []
    labels = {"anssi": "ANSSI", "pgssi_s": "PGSSI-S", "cis": "CIS"}
    out = []
    for key, items in refs.items():
        if items:
            out.append((labels.get(key, str(key)), [str(item) for item in items]))
    return out


def measure_title(catalogue: Any, measure: int, lang: str) -> str | None:
    """Title of measure ``measure`` in ``lang``, or ``None`` if the catalogue lacks it."""
    measures = _get(catalogue, "measures") if catalogue is not None else None
    if not isinstance(measures, Mapping):
        return None
    value = measures.get(measure, measures.get(str(measure)))
    if isinstance(value, Mapping) and "title" in value and not {"fr", "en"} & set(value):
        value = value["title"]
    return localized(value, lang)
