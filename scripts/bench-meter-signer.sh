#!/usr/bin/env bash
# The meter signer's resource budget (DESIGN.md): release binary size, and resident memory while
# it runs a push source and retries an unreachable chain (a gateway between intervals).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p cogrid-meter-signer
binary=target/release/meter-signer
size=$(stat -c %s "$binary")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export COGRID_BENCH_PASSWORD=bench
"$binary" keygen --out "$work/meter.json" --password-env COGRID_BENCH_PASSWORD >/dev/null 2>&1
cat >"$work/config.toml" <<TOML
[chain]
# Loopback port 9 has no listener: every send fails at once and backs off, as during an outage.
rpc_url = "http://127.0.0.1:9"
chain_id = 10
registry = "0x0000000000000000000000000000000000000001"
[outbox]
path = "outbox.db"
[http]
listen = "127.0.0.1:0"
[[meters]]
keystore = "meter.json"
password_env = "COGRID_BENCH_PASSWORD"
[meters.source]
kind = "push"
TOML
RUST_LOG=error timeout -s INT 10 /usr/bin/time -v "$binary" run --config "$work/config.toml" 2>"$work/time.txt" || true
rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
cpu=$(awk -F': ' '/Percent of CPU this job got/ {print $2}' "$work/time.txt")
awk -v bytes="$size" 'BEGIN { printf "meter-signer release binary: %.1f MB (budget 25 MB)\n", bytes / 1e6 }'
awk -v kib="$rss_kib" -v cpu="$cpu" \
  'BEGIN { printf "meter-signer peak RSS over 10 s idle: %.1f MiB (budget 30 MiB), CPU %s\n", kib / 1024, cpu }'
