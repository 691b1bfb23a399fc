# cogrid: every target installs what it needs first (npm packages under contracts/, Debian
# packages), so a fresh clone needs nothing but `make demo` or `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CONTRACTS := contracts
FORGE := $(CONTRACTS)/node_modules/.bin/forge
NPM_STAMP := $(CONTRACTS)/node_modules/.cogrid-installed
CARGO ?= cargo

.PHONY: all install demo test test-contracts test-gas test-bindings test-rust lint bench bench-gas bench-rust bench-resources bindings clean

all: test

## install: npm packages (solc, forge, anvil, cast, OpenZeppelin, forge-std) and Debian packages.
install: $(NPM_STAMP) debian-packages

$(NPM_STAMP): $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	cd $(CONTRACTS) && npm ci --no-audit --no-fund
	touch $@

# /usr/bin/time measures peak RSS in `make bench`; everything else builds from crates and npm.
.PHONY: debian-packages
debian-packages:
	@if [ ! -x /usr/bin/time ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq time; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq time; fi; \
	fi

## demo: the metering path end to end on a local L2 devnet, with a readable report.
demo: install
	$(CARGO) run --release -p cogrid -- demo

## test: forge (unit, fuzz, invariant, gas snapshot), the bindings drift check, cargo tests.
test: install test-contracts test-gas test-bindings test-rust

test-contracts: install
	cd $(CONTRACTS) && ./node_modules/.bin/forge test --no-match-path 'test/gas/*'

# Fails when a gas figure differs from contracts/snapshots/ (commit the new snapshot on purpose).
test-gas: install
	cd $(CONTRACTS) && FORGE_SNAPSHOT_CHECK=true ./node_modules/.bin/forge test --match-path 'test/gas/*'

test-bindings: install
	$(CARGO) run -q -p cogrid-regenerate-bindings -- --check

test-rust: install
	$(CARGO) test --workspace

## lint: rustfmt, clippy (warnings are errors), forge fmt.
lint: install
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd $(CONTRACTS) && ./node_modules/.bin/forge fmt --check

## bindings: regenerate bindings/artifacts from contracts/src.
bindings: install
	$(CARGO) run -q -p cogrid-regenerate-bindings

## bench: gas, criterion hot paths, and the meter signer's size and memory.
bench: bench-gas bench-rust bench-resources

## bench-gas: one `gas <operation> <value>` line per operation, from real transactions on anvil.
bench-gas: install
	@$(CARGO) run -q -p cogrid -- bench-gas 2>/dev/null

bench-rust: install
	$(CARGO) bench -p cogrid-dsmr
	$(CARGO) bench -p cogrid-meter-signer

bench-resources: install
	scripts/bench-meter-signer.sh

clean:
	$(CARGO) clean
	rm -rf $(CONTRACTS)/out $(CONTRACTS)/cache demo-output
