#!/usr/bin/env bash
# The fault scenarios staged on a real three-node Kafka cluster and compared with the
# simulator (README, "Faults against a real cluster"):
#   scripts/compare-faults.sh [OUT_DIR]
# starts a cluster of its own (scripts/kafka-cluster.sh, free ports, its state in OUT_DIR),
# runs `kafka-sim compare --driver D --scenario S --seed N --cluster DIR` for every driver,
# scenario and seed, keeps each table and history in OUT_DIR, writes OUT_DIR/summary.tsv
# (scenario, driver, seed, verdict, the rows that differ) and stops the cluster.
# DRIVERS (default "java kafka-python"), SCENARIOS and SEEDS (default "0 1") narrow it.
# Exit 1 when any comparison disagrees, 2 when a run could not be made.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/compare-faults}"
drivers="${DRIVERS:-java kafka-python}"
seeds="${SEEDS:-0 1}"
scenarios="${SCENARIOS:-crash-autocommit commit-before-processing commit-after-processing static-restart stall-poll-timeout network-cut acks1-leader-loss acks-all-minisr unclean-election coordinator-failover idempotent-retry}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
export KAFKA_SIM_CLUSTER_DIR="$out/cluster"
cleanup() { "$root/scripts/kafka-cluster.sh" stop || true; }
trap cleanup EXIT

(cd "$root" && cargo build --release --quiet --locked)
bin="$root/target/release/kafka-sim"
bootstrap=$("$root/scripts/kafka-cluster.sh" start)
echo "cluster at $bootstrap ($KAFKA_SIM_CLUSTER_DIR)" >&2

printf 'scenario\tdriver\tseed\tverdict\tdiffering rows\n' > "$out/summary.tsv"
worst=0
for s in $scenarios; do
  for d in $drivers; do
    for seed in $seeds; do
      base="$out/$s-$d-$seed"
      set +e
      timeout 600 "$bin" compare --driver "$d" --scenario "$s" --seed "$seed" \
          --brokers "$bootstrap" --cluster "$KAFKA_SIM_CLUSTER_DIR" \
          --history-out "$base.jsonl" > "$base.txt" 2> "$base.err"
      rc=$?
      set -e
      case $rc in
        0) verdict=MATCH ;;
        1) verdict=MISMATCH; worst=1 ;;
        *)
          if grep -q '^error: faults\[' "$base.err"; then
            verdict="NOT STAGED: $(tail -1 "$base.err" | sed 's/^error: //')"
          else
            verdict="NOT RUN: $(tail -1 "$base.err")"
            [ "$worst" -eq 0 ] && worst=2
          fi
          ;;
      esac
      rows=$(grep -E 'DIFFERENT$' "$base.txt" 2> /dev/null | sed 's/  */ /g; s/^ //' | paste -sd';' - || true)
      printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$d" "$seed" "$verdict" "$rows" | tee -a "$out/summary.tsv" >&2
    done
  done
done
exit "$worst"
