#!/usr/bin/env bash
# Every test, from nothing: dependencies, Kafka, Postgres, then vitest (unit, integration and end-to-end).
# Extra arguments go to vitest (e.g. a path filter). VITEST_JSON_OUTPUT=file also writes vitest's JSON report.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started=$SECONDS
install_deps
ensure_chromium
start_kafka
resolve_postgres
trap stop_started EXIT
# Tests use their own database next to the platform's, recreated by the global setup on every run.
export TEST_DATABASE_URL="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/pps_test"; console.log(u.toString())' "$DATABASE_URL")"
export TEST_KAFKA_BROKERS="$KAFKA_BROKERS"
say "running the tests"
set +e
pnpm exec vitest run "$@"
code=$?
set -e
say "tests finished in $((SECONDS - started)) s (exit $code)"
exit $code
