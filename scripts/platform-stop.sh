#!/usr/bin/env bash
# Stops what `PLATFORM_DETACH=1 scripts/platform.sh` left running: its supervisor stops the apps (each finishes
# its graceful shutdown: consumers commit, relays drain) and the Kafka broker it started, then exits.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -f .var/platform.pid ]]; then
  supervisor="$(cat .var/platform.pid)"
  if kill -TERM "$supervisor" 2>/dev/null; then
    # Up to the apps' shutdown limit (SHUTDOWN_TIMEOUT_MS, 15 s by default) plus the broker's stop and a margin.
    for _ in $(seq 1 90); do kill -0 "$supervisor" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$supervisor" 2>/dev/null && echo "[pps] the supervisor ($supervisor) did not stop in time" >&2
  fi
  rm -f .var/platform.pid
fi
# Apps still running (a supervisor that was killed, or one of an older platform.sh): stop them directly.
pids=()
for f in .var/pids/*.pid; do
  [[ -f "$f" ]] || continue
  pid="$(cat "$f")"
  kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  rm -f "$f"
done
for _ in $(seq 1 40); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [[ $alive == 0 ]] && break
  sleep 0.5
done
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null && echo "[pps] app $pid did not stop in time; killed" >&2; done
# Without a supervisor nothing else stops the broker a platform.sh of this checkout started (only that one).
if [[ ${#pids[@]} -gt 0 ]]; then bash infra/kafka/kafka.sh stop; fi
