#!/usr/bin/env bash
# The java driver's program (src/driver/mod.rs describes the contract): Apache Kafka's
# kafka-clients 4.4.0 (the broker's version) from Maven Central, Client.java built with Maven
# into .ci-cache/java-driver on first use (again when the source changes), then run with
# the arguments given.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="${KAFKA_SIM_CACHE:-$root/.ci-cache}"
out="$cache/java-driver"
stamp=$(cat "$here/pom.xml" "$here"/src/main/java/ksim/*.java | cksum | cut -d' ' -f1)
mkdir -p "$cache"
if [ "$(cat "$out/.complete" 2> /dev/null || true)" != "$stamp" ]; then
  (
    flock 9
    if [ "$(cat "$out/.complete" 2> /dev/null || true)" != "$stamp" ]; then
      echo "building the java driver (kafka-clients 4.4.0 from Maven Central) into $out" >&2
      rm -rf "$out"
      mvn -q -B -f "$here/pom.xml" -Dout="$out/build" package dependency:copy-dependencies \
          -DoutputDirectory="$out/lib" -DincludeScope=runtime >&2
      echo "$stamp" > "$out/.complete"
    fi
  ) 9> "$cache/.java-driver.lock"
fi
if [ "${1:-}" = setup ]; then exit 0; fi  # set-up only (scripts/test.sh)
if [ "${1:-}" = defaults ]; then # the settings kafka-clients resolves by default (ksim.Defaults)
  exec java -cp "$out/build/java-driver-1.jar:$out/lib/*" ksim.Defaults
fi
exec java -cp "$out/build/java-driver-1.jar:$out/lib/*" ksim.Client "$@"
