#!/bin/sh
# Prints a fingerprint of what a dry-run must never change: every path under /etc with its type,
# mode, owner, size, link target and content checksum; the installed packages; the enabled units.
set -eu
find /etc -xdev -printf '%p %y %m %u:%g %s %l\n' | sort
find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum
dpkg-query -W -f '${Package} ${Version} ${Status}\n' | sort
systemctl list-unit-files --state=enabled --no-legend --no-pager | sort
if command -v nft >/dev/null 2>&1; then nft list ruleset; fi
