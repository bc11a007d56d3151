# Socle - the README's commands. Everything installs itself on a fresh Debian 12 machine (as root).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
OUT ?= out/demo
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# After apply, every setting must be compliant and nothing in error; what stays in drift are measured
# findings and due attestations, listed by name.
define DEMO_CHECK
import sys
from socle.record import load_record
record = load_record(sys.argv[1])
bad = sorted(record.setting_drift_pairs() | record.problem_pairs())
for host, control in bad:
    print(f"  NOT COMPLIANT after apply: {host} {control}")
left = sorted((h, c, r.status) for h, x in record.hosts.items() for c, r in x.controls.items()
              if r.status in ("drift", "attestation_due") and (h, c) not in bad)
print(f"after apply: every setting compliant on {len(record.hosts)} host(s)" if not bad else "after apply: settings still in drift")
for host, control, status in left:
    print(f"  still {status} (measured, not a setting): {host} {control}")
sys.exit(1 if bad or not record.hosts else 0)
endef
export DEMO_CHECK

.PHONY: demo test deps apt venv lint unit lab lab-down molecule integration clean

demo: deps lab ## start the lab, audit (drift), apply, audit again (compliant), print the report path
	@rm -rf $(OUT); \
	echo "== 1/3 dry-run audit of the fresh lab hosts (nothing changes) =="; \
	$(BIN)/socle audit --out $(OUT)/1-audit-before; rc=$$?; \
	[ $$rc -eq 2 ] || { echo "expected drift on fresh hosts (exit 2), got $$rc"; exit 1; }; \
	echo "== 2/3 apply the baseline =="; \
	$(BIN)/socle apply --out $(OUT)/2-apply; rc=$$?; [ $$rc -ne 1 ] || exit 1; \
	echo "== 3/3 audit again: every setting compliant; measured findings still say what they measure =="; \
	$(BIN)/socle audit --out $(OUT)/3-audit-after; rc=$$?; [ $$rc -ne 1 ] || exit 1; \
	$(PY) -c "$$DEMO_CHECK" $(OUT)/3-audit-after/run.json || exit 1; \
	echo "(in the lab, ClamAV cannot download signatures and no update run or restore test has happened yet:"; \
	echo " those findings stay in drift until the evidence exists, which is the truth)"; \
	echo; echo "Report before apply: $(CURDIR)/$(OUT)/1-audit-before/report.html"; \
	echo "Report after apply:  $(CURDIR)/$(OUT)/3-audit-after/report.html"

test: deps lint unit molecule lab integration ## everything CI runs

apt: ## system packages (podman lab, report rendering in Chromium, PDF documents with WeasyPrint)
	@if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null \
	  || ! command -v chromium >/dev/null || ! command -v ssh >/dev/null \
	  || ! ldconfig -p | grep -q libpangoft2-1.0.so.0 || ! ldconfig -p | grep -q libharfbuzz-subset.so.0 \
	  || ! [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    podman runc debootstrap openssh-client chromium python3-venv \
	    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core >/dev/null; fi

venv: $(VENV)/.done
$(VENV)/.done: requirements.txt constraints.txt pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -c constraints.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

deps: apt venv

lint: venv
	$(BIN)/ruff check .
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint -q
	$(PY) -m socle.catalogue readme --check README.md

unit: venv
	@$(BIN)/pytest -q tests/unit; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no test in tests/unit: that is a failure"; exit 1; fi; exit $$rc

lab: deps
	$(BIN)/socle lab up

lab-down: venv
	$(BIN)/socle lab down

# The scenarios' output is long: on failure, the failing tests and errors are repeated at the end, where a
# CI log's tail shows them.
molecule: deps
	@mkdir -p out; set -o pipefail; cd $(CURDIR) && COLUMNS=250 $(BIN)/molecule test --all 2>&1 | tee out/molecule.log; rc=$$?; \
	if [ $$rc -ne 0 ]; then echo "== molecule failed (exit $$rc); failing tests and errors, from out/molecule.log: =="; \
	  sed 's/\x1b\[[0-9;]*m//g' out/molecule.log | grep -a -E "FAILED|ERROR|│ E  |^E  |fatal: |failed=[1-9]|Traceback|Error:" \
	  | tail -120; fi; exit $$rc

integration: deps
	@$(BIN)/pytest -q tests/integration; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no test in tests/integration: that is a failure"; exit 1; fi; exit $$rc

clean: lab-down
	rm -rf out $(VENV)
