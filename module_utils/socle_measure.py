"""Read-only measurements that ``socle_facts`` may run ahead of their task, in its own round trip.

``socle_accounts_audit``, ``socle_clamav_facts`` and ``socle_updates_facts`` only read the host, and so does
``socle_nftables`` (state=present) in check mode. In a scheduled
audit the controller already knows, from the previous audit, which of them the play will call and with which
arguments (kept next to the reused check results, see ``socle_reuse``). ``socle_facts`` then runs each of
them here, with the same ``measure`` function and the same argument validation the module itself uses,
and returns the results; when the task comes, its action returns the result measured a few seconds
earlier in the same play instead of a round trip of its own. Check mode only: in check mode nothing the
play does in between changes the host. A request that does not validate, or whose measurement fails, is
left out: the task then runs the module, which reports the error itself.
"""

from __future__ import annotations


class MeasureError(Exception):
    """A measurement that cannot be made; the module turns it into fail_json (with ``fields`` in the result)."""

    def __init__(self, msg: str, **fields) -> None:
        super().__init__(msg)
        self.fields = fields


def implementation(name):
    """(ARGUMENT_SPEC, measure) of a prefetchable module, or None."""
    if name == "socle_accounts_audit":
        from ansible.module_utils.socle_accounts_host import ARGUMENT_SPEC, measure
    elif name == "socle_clamav_facts":
        from ansible.module_utils.socle_clamav import ARGUMENT_SPEC, measure
    elif name == "socle_updates_facts":
        from ansible.module_utils.socle_updates_host import ARGUMENT_SPEC, measure
    elif name == "socle_nftables":
        from ansible.module_utils.socle_nftables_host import ARGUMENT_SPEC, measure
    else:
        return None
    return ARGUMENT_SPEC, measure


def prefetch(module, requests, skipped: dict | None = None) -> dict:
    """``{name: {key, params, result}}`` for each request (``name``, ``args``, ``key``) measured without error.

    ``module`` (socle_facts' AnsibleModule) runs the commands; ``key`` is the controller's and comes back
    as it was given. ``skipped``, when given, receives the reason each other request was left out.
    """
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    skipped = {} if skipped is None else skipped
    found = {}
    for index, request in enumerate(requests or []):
        if not isinstance(request, dict) or not isinstance(request.get("args"), dict):
            skipped[str(index)] = "not a request with args"
            continue
        name, key = request.get("name"), request.get("key")
        try:
            spec_and_measure = implementation(name)
        except ImportError as exc:  # a Python the measurement does not support: the task runs the module
            skipped[str(name)] = f"cannot import the measurement: {exc}"
            continue
        if spec_and_measure is None or not isinstance(key, str):
            skipped[str(name)] = "not a measurement made ahead, or no key"
            continue
        spec, measure = spec_and_measure
        validated = ArgumentSpecValidator(spec).validate(request["args"])
        if validated.error_messages:
            skipped[name] = "; ".join(validated.error_messages)
            continue
        params = validated.validated_parameters
        try:
            result = measure(module, params)
        except Exception as exc:  # noqa: BLE001 - the task runs the module, which reports the failure
            skipped[name] = f"{type(exc).__name__}: {exc}"
            continue
        found[name] = {"key": key, "params": params, "result": result}
    return found
