#!/usr/bin/env bash
# The whole platform on this machine: dependencies, Kafka, Postgres, migrations, topics, all six apps.
# Ctrl-C stops the apps (and the Kafka broker, if this script started it).
# PLATFORM_DETACH=1 returns once every app is ready and leaves everything running (stop: scripts/platform-stop.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APPS=(payment-api router risk-stub notifier reconciler channel-sim)
declare -A PORTS=([payment-api]=7100 [router]=7101 [risk-stub]=7102 [notifier]=7103 [reconciler]=7104 [channel-sim]=7105)

started=$SECONDS
install_deps
start_kafka
resolve_postgres
say "applying migrations"
pnpm --silent db:migrate >&2
say "creating Kafka topics"
pnpm --silent topics:create >&2

mkdir -p .var/logs .var/pids
pids=()
cleanup() {
  say "stopping apps"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_started
}
if [[ "${PLATFORM_DETACH:-0}" != 1 ]]; then trap cleanup EXIT INT TERM; fi

# On this machine merchants' test receivers (and the benchmark's) listen on loopback: allow it here only.
export NOTIFY_ALLOWED_HOSTS="${NOTIFY_ALLOWED_HOSTS:-127.0.0.1}"
for app in "${APPS[@]}"; do
  # APP_NODE_FLAGS: extra node flags for every app, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a run.
  # shellcheck disable=SC2086
  PORT="${PORTS[$app]}" node ${APP_NODE_FLAGS:-} --import tsx "apps/$app/src/main.ts" > ".var/logs/$app.log" 2>&1 &
  pids+=($!)
  echo $! > ".var/pids/$app.pid"
done

for app in "${APPS[@]}"; do
  url="http://127.0.0.1:${PORTS[$app]}/readyz"
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then break; fi
    if ! kill -0 "$(cat ".var/pids/$app.pid")" 2>/dev/null; then say "$app exited; last log lines:"; tail -n 30 ".var/logs/$app.log" >&2; exit 1; fi
    sleep 0.2
  done
  curl -fsS -o /dev/null "$url" || { say "$app is not ready"; tail -n 30 ".var/logs/$app.log" >&2; exit 1; }
done

echo
echo "Payment product service is up ($((SECONDS - started)) s). Every /readyz answers 200."
printf '  %-12s %s\n' "kafka" "$KAFKA_BROKERS"
printf '  %-12s %s\n' "postgres" "$(sed -E 's#//([^:@/]+):[^@]*@#//\1:***@#' <<< "$DATABASE_URL")"
for app in "${APPS[@]}"; do printf '  %-12s http://127.0.0.1:%s   (logs: .var/logs/%s.log)\n' "$app" "${PORTS[$app]}" "$app"; done
echo

if [[ "${PLATFORM_DETACH:-0}" == 1 ]]; then exit 0; fi
echo "Ctrl-C stops everything."
wait -n "${pids[@]}" || true
say "an app exited; stopping the platform"
