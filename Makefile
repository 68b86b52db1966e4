# openstack-lab: `make up` builds your lab, `make test` runs every test tier.
# Both install what they need first (Python venvs, Debian packages, the Pulumi toolchain).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
STACK ?= $(shell id -un)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV := source toolchain/env.sh &&
PULUMI := $(ENV) pulumi --non-interactive
TIERS ?= tests/unit tests/packstack tests/packages tests/engine tests/e2e tests/api
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)

.PHONY: help deps toolchain doctor stack up preview destroy outputs ssh-config lint lint-python lint-shell lint-go
.PHONY: test test-go test-unit test-packstack test-packages test-engine test-e2e test-api packstack-options

help:
	@echo "make up        - set up, check the host, then pulumi up on stack $(STACK); ends with the stage times"
	@echo "make test      - set up, lint, then run every test tier ($(TIERS))"
	@echo "make lint      - ruff, mypy, shellcheck and go vet (lint-python | lint-shell | lint-go)"
	@echo "make recover   - after an interrupted up: stale lock, orphaned plugins, pending creates, refresh"
	@echo "make verify    - does the cloud work? a smoke of stack $(STACK) through its cloudsYaml (tools/verify/)"
	@echo "make stop      - shut the lab's nodes down: computes first, the controller last (forced off after 180 s)"
	@echo "make start     - start them: the controller, Keystone, then the computes until Nova has them up"
	@echo "make revert SNAPSHOT=name - every node back to a lab-wide snapshot (snapshots), clocks set, refresh"
	@echo "make preview | destroy | doctor | ssh-config | test-unit | test-packstack | test-packages | test-engine | test-e2e | test-api"

# packstack's netifaces has no wheel for Python 3.11: pip builds it (a C compiler and Python's headers).
$(VENV)/.stamp: requirements.txt requirements-dev.txt
	bash tools/ensure-packages.sh gcc python3-dev
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

.venv-packstack/.stamp:
	bash tools/ensure-packages.sh gcc python3-dev
	$(PYTHON) -m venv .venv-packstack
	.venv-packstack/bin/pip install -q --disable-pip-version-check packstack==26.0.0
	touch $@

deps: $(VENV)/.stamp .venv-packstack/.stamp
	bash tools/ensure-packages.sh shellcheck

toolchain:
	bash toolchain/setup.sh

# With the toolchain's environment, so the doctor can read the proxy password through the Pulumi CLI (issue 21).
doctor: $(VENV)/.stamp
	$(ENV) $(PY) tools/doctor.py --stack $(STACK)

# Stack per developer: created on first use with the local backend and a passphrase secrets provider.
stack: toolchain
	$(PULUMI) stack select $(STACK) 2>/dev/null || $(PULUMI) stack init $(STACK) --secrets-provider passphrase

# The engine's event log (a flag the CLI offers with PULUMI_DEBUG_COMMANDS) gives the stage times table at the end
# (tools/stage_times.py, also appended to .lab/<stack>/stage-times.jsonl); a failed up still prints what ran and fails.
# A stopped lab (make stop) is refused: `pulumi up` would neither start its domains nor see them off.
# An up that failed on a provider's known flaw that one more up repairs (tools/known_flaws.py) runs once more.
up: deps toolchain doctor stack
	$(ENV) $(PY) -m tools.lifecycle.power check --stack $(STACK)
	umask 077 && mkdir -p .lab/$(STACK)
	umask 077; export PULUMI_DEBUG_COMMANDS=true; events=.lab/$(STACK)/up-events.jsonl; rc=0; \
	  $(PULUMI) up --yes --stack $(STACK) --event-log $$events || rc=$$?; \
	  if [ $$rc -ne 0 ] && $(PY) -m tools.known_flaws --events $$events; then \
	    rc=0; $(PULUMI) up --yes --stack $(STACK) --event-log $$events || rc=$$?; fi; \
	  $(PY) -m tools.stage_times --stack $(STACK) --events $$events || true; exit $$rc

preview: deps toolchain stack
	$(PULUMI) preview --diff --stack $(STACK)

# The refresh first drops what was removed by hand (the libvirt provider's Delete fails on a domain that no longer
# exists), all but the cloud-init disks: their refresh downloads each ISO through a libvirt stream, which once hung
# over qemu+ssh, and their Delete takes a volume already gone as deleted (terraform-provider-libvirt 0.8.3,
# libvirt/volume.go volumeDelete). --parallel 1: a parallel refresh of a 4-node stack once hung in the provider.
DESTROY_REFRESH_EXCLUDE := **libvirt:index/cloudInitDisk:CloudInitDisk::*
destroy: toolchain
	$(PULUMI) refresh --yes --skip-preview --parallel 1 --exclude '$(DESTROY_REFRESH_EXCLUDE)' --stack $(STACK)
	$(PULUMI) destroy --yes --parallel 1 --stack $(STACK)

# After an interrupted `up` (killed, terminal lost): what it left, then a state that `make up` converges from.
.PHONY: recover
recover: toolchain
	$(ENV) $(PYTHON) tools/recover.py --stack $(STACK)

# Smoke of the stack's cloud with the OpenStack SDK (tools/verify/): one timed line per check, exit 1 on a
# failure; everything it makes (<prefix>-verify-*) is removed, also on Ctrl-C. VERIFY_SSH_KEY=<file>: the private
# key of your own demo.publicKey (the stack's own key is read from the stack).
.PHONY: verify
verify: deps toolchain
	bash tools/ensure-packages.sh iputils-ping openssh-client
	$(ENV) $(PY) -m tools.verify --stack $(STACK)

# The lab's nodes off and on in order (tools/lifecycle/power.py): stop = the computes, then the controller, each
# group shut down cleanly within 180 s (--shutdown-timeout), then forced off with a warning; start = the controller,
# its SSH and Keystone, then the computes, their SSH and their nova-compute up. Existing machines are left alone.
.PHONY: stop start
stop: deps toolchain
	$(ENV) $(PY) -m tools.lifecycle.power stop --stack $(STACK)

start: deps toolchain
	$(ENV) $(PY) -m tools.lifecycle.power start --stack $(STACK)

# Every node back to the lab-wide snapshot SNAPSHOT (one of the stack's `snapshots`, taken by `make up`), all paused
# together; then the guest clocks set to this host's, Keystone awaited (after Packstack), `pulumi refresh`
# (tools/lifecycle/revert.py). Refused while a pulumi of the stack runs.
.PHONY: revert
revert: deps toolchain
	@test -n "$(SNAPSHOT)" || { echo "make revert SNAPSHOT=<name>: name one of the stack's snapshots" >&2; exit 2; }
	$(ENV) $(PY) -m tools.lifecycle.revert --stack $(STACK) --snapshot $(SNAPSHOT)

# The caching proxy recipe (issue 21 item 3; README "A caching proxy on the lab host"): squid on this machine keeps
# every package the nodes download (tools/caching_proxy.py renders its config, tools/caching-proxy.sh installs it,
# restarting squid only on a change). The tests/packages tier runs a real squid from the same configuration.
.PHONY: caching-proxy
caching-proxy: $(VENV)/.stamp
	$(PY) tools/caching_proxy.py --stack $(STACK)

outputs: toolchain
	$(PULUMI) stack output --stack $(STACK)

# Writes the stack's login key and known_hosts under .lab/<stack>/ for the sshCommands outputs.
ssh-config: toolchain
	umask 077 && mkdir -p .lab/$(STACK)
	$(PULUMI) stack output --stack $(STACK) knownHosts > .lab/$(STACK)/known_hosts
	($(PULUMI) stack output --stack $(STACK) --show-secrets sshPrivateKey > .lab/$(STACK)/id_ed25519) \
	  || echo "no generated key: the stack uses your configured sshPrivateKey"

# The checks of the code itself, before any test (settings: pyproject.toml; also .pre-commit-config.yaml).
lint: lint-python lint-shell lint-go

lint-python: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

lint-shell:
	bash tools/ensure-packages.sh shellcheck
	bash tools/lint-shell.sh

# Offline, from the module cache the toolchain build fills.
lint-go: toolchain
	bash toolchain/vet.sh

test: deps toolchain lint test-go
	$(ENV) $(PY) -m pytest -ra $(TIERS)

# The self-built command plugin's own tests (in-process SSH server on 127.0.0.1).
test-go:
	cd toolchain/providers/command && GOTOOLCHAIN=local GOFLAGS=-mod=readonly $(GO) test -count=1 ./...

test-unit: deps
	$(PY) -m pytest -ra tests/unit

# The real Packstack --dry-run on the lab's answers in a namespace sandbox, then the catalog compile (root).
test-packstack: deps
	$(PY) -m pytest -ra tests/packstack

# The lab's package sources under the real dnf, rpm, createrepo_c and a squid from the caching-proxy recipe, in a
# network namespace of the tier's own (root).
test-packages: deps
	$(PY) -m pytest -ra tests/packages

test-engine: deps toolchain
	$(ENV) $(PY) -m pytest -ra tests/engine

test-e2e: deps toolchain
	$(ENV) $(PY) -m pytest -ra tests/e2e

test-api: deps toolchain
	$(ENV) $(PY) -m pytest -ra tests/api

# Regenerates lab/packstack_validators.json (every key the pinned Packstack's plugins declare, with its validators,
# allowed values, processors); the answer keys the lab accepts are its CONFIG_ keys (`packstack -o` in the unit test).
packstack-options: .venv-packstack/.stamp $(VENV)/.stamp
	$(PY) tools/packstack_declarations.py > lab/packstack_validators.json.new
	mv lab/packstack_validators.json.new lab/packstack_validators.json
