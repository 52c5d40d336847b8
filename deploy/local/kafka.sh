#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A single-node Apache Kafka 4 (KRaft: broker + controller in one JVM) on
# loopback for tests, CI and `make up`.
#
# The broker's jars come from Maven (deploy/local/kafka/pom.xml) into
# var/kafka/lib; it runs as `java -cp 'var/kafka/lib/*' kafka.Kafka`.
set -euo pipefail

LOG_TAG=kafka
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE="$REPO_ROOT/deploy/local/kafka"
POM="$HERE/pom.xml"
KAFKA_PORT=${LER_KAFKA_PORT:-59092}
CONTROLLER_PORT=${LER_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
HEAP_OPTS=${LER_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
START_TIMEOUT=${LER_KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${LER_KAFKA_STOP_TIMEOUT:-45}

KAFKA_DIR="$VAR_DIR/kafka"
LIB_DIR="$KAFKA_DIR/lib"
DATA_DIR="$KAFKA_DIR/data"
CONF_DIR="$KAFKA_DIR/config"
SERVER_PROPS="$CONF_DIR/server.properties"
LOG4J_PROPS="$CONF_DIR/log4j2.properties"
PORTS_FILE="$KAFKA_DIR/ports"
PID_FILE="$RUN_DIR/kafka.pid"
SERVER_LOG="$LOG_DIR/kafka.log"
CONSOLE_LOG="$LOG_DIR/kafka.out"
MAIN_CLASS=kafka.Kafka

usage() {
  cat <<EOF
Usage: deploy/local/kafka.sh {install|start|stop|status|reset|--help}

  install  resolve Kafka $(wanted_version) and its runtime dependencies with Maven
           into var/kafka/lib (a no-op when already there)
  start    install if needed, format the KRaft storage on first use, start the
           broker on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$CONTROLLER_PORT) and wait until
           it answers Metadata requests; a no-op when already running
  stop     SIGTERM the broker recorded in var/run/kafka.pid, SIGKILL after ${STOP_TIMEOUT}s
  status   print whether it runs and answers (exit 0) or not (exit 3)
  reset    stop and delete the broker's data (topics, offsets, cluster id)

Environment:
  LER_KAFKA_PORT             client listener port on 127.0.0.1 (default 59092)
  LER_KAFKA_CONTROLLER_PORT  KRaft controller port (default client port + 1)
  LER_KAFKA_VERSION          Kafka version to resolve (default: pom.xml's, $(pom_version))
  LER_KAFKA_HEAP_OPTS        JVM heap flags (default "-Xms256m -Xmx512m")
  LER_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 120)
  LER_MAVEN_REPO             Maven local repository (default: Maven's, ~/.m2/repository)
Logs: $SERVER_LOG (broker), $CONSOLE_LOG (JVM console)
EOF
}

pom_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1; }
wanted_version() { echo "${LER_KAFKA_VERSION:-$(pom_version)}"; }

# --- install ----------------------------------------------------------------

installed_version() { cat "$LIB_DIR/.installed" 2>/dev/null || true; }

check_java() {
  command -v java >/dev/null || die "java not found on PATH (Kafka 4 needs Java 17 or newer)"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [[ ${major%%.*} -ge 17 ]] 2>/dev/null || die "Kafka 4 needs Java 17 or newer; 'java' is version $major"
}

cmd_install() {
  local version
  version=$(wanted_version)
  if [[ $(installed_version) == "$version" && -f $LIB_DIR/kafka_2.13-$version.jar ]]; then
    log "Kafka $version already in $LIB_DIR"
    return 0
  fi
  check_java
  command -v mvn >/dev/null || die "mvn not found on PATH; it resolves Kafka's jars"
  local t0 tmp
  t0=$(now_s)
  log "resolving Kafka $version and its runtime dependencies with Maven"
  mkdir -p "$KAFKA_DIR" "$LOG_DIR"
  tmp="$KAFKA_DIR/lib.partial"
  rm -rf "$tmp"
  local mvn_args=(-B -q -f "$POM" -Dkafka.version="$version"
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp")
  [[ -n ${LER_MAVEN_REPO:-} ]] && mvn_args=(-Dmaven.repo.local="$LER_MAVEN_REPO" "${mvn_args[@]}")
  if ! mvn "${mvn_args[@]}" >"$LOG_DIR/kafka-install.log" 2>&1; then
    show_log_tail "$LOG_DIR/kafka-install.log"
    die "Maven could not resolve Kafka $version (full output in $LOG_DIR/kafka-install.log)"
  fi
  [[ -f $tmp/kafka_2.13-$version.jar ]] || die "Maven finished but $tmp has no kafka_2.13-$version.jar"
  # Swap the finished directory in, so an interrupted install never looks complete.
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  echo "$version" >"$LIB_DIR/.installed"
  log "installed Kafka $version ($(find "$LIB_DIR" -name '*.jar' | wc -l) jars) in $(( $(now_s) - t0 ))s"
}

# --- configuration ----------------------------------------------------------

write_config() {
  mkdir -p "$CONF_DIR" "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"
  cat >"$SERVER_PROPS" <<EOF
# Written by deploy/local/kafka.sh on every start; edits are overwritten.
# KRaft single node: this JVM is both broker and the only controller.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$DATA_DIR

# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Test-box behaviour: topics appear on first use, consumer groups settle at once.
num.partitions=3
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
# Room for a credential with embedded evidence (~2 MiB records).
message.max.bytes=2097152
replica.fetch.max.bytes=2097152
log.retention.hours=168
log.segment.bytes=67108864
EOF
  cat >"$LOG4J_PROPS" <<EOF
# Written by deploy/local/kafka.sh: broker logs to $SERVER_LOG.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $SERVER_LOG
appender.file.filePattern = $SERVER_LOG.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
# Per-request chatter is not useful on a test box.
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

# The JVM command line shared by the broker and the storage tool.
java_cmd() {
  local heap
  read -r -a heap <<<"$HEAP_OPTS"
  JAVA_CMD=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_PROPS"
    -cp "$LIB_DIR/*")
}

# kafka_java MAIN_CLASS ARGS...: run a Kafka class in the foreground.
kafka_java() {
  java_cmd
  "${JAVA_CMD[@]}" "$@"
}

# Format the KRaft storage once, with a random cluster id; refuse to reuse
# data formatted for other ports (the controller's address is stored in it).
format_storage_once() {
  local ports="$KAFKA_PORT $CONTROLLER_PORT"
  if [[ -f $DATA_DIR/meta.properties ]]; then
    if [[ -f $PORTS_FILE && $(<"$PORTS_FILE") != "$ports" ]]; then
      die "var/kafka/data was formatted for ports $(<"$PORTS_FILE"), not $ports; run 'kafka.sh reset' or use the old ports"
    fi
    return 0
  fi
  local cluster_id
  cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid | tail -n1)
  [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave an unexpected id: '$cluster_id'"
  log "formatting KRaft storage in $DATA_DIR (cluster id $cluster_id, standalone controller)"
  if ! kafka_java kafka.tools.StorageTool format --cluster-id "$cluster_id" \
    --config "$SERVER_PROPS" --standalone >"$LOG_DIR/kafka-format.log" 2>&1; then
    show_log_tail "$LOG_DIR/kafka-format.log"
    die "formatting the KRaft storage failed"
  fi
  echo "$ports" >"$PORTS_FILE"
}

# --- start / stop / status --------------------------------------------------

probe() { python3 "$HERE/probe.py" 127.0.0.1 "$KAFKA_PORT" 2; }

wait_ready() {
  local deadline=$(( $(now_s) + START_TIMEOUT )) summary
  while (( $(now_s) < deadline )); do
    if summary=$(probe 2>/dev/null); then
      echo "$summary"
      return 0
    fi
    if ! pid_alive "$PID_FILE" "$MAIN_CLASS"; then
      show_log_tail "$CONSOLE_LOG" 20
      show_log_tail "$SERVER_LOG"
      die "the broker exited during startup"
    fi
    sleep 0.5
  done
  show_log_tail "$SERVER_LOG"
  die "the broker did not answer Metadata requests on 127.0.0.1:$KAFKA_PORT within ${START_TIMEOUT}s"
}

cmd_start() {
  local t0 summary
  t0=$(now_s)
  if pid_alive "$PID_FILE" "$MAIN_CLASS"; then
    if [[ -f $PORTS_FILE && $(<"$PORTS_FILE") != "$KAFKA_PORT $CONTROLLER_PORT" ]]; then
      die "already running on ports $(<"$PORTS_FILE"), not $KAFKA_PORT $CONTROLLER_PORT; run 'kafka.sh stop' first"
    fi
    summary=$(wait_ready)
    log "already running (pid $(<"$PID_FILE")) on 127.0.0.1:$KAFKA_PORT: $summary"
    return 0
  fi
  if port_in_use "$KAFKA_PORT" && summary=$(probe 2>/dev/null); then
    log "127.0.0.1:$KAFKA_PORT is already served by a Kafka broker not started by this checkout" \
      "(e.g. another clone's); using it as it is ($summary)"
    return 0
  fi
  cmd_install
  check_java
  local port
  for port in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
    port_in_use "$port" && die "127.0.0.1:$port is already taken by another process; set LER_KAFKA_PORT to a free port"
  done
  write_config
  format_storage_once

  log "starting broker on 127.0.0.1:$KAFKA_PORT (log $SERVER_LOG)"
  # setsid gives the JVM its own session, so it outlives this shell and its
  # terminal; not being a group leader here, setsid execs in place, so $! is
  # the JVM's own pid.
  java_cmd
  setsid "${JAVA_CMD[@]}" "$MAIN_CLASS" "$SERVER_PROPS" </dev/null >>"$CONSOLE_LOG" 2>&1 &
  echo $! >"$PID_FILE"
  summary=$(wait_ready)
  log "ready on 127.0.0.1:$KAFKA_PORT in $(( $(now_s) - t0 ))s (pid $(<"$PID_FILE"), $summary)"
}

cmd_stop() { stop_pid "$PID_FILE" "$MAIN_CLASS" "Kafka broker" "$STOP_TIMEOUT"; }

cmd_status() {
  local summary
  if ! pid_alive "$PID_FILE" "$MAIN_CLASS"; then
    echo "kafka: not running"
    return 3
  fi
  if summary=$(probe 2>&1); then
    echo "kafka: running (pid $(<"$PID_FILE")) on 127.0.0.1:$KAFKA_PORT, $summary"
    return 0
  fi
  echo "kafka: process $(<"$PID_FILE") is up but does not answer on 127.0.0.1:$KAFKA_PORT ($summary)"
  return 3
}

cmd_reset() {
  cmd_stop
  log "deleting $DATA_DIR"
  rm -rf "$DATA_DIR" "$PORTS_FILE"
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
