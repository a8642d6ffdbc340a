#!/usr/bin/env bash
# A real Apache Kafka broker for the cross-check tests, without Docker:
#   scripts/kafka-broker.sh start   -> prints the bootstrap address (127.0.0.1:PORT)
#   scripts/kafka-broker.sh stop
#   scripts/kafka-broker.sh status
# Kafka itself (org.apache.kafka:kafka_2.13 and its runtime dependencies) comes from Maven
# Central through scripts/kafka/pom.xml, cached in .ci-cache/kafka-libs. The broker is a
# single KRaft node (broker + controller) on 127.0.0.1 with its storage in a temporary
# directory, group.initial.rebalance.delay.ms=0, and no topic auto-creation. It listens on two
# free ports it picks (or KAFKA_SIM_BROKER_PORT and the one after), so two checkouts never
# collide; the port of a running broker is kept in its state directory.
# KAFKA_SIM_BROKER_STATE names another state directory (a second broker beside the first);
# KAFKA_SIM_BROKER_INITIAL_DELAY_MS sets group.initial.rebalance.delay.ms (default 0).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${KAFKA_SIM_CACHE:-$root/.ci-cache}"
libs="$cache/kafka-libs"
state="${KAFKA_SIM_BROKER_STATE:-$cache/broker}"

# Whether something listens on 127.0.0.1:$1.
in_use() {
  (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

# Two adjacent free ports, from a start that differs per process.
pick_ports() {
  local p=$((20000 + ($$ * 7919) % 40000))
  for _ in $(seq 1 200); do
    if ! in_use "$p" && ! in_use $((p + 1)); then
      echo "$p"
      return
    fi
    p=$((p + 2))
    if [ "$p" -ge 65000 ]; then p=20000; fi
  done
  echo "error: found no two free adjacent ports on 127.0.0.1" >&2
  exit 1
}

fetch() {
  if [ -f "$libs/.complete" ]; then return; fi
  echo "fetching Apache Kafka from Maven Central into $libs" >&2
  mkdir -p "$libs"
  # Maven 3.8 writes colour resets even in batch mode: strip escape sequences from its output
  mvn -q -B -Dstyle.color=never -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime 2>&1 | sed $'s/\x1b\\[[0-9;]*m//g' >&2
  ls "$libs"/kafka_2.13-*.jar > /dev/null
  touch "$libs/.complete"
}

# Whether the pid file names a live Kafka broker of this state directory (a stale pid file,
# whose number the system may have given to another process since, is never trusted).
running() {
  [ -f "$state/pid" ] || return 1
  local pid
  pid=$(cat "$state/pid")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "kafka.Kafka $state/server.properties"
}

port_of_running() {
  cat "$state/port"
}

start() {
  if running; then echo "127.0.0.1:$(port_of_running)"; return; fi
  local port cport
  if [ -n "${KAFKA_SIM_BROKER_PORT:-}" ]; then
    port=$KAFKA_SIM_BROKER_PORT
    for p in "$port" $((port + 1)); do
      if in_use "$p"; then
        echo "error: port $p on 127.0.0.1 is taken (KAFKA_SIM_BROKER_PORT=$port needs it and the next); unset KAFKA_SIM_BROKER_PORT to let the script pick free ones" >&2
        exit 1
      fi
    done
  else
    port=$(pick_ports)
  fi
  cport=$((port + 1))
  fetch
  rm -rf "$state"
  mkdir -p "$state/data"
  echo "$port" > "$state/port"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=${KAFKA_SIM_BROKER_INITIAL_DELAY_MS:-0}
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
PROPS
  cat > "$state/log4j2.properties" <<'LOG'
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
LOG
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC "-Dkafka.logs.dir=$state" "-Dlog4j2.configurationFile=$state/log4j2.properties")
  local id
  id=$(java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool random-uuid 2> "$state/format.err")
  java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$id" \
      -c "$state/server.properties" --standalone > "$state/format.log" 2>> "$state/format.err"
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$state/server.properties" \
      > "$state/stdout.log" 2>&1 &
  echo $! > "$state/pid"
  for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$state/server.log" 2> /dev/null; then
      echo "127.0.0.1:$port"
      return
    fi
    if ! running; then
      local cause
      cause=$(grep -h -m1 -E " (ERROR|FATAL) " "$state/server.log" "$state/stdout.log" 2> /dev/null | head -1 || true)
      echo "error: the Kafka broker exited during start-up: ${cause:-no error in its log}; see $state/server.log" >&2
      rm -f "$state/pid"
      exit 1
    fi
    sleep 1
  done
  echo "error: the Kafka broker did not start within 120 s; see $state/server.log" >&2
  stop
  exit 1
}

stop() {
  if running; then
    local pid
    pid=$(cat "$state/pid")
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 1
    done
    kill -9 "$pid" 2> /dev/null || true
  fi
  rm -f "$state/pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running on 127.0.0.1:$(port_of_running)"; else echo "stopped"; exit 1; fi ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
esac
