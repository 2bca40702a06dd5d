#!/usr/bin/env bash
# Stops what `PLATFORM_DETACH=1 scripts/platform.sh` left running: the apps (each finishes its graceful
# shutdown: consumers commit, relays drain), then the Kafka broker they were talking to.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pids=()
for f in .var/pids/*.pid; do
  [[ -f "$f" ]] || continue
  pid="$(cat "$f")"
  kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  rm -f "$f"
done
# Up to the apps' shutdown limit (SHUTDOWN_TIMEOUT_MS, 15 s by default) plus a margin.
for _ in $(seq 1 40); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [[ $alive == 0 ]] && break
  sleep 0.5
done
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null && echo "[pps] app $pid did not stop in time; killed" >&2; done
bash infra/kafka/kafka.sh stop
