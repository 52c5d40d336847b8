#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# PostgreSQL + Kafka on loopback: install when missing, start, and write
# var/infra.env for tests (`set -a; source var/infra.env; set +a`).
set -euo pipefail

LOG_TAG=infra
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HERE="$REPO_ROOT/deploy/local"
PG_PORT=${LER_PG_PORT:-55432}
KAFKA_PORT=${LER_KAFKA_PORT:-59092}
ENV_FILE="$VAR_DIR/infra.env"

usage() {
  cat <<EOF
Usage: deploy/local/infra.sh {up|down|status|--help}

  up      install (when missing) and start PostgreSQL (127.0.0.1:$PG_PORT) and
          Kafka (127.0.0.1:$KAFKA_PORT) side by side, then write var/infra.env:
            LER_TEST_PG_DSN=postgresql+asyncpg://ler:ler@127.0.0.1:$PG_PORT
            LER_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
          Idempotent: what already runs is left as it is.
  down    stop both (data is kept; the next 'up' reuses it)
  status  print both states; exit 0 only when both run

Ports and details: see deploy/local/postgres.sh --help and kafka.sh --help.
EOF
}

cmd_up() {
  local t0 pg_pid kafka_pid pg_rc=0 kafka_rc=0
  t0=$(now_s)
  mkdir -p "$LOG_DIR"
  # Both installs mostly wait on the network, so run the two in parallel.
  "$HERE/postgres.sh" start &
  pg_pid=$!
  "$HERE/kafka.sh" start &
  kafka_pid=$!
  wait "$pg_pid" || pg_rc=$?
  wait "$kafka_pid" || kafka_rc=$?
  ((pg_rc == 0)) || die "PostgreSQL failed to start (exit $pg_rc); see the messages above"
  ((kafka_rc == 0)) || die "Kafka failed to start (exit $kafka_rc); see the messages above"

  cat >"$ENV_FILE.tmp" <<EOF
# Written by deploy/local/infra.sh up; tests append a database name to the DSN.
LER_TEST_PG_DSN=postgresql+asyncpg://ler:ler@127.0.0.1:$PG_PORT
LER_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "infrastructure up in $(( $(now_s) - t0 ))s; settings in $ENV_FILE"
}

cmd_down() {
  local t0
  t0=$(now_s)
  "$HERE/kafka.sh" stop
  "$HERE/postgres.sh" stop
  log "infrastructure down in $(( $(now_s) - t0 ))s"
}

cmd_status() {
  local rc=0
  "$HERE/postgres.sh" status || rc=3
  "$HERE/kafka.sh" status || rc=3
  return "$rc"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
