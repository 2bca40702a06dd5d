# Shared by scripts/platform.sh and scripts/test.sh: install everything and bring up Kafka and Postgres.
# Sourced, not run. Sets: ROOT, PNPM_VERSION; exports DATABASE_URL and KAFKA_BROKERS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="10.34.8"
cd "$ROOT"

say() { printf '\033[1m[pps]\033[0m %s\n' "$*" >&2; }

ensure_pnpm() {
  if [[ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]]; then
    say "installing pnpm $PNPM_VERSION with npm"
    npm install -g "pnpm@$PNPM_VERSION" --no-fund --no-audit >&2
  fi
}

# Debian's Chromium drives the browser tests (playwright-core cannot download its own browser here).
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 || [[ -n "${CHROMIUM_PATH:-}" ]]; then return; fi
  say "installing Chromium (apt-get) for the browser tests"
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
}

install_deps() {
  ensure_pnpm
  say "installing dependencies (pnpm install --frozen-lockfile)"
  pnpm install --frozen-lockfile >&2
}

KAFKA_STARTED_HERE=0
start_kafka() {
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then say "using Kafka at $KAFKA_BROKERS"; return; fi
  if ! bash infra/kafka/kafka.sh status; then
    bash infra/kafka/kafka.sh start
    KAFKA_STARTED_HERE=1
  else
    say "Kafka already running on 127.0.0.1:${KAFKA_PORT:-9092}"
  fi
  export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-9092}"
}

EMBEDDED_PG_PID=""
resolve_postgres() {
  # DATABASE_URL if set; else the local server; else an embedded Postgres kept running in the background.
  mkdir -p .var
  local url_file="$ROOT/.var/database-url"
  rm -f "$url_file"
  URL_FILE="$url_file" EMBEDDED_PG_DIR="$ROOT/.var/embedded-pg" pnpm --silent --filter @pps/db exec tsx src/cli/ensure-postgres.ts > "$ROOT/.var/ensure-postgres.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do
    [[ -s "$url_file" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  [[ -s "$url_file" ]] || { cat "$ROOT/.var/ensure-postgres.log" >&2; say "no Postgres available"; exit 1; }
  if kill -0 "$pid" 2>/dev/null; then EMBEDDED_PG_PID=$pid; say "started an embedded Postgres (no server at 127.0.0.1:5432)"; fi
  export DATABASE_URL="$(cat "$url_file")"
}

stop_started() {
  [[ -n "$EMBEDDED_PG_PID" ]] && kill "$EMBEDDED_PG_PID" 2>/dev/null || true
  if [[ "$KAFKA_STARTED_HERE" == 1 && "${KEEP_KAFKA:-0}" != 1 ]]; then bash infra/kafka/kafka.sh stop || true; fi
}
