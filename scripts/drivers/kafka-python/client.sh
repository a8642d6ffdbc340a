#!/usr/bin/env bash
# The kafka-python driver's program (src/driver/mod.rs describes the contract): kafka-python
# 3.0.12 — the version the kafka-python profile models — from PyPI into a virtualenv under
# .ci-cache/ on first use, then client.py with the arguments given.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="${KAFKA_SIM_CACHE:-$root/.ci-cache}"
venv="$cache/kafka-python-3.0.12"
mkdir -p "$cache"
if [ ! -f "$venv/.complete" ]; then
  (
    flock 9
    if [ ! -f "$venv/.complete" ]; then
      echo "installing kafka-python 3.0.12 from PyPI into $venv" >&2
      rm -rf "$venv"
      python3 -m venv "$venv" >&2
      "$venv/bin/pip" install -q --disable-pip-version-check kafka-python==3.0.12 >&2
      touch "$venv/.complete"
    fi
  ) 9> "$cache/.kafka-python.lock"
fi
if [ "${1:-}" = setup ]; then exit 0; fi  # set-up only (scripts/test.sh)
if [ "${1:-}" = defaults ]; then exec "$venv/bin/python" "$here/defaults.py"; fi  # its DEFAULT_CONFIGs
exec "$venv/bin/python" -u "$here/client.py" "$@"
