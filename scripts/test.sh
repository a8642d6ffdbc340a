#!/usr/bin/env bash
# Every check the project has, from a fresh clone: formatting, the default build (no C
# toolchain), lints and docs with the rdkafka adapter, a real Apache Kafka broker fetched from
# Maven Central and started on 127.0.0.1, all tests including the cross-check against it and
# against librdkafka's mock cluster, and the broker stopped again.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The prerequisites (README, "Set-up"), each checked first, with one line for each missing.
missing=0
need() { # need <what> <how to get it>
  echo "missing: $1 — $2" >&2
  missing=1
}
if ! command -v cargo > /dev/null; then
  need "Rust (cargo, 1.85 or later)" "install rustup from https://rustup.rs, then: rustup default stable"
else
  rust=$(rustc --version 2> /dev/null | awk '{print $2}' || true)
  if [ -z "$rust" ] || [ "$(printf '%s\n1.85.0\n' "$rust" | sort -V | head -1)" != "1.85.0" ]; then
    need "Rust 1.85 or later (found $rust)" "rustup update stable"
  fi
  cargo fmt --version > /dev/null 2>&1 || need "rustfmt" "rustup component add rustfmt"
  cargo clippy --version > /dev/null 2>&1 || need "clippy" "rustup component add clippy"
fi
if ! command -v java > /dev/null; then
  need "Java 17 or later (runs the Kafka broker)" "apt-get install openjdk-17-jre-headless, brew install openjdk@17, or https://adoptium.net"
else
  java_major=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print (v[1] == 1 ? v[2] : v[1]); exit}' || true)
  if [ "${java_major:-0}" -lt 17 ]; then
    need "Java 17 or later (found ${java_major:-an unknown version})" "apt-get install openjdk-17-jre-headless, brew install openjdk@17, or https://adoptium.net"
  fi
fi
if [ ! -f "${KAFKA_SIM_CACHE:-.ci-cache}/kafka-libs/.complete" ] && ! command -v mvn > /dev/null; then
  need "Maven (fetches Apache Kafka from Maven Central)" "apt-get install maven, brew install maven, or https://maven.apache.org/download.cgi"
fi
if ! command -v python3 > /dev/null || ! python3 -c "import venv, ensurepip" 2> /dev/null; then
  need "Python 3 with venv (runs the kafka-python driver)" "apt-get install python3-venv, or brew install python"
fi
for tool in cc make; do
  command -v "$tool" > /dev/null || need "$tool (builds librdkafka for the rdkafka feature)" "apt-get install build-essential, or xcode-select --install on macOS"
done
if [ "$missing" -ne 0 ]; then
  echo "scripts/test.sh: install what is missing above, then run it again" >&2
  exit 1
fi

log=$(mktemp)
cluster="$(pwd)/target/test-cluster"
cleanup() {
  scripts/kafka-broker.sh stop || true
  KAFKA_SIM_CLUSTER_DIR="$cluster" scripts/kafka-cluster.sh stop || true
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

echo "== real-client drivers: kafka-python 3.0.12 (PyPI) and kafka-clients 4.4.0 (Maven Central), cached in .ci-cache/"
scripts/drivers/kafka-python/client.sh setup
scripts/drivers/java/client.sh setup

echo "== a three-node cluster behind the harness's proxy (tests/drivers.rs: a broker cut)"
cargo build --bin kafka-sim --locked --quiet
KAFKA_SIM_CLUSTER_DIR="$cluster" KAFKA_SIM_BIN="$(pwd)/target/debug/kafka-sim" scripts/kafka-cluster.sh start

echo "== cargo test (with the cross-check against $broker and the mock cluster)"
KAFKA_SIM_BROKER="$broker" KAFKA_SIM_CLUSTER_DIR="$cluster" cargo test --workspace --features rdkafka --locked 2>&1 | tee "$log"

# One closing line for the whole run (cargo prints one per test binary, the last of which
# is often a crate's empty doc-test run).
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i; exit (f > 0) }' "$log"
