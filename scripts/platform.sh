#!/usr/bin/env bash
# The whole platform on this machine: dependencies, Kafka, Postgres, migrations, topics, all six apps.
# Each app is supervised: a crashed app is restarted with back-off (1 s doubling to 30 s) and the restart printed.
# Ctrl-C (or SIGTERM to this script) stops the apps (and the Kafka broker, if this script started it).
# PLATFORM_DETACH=1 returns once every app is ready and leaves the supervisor running in the background
# (stop: scripts/platform-stop.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APPS=(payment-api router risk-stub notifier reconciler channel-sim)

if [[ "${PLATFORM_DETACH:-0}" == 1 && -z "${PLATFORM_SUPERVISOR:-}" ]]; then
  # Detached: the same script runs in the background as the supervisor (its own session, so closing this
  # terminal does not stop it); this one returns once every app is ready.
  mkdir -p .var/logs
  if [[ -f .var/platform.pid ]] && kill -0 "$(cat .var/platform.pid)" 2>/dev/null; then
    say "already running (pid $(cat .var/platform.pid)); bash scripts/platform-stop.sh stops it"; exit 1
  fi
  rm -f .var/platform.ready
  PLATFORM_SUPERVISOR=1 setsid bash "${BASH_SOURCE[0]}" > .var/logs/platform.log 2>&1 < /dev/null &
  echo $! > .var/platform.pid
  say "starting in the background (pid $!, log: .var/logs/platform.log)"
  until [[ -f .var/platform.ready ]]; do
    if ! kill -0 "$(cat .var/platform.pid)" 2>/dev/null; then tail -n 40 .var/logs/platform.log >&2; rm -f .var/platform.pid; exit 1; fi
    sleep 0.5
  done
  sed -n '/Payment product service is up/,$p' .var/logs/platform.log
  exit 0
fi
if [[ -n "${PLATFORM_SUPERVISOR:-}" ]]; then mkdir -p .var && echo $$ > .var/platform.pid; fi
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
rm -f .var/pids/*.pid

# Supervises one app as Kubernetes would: a crashed app is restarted after a back-off that doubles from 1 s to
# 30 s and starts again from 1 s once the app has stayed up for RESTART_RESET_SECONDS. TERM (or INT) stops it:
# the app gets one SIGTERM and its graceful shutdown, and is not restarted.
supervise() {
  set +e
  local app="$1" restarts=0 delay=1 child="" code started_at stopping=0
  trap 'stopping=1; [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null' TERM INT
  while [[ $stopping == 0 ]]; do
    started_at=$SECONDS
    # Its own session: a Ctrl-C in the terminal reaches the supervisor, never the app (a second signal during
    # its shutdown would end it at once).
    # APP_NODE_FLAGS: extra node flags for every app, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a run.
    # shellcheck disable=SC2086
    PORT="${PORTS[$app]}" setsid node ${APP_NODE_FLAGS:-} --import tsx "apps/$app/src/main.ts" >> ".var/logs/$app.log" 2>&1 < /dev/null &
    child=$!
    echo "$child" > ".var/pids/$app.pid"
    # wait returns early when a trapped signal arrives: wait again until the app itself has exited.
    while :; do
      wait "$child" 2>/dev/null
      code=$?
      kill -0 "$child" 2>/dev/null || break
    done
    child=""
    rm -f ".var/pids/$app.pid"
    [[ $stopping == 1 ]] && break
    if (( SECONDS - started_at >= ${RESTART_RESET_SECONDS:-60} )); then delay=1; fi
    restarts=$((restarts + 1))
    say "$app exited with $code; restarting in $delay s (restart $restarts)"
    echo "[pps] exited with $code; restarting in $delay s (restart $restarts)" >> ".var/logs/$app.log"
    sleep "$delay" & wait $! 2>/dev/null || true
    delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
  done
}

supervisors=()
cleanup() {
  trap - EXIT INT TERM
  say "stopping apps"
  for p in "${supervisors[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${supervisors[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_started
  rm -f .var/platform.pid .var/platform.ready
  say "stopped"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# On this machine merchants' test receivers (and the benchmark's) listen on loopback: allow it here only.
export NOTIFY_ALLOWED_HOSTS="${NOTIFY_ALLOWED_HOSTS:-127.0.0.1}"
for app in "${APPS[@]}"; do
  : > ".var/logs/$app.log"
  supervise "$app" &
  supervisors+=($!)
done

for app in "${APPS[@]}"; do
  url="http://127.0.0.1:${PORTS[$app]}/readyz"
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then break; fi
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
touch .var/platform.ready
if [[ -n "${PLATFORM_SUPERVISOR:-}" ]]; then
  echo "Supervising in the background (pid $$); bash scripts/platform-stop.sh stops everything."
else
  echo "A crashed app is restarted with back-off. Ctrl-C stops everything."
fi
# Until a signal: the supervisors run until they are told to stop.
wait "${supervisors[@]}" || true
