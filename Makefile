# cogrid: every target installs what it needs first (npm packages under contracts/, Debian
# packages), so a fresh clone needs nothing but `make demo` or `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CONTRACTS := contracts
FORGE := $(CONTRACTS)/node_modules/.bin/forge
NPM_STAMP := $(CONTRACTS)/node_modules/.cogrid-installed
CARGO ?= cargo
# Chainlink's AggregatorV3Interface, for the OracleFeed compatibility test (see $(CHAINLINK_STAMP) below).
CHAINLINK_VERSION := 1.5.0
CHAINLINK_DIR := $(CONTRACTS)/lib/chainlink
CHAINLINK_FILES := package/src/v0.8/shared/interfaces/AggregatorV3Interface.sol
CHAINLINK_STAMP := $(CHAINLINK_DIR)/.cogrid-$(CHAINLINK_VERSION)

.PHONY: all install postgres demo test test-contracts test-gas test-bindings test-rust lint bench bench-gas bench-rust bench-resources bench-simulate bindings clean

all: test

## install: npm packages (solc, forge, anvil, cast, OpenZeppelin, forge-std), Chainlink's feed interface
## and Debian packages.
install: $(NPM_STAMP) $(CHAINLINK_STAMP) debian-packages

$(NPM_STAMP): $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	cd $(CONTRACTS) && npm ci --no-audit --no-fund
	touch $@

# The OracleFeed compatibility test compiles a consumer against Chainlink's own AggregatorV3Interface.
# Only that file is taken from the package's tarball: installing the package would pull its dependency
# tree, which has a github: dependency that cannot install offline. foundry.toml maps
# `@chainlink/contracts/` to $(CHAINLINK_DIR).
$(CHAINLINK_STAMP):
	rm -rf $(CHAINLINK_DIR) && mkdir -p $(CHAINLINK_DIR)
	npm pack @chainlink/contracts@$(CHAINLINK_VERSION) --pack-destination $(CHAINLINK_DIR) --silent >/dev/null
	tar -xzf $(CHAINLINK_DIR)/chainlink-contracts-$(CHAINLINK_VERSION).tgz -C $(CHAINLINK_DIR) \
		--strip-components=1 $(CHAINLINK_FILES)
	rm $(CHAINLINK_DIR)/chainlink-contracts-$(CHAINLINK_VERSION).tgz
	touch $@

# /usr/bin/time measures peak RSS in `make bench`; everything else builds from crates and npm.
.PHONY: debian-packages
debian-packages:
	@if [ ! -x /usr/bin/time ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq time; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq time; fi; \
	fi

# The keeper's store tests run against PostgreSQL as well as SQLite: Debian's server, its `main`
# cluster on 127.0.0.1:5432, and a `cogrid` role (password `cogrid`) owning `cogrid_test`.
COGRID_TEST_POSTGRES_URL ?= postgres://cogrid:cogrid@127.0.0.1:5432/cogrid_test
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# The server refuses to run as root, and only its own OS user may create roles over the socket.
AS_POSTGRES := $(if $(SUDO),sudo -u postgres,runuser -u postgres --)

## postgres: install, start and provision the PostgreSQL server the keeper's tests use; a second
## run only checks that the test database answers.
postgres:
	@if psql "$(COGRID_TEST_POSTGRES_URL)" -qtAc 'SELECT 1' >/dev/null 2>&1; then exit 0; fi; \
	if ! dpkg-query -W -f='$${Status}' postgresql 2>/dev/null | grep -q 'ok installed'; then \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; \
	fi; \
	version=$$(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n 1 | cut -d / -f 5); \
	if ! pg_lsclusters -h | awk '{print $$1 "/" $$2}' | grep -qx "$$version/main"; then \
		$(SUDO) pg_createcluster --port 5432 "$$version" main; \
	fi; \
	port=$$(pg_lsclusters -h | awk -v v="$$version" '$$1 == v && $$2 == "main" {print $$3}'); \
	if [ "$$port" != 5432 ]; then \
		echo "PostgreSQL cluster $$version/main listens on port $$port, not 5432: set COGRID_TEST_POSTGRES_URL" >&2; \
		exit 1; \
	fi; \
	if ! $(SUDO) pg_ctlcluster "$$version" main status >/dev/null 2>&1; then \
		$(SUDO) pg_ctlcluster "$$version" main start; \
	fi; \
	cd /; \
	if [ -z "$$($(AS_POSTGRES) psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'cogrid'")" ]; then \
		$(AS_POSTGRES) psql -qc "CREATE ROLE cogrid LOGIN PASSWORD 'cogrid'"; \
	fi; \
	if [ -z "$$($(AS_POSTGRES) psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'cogrid_test'")" ]; then \
		$(AS_POSTGRES) createdb --owner cogrid cogrid_test; \
	fi; \
	psql "$(COGRID_TEST_POSTGRES_URL)" -qtAc 'SELECT 1' >/dev/null

## demo: the metering path end to end on a local L2 devnet, with a readable report.
demo: install
	$(CARGO) run --release -p cogrid -- simulate

## test: forge (unit, fuzz, invariant, gas snapshot), the bindings drift check, cargo tests.
test: install test-contracts test-gas test-bindings test-rust

test-contracts: install
	cd $(CONTRACTS) && ./node_modules/.bin/forge test --no-match-path 'test/gas/*'

# Fails when a gas figure differs from contracts/snapshots/ (commit the new snapshot on purpose).
test-gas: install
	cd $(CONTRACTS) && FORGE_SNAPSHOT_CHECK=true ./node_modules/.bin/forge test --match-path 'test/gas/*'

test-bindings: install
	$(CARGO) run -q -p cogrid-regenerate-bindings -- --check

test-rust: install postgres
	COGRID_TEST_POSTGRES_URL='$(COGRID_TEST_POSTGRES_URL)' $(CARGO) test --workspace

## lint: rustfmt, clippy (warnings are errors), forge fmt.
lint: install
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd $(CONTRACTS) && ./node_modules/.bin/forge fmt --check

## bindings: regenerate bindings/artifacts from contracts/src.
bindings: install
	$(CARGO) run -q -p cogrid-regenerate-bindings

## bench: gas, criterion hot paths, the meter signer's size and memory, and the simulation's time.
bench: bench-gas bench-rust bench-resources bench-simulate

## bench-gas: one `gas <operation> <value>` line per operation: readings from real transactions on
## anvil, every other contract operation from forge's named gas snapshots in contracts/snapshots/
## (`*_whole_tx` adds the 21,000 intrinsic gas and the calldata to the execution gas; the registry's
## forge snapshots are left out: the anvil figures above measure the same readings whole).
bench-gas: install
	@$(CARGO) run -q -p cogrid -- bench-gas 2>/dev/null
	@cd $(CONTRACTS) && ./node_modules/.bin/forge test --match-path 'test/gas/*' >/dev/null
	@cd $(CONTRACTS) && node -e 'for (const file of require("fs").readdirSync("snapshots").filter((name) => !name.startsWith("MeterRegistry")).sort()) \
		for (const [name, gas] of Object.entries(require("./snapshots/" + file))) console.log(`gas $${name} $${gas}`)'

bench-rust: install
	$(CARGO) bench -p cogrid-dsmr
	$(CARGO) bench -p cogrid-meter-signer
	$(CARGO) bench -p cogrid-keeper

bench-resources: install
	scripts/bench-meter-signer.sh

## bench-simulate: `cogrid simulate` at full size (500 homes, 96 intervals), its report's time
## table and the peak RSS of its largest process (cogrid or its anvil).
bench-simulate: install
	$(CARGO) build -q --release -p cogrid
	/usr/bin/time -v target/release/cogrid simulate --out target/bench-simulate \
		>/dev/null 2>target/bench-simulate.stderr || { tail -n 20 target/bench-simulate.stderr; exit 1; }
	@awk '/^## Time/ {show = 1; next} /^## / {show = 0} show && /^\|/' target/bench-simulate/report.md
	@awk -F': ' '/Maximum resident set size/ {printf "peak RSS %.0f MiB\n", $$2 / 1024}' \
		target/bench-simulate.stderr

clean:
	$(CARGO) clean
	rm -rf $(CONTRACTS)/out $(CONTRACTS)/cache demo-output
