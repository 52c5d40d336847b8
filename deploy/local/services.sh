#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The four LER services as separate local processes against the loopback
# PostgreSQL and Kafka of deploy/local/infra.sh (the "real" mode of `make up`).
#
# Each service gets its own ports, database and log; pid files live in
# var/run/<name>.pid and stop signals only those recorded processes.
set -euo pipefail

LOG_TAG=services
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=(issuance wallet verification intake)
GRPC_PORT_BASE=${LER_GRPC_PORT_BASE:-50051}
HTTP_PORT_BASE=${LER_HTTP_PORT_BASE:-8081}
PG_PORT=${LER_PG_PORT:-55432}
KAFKA_PORT=${LER_KAFKA_PORT:-59092}
START_TIMEOUT=${LER_SERVICES_START_TIMEOUT:-60}
STOP_TIMEOUT=${LER_SERVICES_STOP_TIMEOUT:-20}
# How a service is launched; the module name (ler_<name>) is appended.
RUNNER=${LER_SERVICES_RUNNER:-}

usage() {
  cat <<EOF
Usage: deploy/local/services.sh {start|stop|status|--help} [service...]

  start   start each service (default: all of ${SERVICES[*]})
          in the background and wait until its gRPC and HTTP ports accept
          connections; services already running are left alone
  stop    SIGTERM each service's process group (pid in var/run/<name>.pid), SIGKILL after ${STOP_TIMEOUT}s
  status  print each service's state; exit 0 only when all asked for run

Per service (n = 0..3 in the order ${SERVICES[*]}):
  LER_GRPC_HOST=LER_HTTP_HOST=127.0.0.1
  LER_GRPC_PORT=$GRPC_PORT_BASE+n  LER_HTTP_PORT=$HTTP_PORT_BASE+n
  LER_DATABASE_URL=postgresql+asyncpg://ler:ler@127.0.0.1:$PG_PORT/ler_<name>
  LER_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
Cross-service wiring and local credentials (var/run/credentials.env, 0600, made once):
  all        LER_KEK (development key-encryption key)
  issuance   LER_OPERATOR_TOKEN, HTTPS status lists with var/run/tls/{cert,key}.pem
  verification  trusts that certificate for loopback fetches (LER_FETCH_CA_FILE)
  intake     LER_VERIFICATION_GRPC_TARGET, LER_VERIFICATION_API_KEY (service identity
             "intake-local" at verification, given a fresh key at each start with
             'ler-verification add-tenant --rotate-key'; the key is never stored),
             LER_OPERATOR_API_KEY, LER_CLIENT_API_KEY
The file also names them for clients (LER_ISSUANCE_OPERATOR_TOKEN, LER_INTAKE_OPERATOR_KEY,
LER_INTAKE_CLIENT_KEY): 'make journey' sources it for 'ler journey'.
Logs: var/log/<name>.log.  Start the infrastructure first: deploy/local/infra.sh up

Environment:
  LER_GRPC_PORT_BASE, LER_HTTP_PORT_BASE  first ports (50051, 8081)
  LER_PG_PORT, LER_KAFKA_PORT             infrastructure ports (55432, 59092)
  LER_SERVICES_START_TIMEOUT              seconds to wait for each service's ports (60)
  LER_SERVICES_RUNNER                     launcher (default "uv run python -m")
EOF
}

index_of() {
  local i
  for i in "${!SERVICES[@]}"; do
    [[ ${SERVICES[$i]} == "$1" ]] && { echo "$i"; return 0; }
  done
  die "unknown service '$1' (known: ${SERVICES[*]})"
}

grpc_port() { echo $((GRPC_PORT_BASE + $(index_of "$1"))); }
http_port() { echo $((HTTP_PORT_BASE + $(index_of "$1"))); }
pid_file() { echo "$RUN_DIR/$1.pid"; }
log_file() { echo "$LOG_DIR/$1.log"; }
module() { echo "ler_$1"; }

runner() {
  if [[ -n $RUNNER ]]; then
    read -r -a RUNNER_CMD <<<"$RUNNER"
  elif command -v uv >/dev/null; then
    RUNNER_CMD=(uv run python -m)
  else
    RUNNER_CMD=(python3 -m uv run python -m)
  fi
}

CREDENTIALS_FILE="$RUN_DIR/credentials.env"
TLS_DIR="$RUN_DIR/tls"

random_token() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

# Development credentials, made once and kept in a file only its owner can read.
ensure_credentials() {
  if [[ ! -s $CREDENTIALS_FILE ]]; then
    (
      umask 077
      {
        echo "# Written by deploy/local/services.sh: development credentials of the local stack."
        echo "LER_KEK=$(random_token)"
        echo "LER_ISSUANCE_OPERATOR_TOKEN=$(random_token)"
        echo "LER_INTAKE_OPERATOR_KEY=$(random_token)"
        echo "LER_INTAKE_CLIENT_KEY=$(random_token)"
      } >"$CREDENTIALS_FILE"
    )
    log "wrote development credentials to $CREDENTIALS_FILE"
  fi
  # shellcheck disable=SC1090
  source "$CREDENTIALS_FILE"
  if [[ ! -s $TLS_DIR/cert.pem || ! -s $TLS_DIR/key.pem ]]; then
    runner
    (cd "$REPO_ROOT" && "${RUNNER_CMD[@]}" ler_cli.journey.tls "$TLS_DIR" >/dev/null)
    log "made a loopback TLS certificate for issuance's status lists in $TLS_DIR"
  fi
}

# Settings wiring one service to the others (exported in the launching subshell).
service_env() {
  local name=$1
  export LER_KEK
  case $name in
    issuance)
      export LER_OPERATOR_TOKEN=$LER_ISSUANCE_OPERATOR_TOKEN
      export LER_HTTP_TLS_CERT=$TLS_DIR/cert.pem LER_HTTP_TLS_KEY=$TLS_DIR/key.pem
      ;;
    verification)
      # issuance's status lists are on loopback under the local certificate
      export LER_FETCH_ALLOW_PRIVATE=true LER_FETCH_CA_FILE=$TLS_DIR/cert.pem
      ;;
    intake)
      local target
      target="127.0.0.1:$(grpc_port verification)"
      export LER_VERIFICATION_GRPC_TARGET=$target
      export LER_VERIFICATION_API_KEY=$INTAKE_VERIFICATION_KEY
      export LER_OPERATOR_API_KEY=$LER_INTAKE_OPERATOR_KEY LER_CLIENT_API_KEY=$LER_INTAKE_CLIENT_KEY
      ;;
  esac
}

# intake's service identity at verification (migrates verification's database first, so it
# runs before verification is launched). One identity, a new key per start (the previous one
# stops working): the key is never stored.
intake_verification_key() {
  runner
  (
    cd "$REPO_ROOT"
    LER_DATABASE_URL="postgresql+asyncpg://ler:ler@127.0.0.1:$PG_PORT/ler_verification" \
      LER_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" LER_KEK=$LER_KEK LER_LOG_LEVEL=WARNING \
      "${RUNNER_CMD[@]}" ler_verification add-tenant intake-local Intake --service --rotate-key \
      2>>"$(log_file verification)" | tail -n 1
  )
}

launch() {
  local name=$1 grpc http
  grpc=$(grpc_port "$name")
  http=$(http_port "$name")
  for port in "$grpc" "$http"; do
    port_in_use "$port" && die "$name: 127.0.0.1:$port is already taken by another process"
  done
  runner
  log "starting $name (gRPC :$grpc, HTTP :$http, log $(log_file "$name"))"
  printf '\n===== %s start %s =====\n' "$name" "$(date -u +%FT%TZ)" >>"$(log_file "$name")"
  # setsid: a process group of its own (uv and the Python it spawns), which
  # stop signals as a whole; it execs in place, so $! is the group's leader.
  (
    cd "$REPO_ROOT"
    export LER_GRPC_HOST=127.0.0.1 LER_GRPC_PORT=$grpc LER_HTTP_HOST=127.0.0.1 LER_HTTP_PORT=$http
    export LER_DATABASE_URL="postgresql+asyncpg://ler:ler@127.0.0.1:$PG_PORT/ler_$name"
    export LER_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
    service_env "$name"
    exec setsid "${RUNNER_CMD[@]}" "$(module "$name")"
  ) </dev/null >>"$(log_file "$name")" 2>&1 &
  echo $! >"$(pid_file "$name")"
}

# Wait until the service's ports accept connections; fail if it exits.
wait_ready() {
  local name=$1 deadline grpc http pid
  grpc=$(grpc_port "$name")
  http=$(http_port "$name")
  deadline=$(( $(now_s) + START_TIMEOUT ))
  pid=$(<"$(pid_file "$name")")
  while (( $(now_s) < deadline )); do
    # Plain kill -0: we just started this pid (its command line may not show
    # the module yet while the launcher is still exec'ing).
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      show_log_tail "$(log_file "$name")" 20
      log "$name exited during startup (exit status $rc)"
      return 1
    fi
    if tcp_open 127.0.0.1 "$grpc" && tcp_open 127.0.0.1 "$http"; then
      log "$name ready (pid $pid, gRPC :$grpc, HTTP :$http)"
      return 0
    fi
    sleep 0.3
  done
  show_log_tail "$(log_file "$name")" 20
  log "$name did not open 127.0.0.1:$grpc and :$http within ${START_TIMEOUT}s"
  return 1
}

cmd_start() {
  local t0 name failed=()
  t0=$(now_s)
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  tcp_open 127.0.0.1 "$PG_PORT" || die "PostgreSQL is not up on 127.0.0.1:$PG_PORT; run deploy/local/infra.sh up"
  tcp_open 127.0.0.1 "$KAFKA_PORT" || die "Kafka is not up on 127.0.0.1:$KAFKA_PORT; run deploy/local/infra.sh up"
  ensure_credentials
  local started=() to_start=()
  for name in "$@"; do
    if pid_alive "$(pid_file "$name")" "$(module "$name")"; then
      log "$name already running (pid $(<"$(pid_file "$name")"))"
    else
      to_start+=("$name")
    fi
  done
  INTAKE_VERIFICATION_KEY=
  if [[ " ${to_start[*]-} " == *" intake "* ]]; then
    INTAKE_VERIFICATION_KEY=$(intake_verification_key) ||
      die "could not register intake's service identity at verification (see $(log_file verification))"
    [[ -n $INTAKE_VERIFICATION_KEY ]] || die "ler-verification add-tenant printed no key"
  fi
  for name in ${to_start[@]+"${to_start[@]}"}; do
    launch "$name"
    started+=("$name")
  done
  for name in ${started[@]+"${started[@]}"}; do
    wait_ready "$name" || failed+=("$name")
  done
  if ((${#failed[@]})); then
    die "not started: ${failed[*]} (logs in var/log/; 'services.sh stop' cleans up the rest)"
  fi
  log "services up in $(( $(now_s) - t0 ))s: $*"
}

cmd_stop() {
  local name
  for name in "$@"; do
    stop_pid "$(pid_file "$name")" "$(module "$name")" "$name" "$STOP_TIMEOUT" group
  done
}

cmd_status() {
  local name rc=0
  for name in "$@"; do
    if pid_alive "$(pid_file "$name")" "$(module "$name")"; then
      echo "$name: running (pid $(<"$(pid_file "$name")"), gRPC :$(grpc_port "$name"), HTTP :$(http_port "$name"))"
    else
      echo "$name: not running"
      rc=3
    fi
  done
  return "$rc"
}

command=${1:-}
shift || true
if (($# == 0)); then
  set -- "${SERVICES[@]}"
fi
for name in "$@"; do index_of "$name" >/dev/null; done

case $command in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
