#!/usr/bin/python
"""Documentation of the Windows module socle_win_probe (the code is socle_win_probe.ps1)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: socle_win_probe
short_description: Read, without changing anything, the raw Windows state Socle's findings need
description:
  - Returns raw values only, in locale-independent forms (SIDs, GUIDs, numeric codes, ISO 8601 UTC
    dates); the decisions (ages, compliance, whether a domain GPO owns a setting, whether a change
    would cut Ansible off) are made on the controller by Socle's filters (module_utils/socle_windows.py).
  - Never changes the host; runs unchanged in check mode. C(secedit) writes its export to a
    temporary file that is removed at once.
  - Not tested against a live Windows host yet; the decisions are unit-tested on recorded outputs.
options:
  sections:
    description:
      - What to read. C(identity) SIDs of the connecting account and its groups.
      - C(system) edition (EditionID), build (CurrentBuild, UBR, DisplayVersion), domain membership,
        product type, pending-reboot flag.
      - C(defender) MSFT_MpComputerStatus, and PUAProtection from MSFT_MpPreference.
      - C(av_products) SecurityCenter2 AntivirusProduct. C(firewall) Get-NetFirewallProfile in the
        active store. C(firewall_rules) the enabled inbound rules of the active store with their
        port and address filters. C(rsop) RSOP_RegistryPolicySetting.
      - C(profiles) Win32_UserProfile (SID, LocalPath, Loaded, Special) and the Default profile folder.
      - C(secedit) a base64 secedit export (SECURITYPOLICY, USER_RIGHTS). C(users) Get-LocalUser
        (with LastLogon and PasswordLastSet as ISO 8601 UTC).
      - C(admins) members of the Administrators group, by its SID S-1-5-32-544 (name, SID).
      - C(audit_policy) a base64 C(auditpol /backup) file (subcategory GUIDs, numeric settings).
      - C(laps) the values of the four Windows LAPS policy roots, and whether the device is Entra ID-joined.
      - C(wu_history) Windows Update Agent history; C(wu_pending) updates not installed (search only).
    type: list
    elements: str
    required: true
    choices: [identity, system, defender, av_products, firewall, rsop, secedit, users, wu_history, wu_pending,
              profiles, firewall_rules, admins, audit_policy, laps]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: windows
author: Socle
"""

EXAMPLES = r"""
- name: Read the Defender and firewall state
  socle_win_probe:
    sections: [defender, av_products, firewall]
  register: __probe
"""

RETURN = r"""
probe:
  description: One key per requested section, raw values as read (C(secedit_b64) for C(secedit)).
  returned: always
  type: dict
ansible_facts:
  description: With the C(system) section, C(socle) with os_family C(Windows), platform, part_of_domain
    and product_type (1 workstation, 2 domain controller, 3 server), as socle_facts gives on Linux.
  returned: when C(system) is requested
  type: dict
"""
