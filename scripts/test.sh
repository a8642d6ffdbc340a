#!/usr/bin/env bash
# Every check the project has, from a fresh clone: formatting, the default build (no C
# toolchain), lints and docs with the rdkafka adapter, a real Apache Kafka broker fetched from
# Maven Central and started on 127.0.0.1, all tests including the cross-check against it and
# against librdkafka's mock cluster, and the broker stopped again.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
cleanup() {
  scripts/kafka-broker.sh stop || true
  rm -f "$log"
}
trap cleanup EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== default build: no C toolchain, no broker"
cargo check --workspace --all-targets --locked

echo "== the library alone: no command-line dependencies (--no-default-features)"
cargo check -p kafka-sim --no-default-features --lib --locked

echo "== Apache Kafka broker (Maven Central, KRaft, 127.0.0.1)"
broker=$(scripts/kafka-broker.sh start)
echo "broker at $broker"

echo "== cargo clippy -D warnings (with the rdkafka adapter)"
cargo clippy --workspace --all-targets --features rdkafka --locked -- -D warnings

echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features rdkafka --locked --quiet

echo "== assignor oracle: Apache Kafka's own assignors (Maven Central) for tests/assignor_oracle.rs"
KAFKA_SIM_ORACLE=$(scripts/assignor-oracle/build.sh)
export KAFKA_SIM_ORACLE

echo "== cargo test (with the cross-check against $broker and the mock cluster)"
KAFKA_SIM_BROKER="$broker" cargo test --workspace --features rdkafka --locked 2>&1 | tee "$log"

# One closing line for the whole run (cargo prints one per test binary, the last of which
# is often a crate's empty doc-test run).
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i; exit (f > 0) }' "$log"
