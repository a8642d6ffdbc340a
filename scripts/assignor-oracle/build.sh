#!/usr/bin/env bash
# Builds the assignor oracle (Apache Kafka 4.4.0's own assignors behind a JSON-lines pipe,
# for tests/assignor_oracle.rs): the jars from Maven Central through pom.xml into
# .ci-cache/assignor-oracle/libs, AssignorOracle.java compiled next to them, and a launcher
# whose path it prints (scripts/test.sh exports it as KAFKA_SIM_ORACLE). The JVM keeps every
# exception's stack trace (-XX:-OmitStackTraceInFastThrow): the test recognises Java's one
# known failure by the method that throws.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${KAFKA_SIM_CACHE:-$root/.ci-cache}/assignor-oracle"
libs="$cache/libs"
if [ ! -f "$libs/.complete" ]; then
  echo "fetching kafka-clients and kafka-group-coordinator from Maven Central into $libs" >&2
  mkdir -p "$libs"
  # Maven 3.8 writes colour resets even in batch mode: strip escape sequences from its output
  mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime 2>&1 | sed $'s/\x1b\\[[0-9;]*m//g' >&2
  ls "$libs"/kafka-clients-*.jar "$libs"/kafka-group-coordinator-*.jar > /dev/null
  touch "$libs/.complete"
fi
cp="$(ls "$libs"/*.jar | tr '\n' ':')"
mkdir -p "$cache/classes"
javac -nowarn -Xlint:-removal -d "$cache/classes" -cp "$cp" "$here/src/AssignorOracle.java" >&2
cat > "$cache/oracle" <<LAUNCH
#!/usr/bin/env bash
exec java -XX:-OmitStackTraceInFastThrow -Dslf4j.internal.verbosity=ERROR -cp "$cache/classes:$cp" AssignorOracle
LAUNCH
chmod +x "$cache/oracle"
echo "$cache/oracle"
