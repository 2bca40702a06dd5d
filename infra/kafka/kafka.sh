#!/usr/bin/env bash
# Runs a single-node Apache Kafka (KRaft, combined broker+controller) for local work and tests.
#   infra/kafka/kafka.sh start    resolve the broker with Maven (cached), format storage once, start, wait for clients
#   infra/kafka/kafka.sh stop     stop the broker started here
#   infra/kafka/kafka.sh status   exit 0 when a broker answers on the port
#   infra/kafka/kafka.sh reset    stop and delete the local data
# If KAFKA_BROKERS is set, a cluster already exists: start does nothing (and stop only stops a broker started here).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${PPS_CACHE_DIR:-$root/.cache}/kafka"
var="${PPS_VAR_DIR:-$root/.var}/kafka"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
heap="${KAFKA_HEAP:-512m}"
pidfile="$var/broker.pid"

log() { printf '[kafka] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

resolve() {
  local version
  version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
  if [[ -f "$cache/libs/.complete-$version" ]]; then return 0; fi
  log "resolving org.apache.kafka:kafka_2.13:$version with Maven into $cache/libs"
  rm -rf "$cache/libs"
  mkdir -p "$cache/libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$cache/libs" >&2
  touch "$cache/libs/.complete-$version"
}

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

write_config() {
  mkdir -p "$var/data" "$var/logs"
  cat > "$var/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$var/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
}

run_java() {
  "$(java_bin)" -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$var/logs" \
    -cp "$cache/libs/*" "$@"
}

format_once() {
  if [[ -f "$var/data/meta.properties" ]]; then return 0; fi
  local cluster_id
  cluster_id="$(run_java kafka.tools.StorageTool random-uuid | tail -n 1)"
  log "formatting KRaft storage (cluster $cluster_id)"
  run_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$var/server.properties" >&2
}

start() {
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then log "KAFKA_BROKERS=$KAFKA_BROKERS is set: using that cluster"; return 0; fi
  if port_open "$port"; then log "a broker already listens on 127.0.0.1:$port"; return 0; fi
  resolve
  write_config
  format_once
  log "starting broker on 127.0.0.1:$port (logs: $var/logs)"
  nohup bash -c "$(declare -f run_java java_bin); here='$here'; var='$var'; cache='$cache'; heap='$heap'; run_java kafka.Kafka '$var/server.properties'" \
    > "$var/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  until port_open "$port"; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      log "broker exited during start; last log lines:"; tail -n 40 "$var/logs/stdout.log" "$var/logs/server.log" >&2 || true; exit 1
    fi
    if (( SECONDS > deadline )); then log "broker did not open its port in time"; exit 1; fi
    sleep 0.5
  done
  log "broker accepts connections on 127.0.0.1:$port"
}

stop() {
  # Only a broker this script started has a pid file; an external cluster (KAFKA_BROKERS) never does.
  if [[ ! -f "$pidfile" ]]; then log "no broker started here"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  # The pid is the bash wrapper; stop its java child first, then the wrapper.
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  pkill -KILL -P "$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) port_open "$port" ;;
  reset) stop; rm -rf "$var" ;;
  resolve) resolve ;;
  *) echo "usage: $0 start|stop|status|reset|resolve" >&2; exit 2 ;;
esac
