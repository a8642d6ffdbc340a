#!/usr/bin/env bash
# Three real Apache Kafka brokers on 127.0.0.1, for faults staged against a real cluster:
#   scripts/kafka-cluster.sh start        -> prints the bootstrap list (127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3)
#   scripts/kafka-cluster.sh stop
#   scripts/kafka-cluster.sh status       -> one line per node
#   scripts/kafka-cluster.sh kill N       -> SIGKILL of node N (1-3): a broker crash
#   scripts/kafka-cluster.sh restart N    -> starts node N again on its storage (after kill)
#   scripts/kafka-cluster.sh pause N      -> SIGSTOP of node N: a broker that stops answering
#   scripts/kafka-cluster.sh resume N     -> SIGCONT of node N
#   scripts/kafka-cluster.sh address N    -> node N's client address
#   scripts/kafka-cluster.sh dir          -> the cluster's state directory: the control handle
#                                            `kafka-sim compare --cluster DIR` stages faults with
# KAFKA_SIM_CLUSTER_DIR names the state directory (default .ci-cache/cluster), so several
# clusters run side by side, each driven through its own directory.
# Each node is a KRaft broker and controller (a quorum of three voters, so a controller
# survives one node's crash), with the simulator's defaults for a three-broker cluster:
# default.replication.factor=3, min.insync.replicas=2, offsets and transaction state
# replicated three times, no topic auto-creation, group.initial.rebalance.delay.ms=0.
# Every listener the clients and the nodes use goes through the harness's TCP proxy
# (`kafka-sim cluster-proxy`, src/driver/proxy/, started here before the nodes), through
# which timed runs stage network cuts: each node listens on internal ports and advertises
# the proxy's (client and inter-broker listeners), and each node's controller.quorum.voters
# names a proxy port per (this node, voter), so a node can be cut off from its peers while
# clients still reach it. The bootstrap list is the proxy's client ports.
# Ports: 25 consecutive free ones picked per run (or KAFKA_SIM_CLUSTER_PORT and the 24 after;
# the layout is in src/driver/proxy/control.rs), so two checkouts never collide.
# KAFKA_SIM_BIN names the kafka-sim binary that runs the proxy (default: target/release's,
# else target/debug's). Heaps of 512 MiB each: the three fit a 2-core, 24 GB machine next
# to the tests. Kafka comes from Maven Central as for scripts/kafka-broker.sh (shared cache).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${KAFKA_SIM_CACHE:-$root/.ci-cache}"
libs="$cache/kafka-libs"
state="${KAFKA_SIM_CLUSTER_DIR:-$cache/cluster}"
nodes=(1 2 3)

in_use() {
  (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

nports=25

# Consecutive free ports, from a start that differs per process.
pick_ports() {
  local p=$((20000 + ($$ * 7919) % 40000))
  for _ in $(seq 1 200); do
    local free=1
    for k in $(seq 0 $((nports - 1))); do
      if in_use $((p + k)); then free=0; break; fi
    done
    if [ "$free" -eq 1 ]; then echo "$p"; return; fi
    p=$((p + nports))
    if [ "$p" -ge 64970 ]; then p=20000; fi
  done
  echo "error: found no $nports free consecutive ports on 127.0.0.1" >&2
  exit 1
}

node_dir() { echo "$state/node-$1"; }
base() { cat "$state/port"; }
client_port() { echo $(($(base) + $1 - 1)); }            # the proxy's, advertised
controller_port() { echo $(($(base) + $1 + 2)); }        # node's own
internal_client_port() { echo $(($(base) + $1 + 5)); }   # node's own
internal_broker_port() { echo $(($(base) + $1 + 8)); }   # node's own
broker_port() { echo $(($(base) + $1 + 11)); }           # the proxy's, advertised
voter_port() { # voter_port FROM TO: the proxy's controller port from node FROM to node TO
  if [ "$1" -eq "$2" ]; then controller_port "$2"; else echo $(($(base) + 15 + 3 * ($1 - 1) + $2 - 1)); fi
}
control_port() { echo $(($(base) + 24)); }

proxy_bin() {
  if [ -n "${KAFKA_SIM_BIN:-}" ]; then echo "$KAFKA_SIM_BIN"; return; fi
  for b in "$root/target/release/kafka-sim" "$root/target/debug/kafka-sim"; do
    if [ -x "$b" ]; then echo "$b"; return; fi
  done
  (cd "$root" && cargo build --quiet --bin kafka-sim) >&2
  echo "$root/target/debug/kafka-sim"
}

proxy_running() {
  [ -f "$state/proxy.pid" ] || return 1
  local pid
  pid=$(cat "$state/proxy.pid")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "cluster-proxy --cluster $state"
}

launch_proxy() {
  nohup "$(proxy_bin)" cluster-proxy --cluster "$state" >> "$state/proxy.log" 2>&1 &
  echo $! > "$state/proxy.pid"
  for _ in $(seq 1 100); do
    if in_use "$(control_port)"; then return; fi
    if ! proxy_running; then
      echo "error: the cluster's proxy exited: $(tail -1 "$state/proxy.log")" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "error: the cluster's proxy did not listen within 10 s; see $state/proxy.log" >&2
  exit 1
}

check_node() {
  case "${1:-}" in
    1 | 2 | 3) ;;
    *) echo "error: node must be 1, 2 or 3 (got '${1:-}')" >&2; exit 2 ;;
  esac
}

# Whether node $1's pid file names a live Kafka of this cluster (stale pid files are never trusted).
running() {
  local dir pid
  dir=$(node_dir "$1")
  [ -f "$dir/pid" ] || return 1
  pid=$(cat "$dir/pid")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "kafka.Kafka $dir/server.properties"
}

java_opts() {
  echo "-Xms256m -Xmx512m -XX:+UseG1GC -XX:ActiveProcessorCount=1 -Dkafka.logs.dir=$1 -Dlog4j2.configurationFile=$1/log4j2.properties"
}

write_config() {
  local n=$1 dir voters
  dir=$(node_dir "$n")
  voters="1@127.0.0.1:$(voter_port "$n" 1),2@127.0.0.1:$(voter_port "$n" 2),3@127.0.0.1:$(voter_port "$n" 3)"
  mkdir -p "$dir/data"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(internal_client_port "$n"),REPLICATION://127.0.0.1:$(internal_broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$n"),REPLICATION://127.0.0.1:$(broker_port "$n")
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=REPLICATION
log.dirs=$dir/data
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=50
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
num.io.threads=2
num.network.threads=2
num.replica.fetchers=1
background.threads=2
PROPS
  cat > "$dir/log4j2.properties" <<'LOG'
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
LOG
}

launch() {
  local n=$1 dir
  dir=$(node_dir "$n")
  # shellcheck disable=SC2046
  nohup java $(java_opts "$dir") -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
      >> "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/pid"
}

# Waits until node $1 has logged its start since line $2 of its log.
wait_started() {
  local n=$1 from=$2 dir
  dir=$(node_dir "$n")
  for _ in $(seq 1 180); do
    if tail -n +"$((from + 1))" "$dir/server.log" 2> /dev/null | grep -q "Kafka Server started"; then
      return
    fi
    if ! running "$n"; then
      local cause
      cause=$(grep -h -m1 -E " (ERROR|FATAL) " "$dir/server.log" "$dir/stdout.log" 2> /dev/null | head -1 || true)
      echo "error: Kafka node $n exited during start-up: ${cause:-no error in its log}; see $dir/server.log" >&2
      exit 1
    fi
    sleep 1
  done
  echo "error: Kafka node $n did not start within 180 s; see $dir/server.log" >&2
  exit 1
}

log_lines() {
  local f
  f="$(node_dir "$1")/server.log"
  if [ -f "$f" ]; then wc -l < "$f"; else echo 0; fi
}

bootstrap() {
  echo "127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"
}

start() {
  if running 1 && running 2 && running 3 && proxy_running; then bootstrap; return; fi
  stop
  local port
  if [ -n "${KAFKA_SIM_CLUSTER_PORT:-}" ]; then
    port=$KAFKA_SIM_CLUSTER_PORT
    for k in $(seq 0 $((nports - 1))); do
      if in_use $((port + k)); then
        echo "error: port $((port + k)) on 127.0.0.1 is taken (KAFKA_SIM_CLUSTER_PORT=$port needs it and the $((nports - 1)) after); unset KAFKA_SIM_CLUSTER_PORT to let the script pick free ones" >&2
        exit 1
      fi
    done
  else
    port=$(pick_ports)
  fi
  "$root/scripts/kafka-broker.sh" fetch
  rm -rf "$state"
  mkdir -p "$state"
  echo "$port" > "$state/port"
  local id
  id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2> "$state/format.err")
  for n in "${nodes[@]}"; do
    write_config "$n"
    local dir
    dir=$(node_dir "$n")
    # shellcheck disable=SC2046
    java $(java_opts "$dir") -cp "$libs/*" kafka.tools.StorageTool format -t "$id" \
        -c "$dir/server.properties" > "$dir/format.log" 2>> "$state/format.err" || {
      echo "error: formatting node $n's storage failed: $(head -1 "$state/format.err")" >&2
      exit 1
    }
  done
  launch_proxy
  for n in "${nodes[@]}"; do launch "$n"; done
  for n in "${nodes[@]}"; do wait_started "$n" 0; done
  bootstrap
}

stop() {
  for n in "${nodes[@]}"; do
    if running "$n"; then
      local pid
      pid=$(cat "$(node_dir "$n")/pid")
      kill -CONT "$pid" 2> /dev/null || true
      kill "$pid" 2> /dev/null || true
    fi
  done
  for n in "${nodes[@]}"; do
    local f pid
    f="$(node_dir "$n")/pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if running "$n"; then
      for _ in $(seq 1 30); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 1
      done
      kill -9 "$pid" 2> /dev/null || true
    fi
    rm -f "$f"
  done
  if proxy_running; then kill "$(cat "$state/proxy.pid")" 2> /dev/null || true; fi
  rm -f "$state/proxy.pid"
}

signal() { # signal <SIG> <node>
  check_node "$2"
  if ! running "$2"; then
    echo "error: node $2 is not running" >&2
    exit 1
  fi
  kill "-$1" "$(cat "$(node_dir "$2")/pid")"
}

restart() {
  check_node "$1"
  if running "$1"; then
    echo "error: node $1 is running (kill it first)" >&2
    exit 1
  fi
  local from
  from=$(log_lines "$1")
  launch "$1"
  wait_started "$1" "$from"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if [ ! -f "$state/port" ]; then echo "stopped"; exit 1; fi
    for n in "${nodes[@]}"; do
      if running "$n"; then
        st=$(awk '{print $3}' "/proc/$(cat "$(node_dir "$n")/pid")/stat")
        echo "node $n: $([ "$st" = T ] && echo paused || echo running) on 127.0.0.1:$(client_port "$n")"
      else
        echo "node $n: stopped"
      fi
    done
    ;;
  kill) signal KILL "${2:-}"; rm -f "$(node_dir "$2")/pid" ;;
  pause) signal STOP "${2:-}" ;;
  resume) signal CONT "${2:-}" ;;
  restart) restart "${2:-}" ;;
  address) check_node "${2:-}"; echo "127.0.0.1:$(client_port "$2")" ;;
  dir) echo "$state" ;;
  *) echo "usage: $0 start|stop|status|kill N|restart N|pause N|resume N|address N|dir" >&2; exit 2 ;;
esac
