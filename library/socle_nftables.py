#!/usr/bin/python
"""Own one nftables table (inet socle): default-deny inbound, management path kept, drops logged."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_nftables
short_description: Own Socle's baseline nftables table, with lockout protection and automatic rollback
description:
  - Renders one table (C(table inet socle) by default) deterministically, in the very form
    C(nft list table) prints it - inbound policy drop; established/related flows and loopback accepted;
    SSH accepted from the admin networks before any drop; the declared services; a rate-limited log
    rule before the final drop. Every rule carries a C(socle:<part>) comment so that a drift is
    attributed to its part (C(baseline), C(mgmt) or C(logging)).
  - Other tables are never touched; the transaction is C(table inet socle; delete table inet socle;
    table inet socle { ... }) loaded with one C(nft -f), validated first with C(nft -c -f).
  - Persists the table in C(/etc/nftables.d/socle.nft), loaded at boot by its own unit
    C(socle-nftables.service) (after C(nftables.service), so a distribution C(flush ruleset) cannot
    remove it).
  - Before touching anything, refuses when ufw or firewalld is active (never two firewalls) and when
    the new ruleset would not accept the SSH connection Ansible is using (read from C(SSH_CONNECTION)
    of the module's process or of its ancestors, since sudo drops it).
  - Before changing the kernel ruleset, arms a systemd timer that restores the previous table and
    file. A later task (C(state=confirm)), run over a new connection, disarms it; if the new ruleset
    cut Ansible off, the timer brings the previous ruleset back by itself.
  - With C(state=confirm), reports the change of one part (C(mgmt) or C(logging)) from the result of
    the C(state=present) call given in C(report), so that each control is reported by its own task.
  - Check mode changes nothing and works on a host without nftables (the whole table is then reported
    as the change).
options:
  state:
    description: C(present) applies the table; C(confirm) disarms the rollback and reports one part.
    type: str
    choices: [present, confirm]
    default: present
  table:
    description: Name of the table Socle owns (family inet).
    type: str
    default: socle
  admin_networks:
    description: CIDRs (IPv4 or IPv6) from which SSH is accepted.
    type: list
    elements: str
    default: []
  ssh_port:
    description: The port sshd listens on.
    type: int
    default: 22
  allowed_services:
    description: Services accepted inbound.
    type: list
    elements: dict
    default: []
    suboptions:
      port: {description: Port number., type: int, required: true}
      proto: {description: Protocol., type: str, choices: [tcp, udp], default: tcp}
      sources: {description: CIDRs allowed (all when empty)., type: list, elements: str, default: []}
      comment:
        description: Short name of the service (letters, digits, space, dot, dash, underscore).
        type: str
        default: ''
  allow_ping:
    description: Accept ICMP and ICMPv6 echo requests (IPv6 neighbour discovery is always accepted).
    type: bool
    default: true
  log_drops:
    description: Log the packets about to be dropped, rate-limited.
    type: bool
    default: true
  log_rate_per_minute:
    description: Log lines per minute at most.
    type: int
    default: 5
  log_burst:
    description: Burst of log lines allowed above the rate.
    type: int
    default: 10
  log_prefix:
    description: Prefix of the kernel log lines.
    type: str
    default: "socle-drop: "
  path:
    description: The persisted ruleset file.
    type: path
    default: /etc/nftables.d/socle.nft
  unit:
    description: The systemd unit that loads the file at boot.
    type: str
    default: socle-nftables.service
  lockout_guard:
    description: Refuse a ruleset that would not accept Ansible's own SSH connection (turn off in tests only).
    type: bool
    default: true
  ssh_connection:
    description:
      - C(SSH_CONNECTION) of Ansible's session (C(client cport server sport)), read without become by the role.
      - When empty, read from the module's environment or its ancestors' (root without CAP_SYS_PTRACE, as
        in a container, cannot read them).
    type: str
    default: ''
  rollback_timeout_s:
    description: Seconds after which the previous ruleset comes back unless confirmed.
    type: int
    default: 60
  part:
    description: With C(state=confirm), the part whose change this task reports.
    type: str
    choices: [mgmt, logging]
    default: mgmt
  report:
    description: With C(state=confirm), the registered result of the C(state=present) call.
    type: dict
    default: {}
  proc_root:
    description: Root of the process file system (tests only).
    type: path
    default: /proc
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author: Socle
"""

EXAMPLES = r"""
- name: Load the baseline table
  socle_nftables:
    admin_networks: [192.168.10.0/24]
    allowed_services: [{port: 443, proto: tcp, comment: https}]
  register: fw

- name: Disarm the rollback over a new connection, report the management part
  socle_nftables:
    state: confirm
    part: mgmt
    report: "{{ fw }}"
"""

RETURN = r"""
socle_parts:
  description: Which part changed (or would change); baseline (skeleton, services, file, unit), mgmt, logging.
  returned: always
  type: dict
part_diffs:
  description: Before/after rule lines of the mgmt and logging parts.
  returned: state=present
  type: dict
rollback:
  description: C(armed), C(unit), C(seconds) of the rollback timer armed by this run.
  returned: state=present
  type: dict
ruleset:
  description: The table as rendered.
  returned: state=present
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.socle_files import atomic_write
from ansible.module_utils.socle_measure import MeasureError
from ansible.module_utils.socle_nftables_host import (
    ARGUMENT_SPEC,
    ROLLBACK_SCRIPT,
    ROLLBACK_UNIT,
    RUN_DIR,
    check,
    confirm,
    live_table,
    normalise,
    run,
    unit_active,
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["state"] == "confirm":
        confirm(module)
    try:
        result, state = check(module, params)
    except MeasureError as exc:
        module.fail_json(msg=str(exc), **exc.fields)
    nft, table, path, live = state["nft"], state["table"], state["path"], state["live"]
    file_before, file_wanted, wanted = state["file_before"], state["file_wanted"], state["wanted"]
    unit_path, unit_before, unit_wanted = state["unit_path"], state["unit_before"], state["unit_wanted"]
    enabled, kernel_changed = state["enabled"], state["kernel_changed"]
    if not result["changed"] or module.check_mode:
        module.exit_json(**result)
    if nft is None:
        module.fail_json(msg="nft is not installed (install the nftables package first)", **result)

    # 5. Arm the rollback, apply in one transaction, persist.
    if kernel_changed:
        if unit_active(module, f"{ROLLBACK_UNIT}.timer"):
            module.fail_json(msg=f"a rollback from an earlier run is pending ({ROLLBACK_UNIT}.timer): wait for it "
                                 "or stop it, then run again", **result)
        os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
        for name in ("rolled-back", "previous.nft"):
            if os.path.exists(os.path.join(RUN_DIR, name)):
                os.unlink(os.path.join(RUN_DIR, name))
        with open(os.path.join(RUN_DIR, "rollback.nft"), "w", encoding="utf-8") as handle:
            handle.write(f"table inet {table}\ndelete table inet {table}\n" + (live or ""))
        if file_before is not None:
            with open(os.path.join(RUN_DIR, "previous.nft"), "w", encoding="utf-8") as handle:
                handle.write(file_before)
            file_step = f"cp {RUN_DIR}/previous.nft {path}"
        else:
            file_step = f"rm -f {path}"
        with open(os.path.join(RUN_DIR, "rollback.sh"), "w", encoding="utf-8") as handle:
            handle.write(ROLLBACK_SCRIPT.format(nft=nft, run=RUN_DIR, file_step=file_step, table=table))
        module.run_command(["systemctl", "reset-failed", f"{ROLLBACK_UNIT}.service"])
        run(module, ["systemd-run", f"--unit={ROLLBACK_UNIT}", f"--on-active={params['rollback_timeout_s']}s",
                     "--timer-property=AccuracySec=1s", "/bin/sh", os.path.join(RUN_DIR, "rollback.sh")])
        result["rollback"]["armed"] = True
    if file_before != file_wanted:
        atomic_write(module, path, file_wanted, mode=0o644)
    if kernel_changed:
        rc, out, err = module.run_command([nft, "-f", path])
        if rc != 0:
            module.run_command(["/bin/sh", os.path.join(RUN_DIR, "rollback.sh")])
            module.run_command(["systemctl", "stop", f"{ROLLBACK_UNIT}.timer"])
            module.fail_json(msg=f"nft -f {path} failed, previous table and file restored: {(err or out).strip()}",
                             **result)
        now = normalise(live_table(module, nft, table))
        if now != normalise(wanted):
            module.fail_json(msg="the loaded table differs from the rendered one (the rollback timer restores the "
                                 "previous state)", loaded=now, **result)
    if unit_before != unit_wanted:
        atomic_write(module, unit_path, unit_wanted, mode=0o644)
        run(module, ["systemctl", "daemon-reload"])
    if not enabled:
        run(module, ["systemctl", "enable", params["unit"]])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
