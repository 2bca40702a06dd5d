#!/usr/bin/env bash
# Stops what `PLATFORM_DETACH=1 scripts/platform.sh` left running: the apps, then the Kafka broker.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for f in .var/pids/*.pid; do [[ -f "$f" ]] && kill -TERM "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
sleep 1
bash infra/kafka/kafka.sh stop
