#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A private PostgreSQL cluster on loopback for tests, CI and `make up`.
#
# Uses Debian's server binaries (installed with apt when missing) but not the
# Debian-managed "main" cluster: the data lives under var/postgres/ in this
# checkout, owned by the `postgres` OS user, listening on 127.0.0.1 only.
set -euo pipefail

LOG_TAG=postgres
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${LER_PG_PORT:-55432}
PG_ROLE=ler
PG_PASSWORD=ler
PG_DATABASES=(ler_issuance ler_wallet ler_verification ler_intake ler_test)
START_TIMEOUT=${LER_PG_START_TIMEOUT:-60}

usage() {
  cat <<EOF
Usage: deploy/local/postgres.sh {install|start|stop|status|reset|--help}

  install  apt-get install Debian's postgresql when the server binaries
           (/usr/lib/postgresql/*/bin) are missing; a no-op otherwise
  start    install if needed, create the cluster on first use, start it on
           127.0.0.1:$PG_PORT and ensure role '$PG_ROLE' (password '$PG_PASSWORD') and the
           databases ${PG_DATABASES[*]};
           a no-op when already running
  stop     pg_ctl stop -m fast on this cluster only
  status   print whether it runs (exit 0) or not (exit 3)
  reset    stop and delete this cluster's data

Environment:
  LER_PG_PORT           TCP port on 127.0.0.1 (default 55432)
  LER_PG_BASE           where the cluster lives (default: <repo>/var/postgres,
                        or /var/tmp/ler-local-<hash>/postgres when the postgres
                        user cannot reach the checkout)
  LER_PG_START_TIMEOUT  seconds to wait for the server to accept connections (60)
EOF
}

# --- where things live ------------------------------------------------------

# Run a command as the postgres OS user, from a directory it can read (tools
# warn when the caller's working directory is not reachable).
as_pg() { (cd / && runuser -u postgres -- "$@"); }

# Newest /usr/lib/postgresql/<version>/bin holding a complete server + client.
find_pg_bin() {
  local dir
  for dir in $(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r); do
    if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres && -x $dir/psql && -x $dir/pg_isready ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

# The cluster's base directory.  The postgres user must be able to traverse
# every directory above its data dir; a checkout under e.g. /root is not, so
# fall back to a per-checkout directory under /var/tmp (and say so).
resolve_pg_base() {
  [[ -z ${PG_BASE:-} ]] || return 0
  if [[ -n ${LER_PG_BASE:-} ]]; then
    PG_BASE=$LER_PG_BASE
    return
  fi
  PG_BASE="$VAR_DIR/postgres"
  mkdir -p "$VAR_DIR"
  if id postgres >/dev/null 2>&1 && ! as_pg test -x "$VAR_DIR"; then
    local hash
    hash=$(printf '%s' "$REPO_ROOT" | sha1sum | cut -c1-12)
    PG_BASE="/var/tmp/ler-local-$hash/postgres"
    log "note: the postgres user cannot traverse $VAR_DIR; using $PG_BASE instead"
  fi
}

set_paths() {
  resolve_pg_base
  PG_DATA="$PG_BASE/data"
  PG_SOCKET_DIR="$PG_BASE/run"
  # A Unix socket path must fit in ~107 bytes; keep a margin.
  if (( ${#PG_SOCKET_DIR} + 20 > 100 )); then
    PG_SOCKET_DIR="/tmp/ler-pg-$(printf '%s' "$PG_BASE" | sha1sum | cut -c1-12)"
  fi
  if [[ $PG_BASE == "$VAR_DIR/postgres" ]]; then
    PG_LOG="$LOG_DIR/postgres.log"
  else
    PG_LOG="$PG_BASE/postgres.log"
  fi
}

# --- install ----------------------------------------------------------------

apt_lists_present() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }

# apt's chatter goes to this log; its tail is shown when something fails.
APT_LOG="$LOG_DIR/postgres-install.log"

apt_update() {
  apt-get update -q >>"$APT_LOG" 2>&1 || { show_log_tail "$APT_LOG"; die "apt-get update failed"; }
}

apt_install_once() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >>"$APT_LOG" 2>&1
}

# apt-get install; on failure (typically stale package lists) update and retry once.
apt_install() {
  apt_install_once "$@" && return 0
  log "apt-get install failed; refreshing package lists and retrying"
  apt_update
  apt_install_once "$@" || { show_log_tail "$APT_LOG"; die "apt-get install $* failed"; }
}

cmd_install() {
  if PG_BIN=$(find_pg_bin); then
    log "server binaries present in $PG_BIN"
    return 0
  fi
  require_root "installing PostgreSQL"
  local t0
  t0=$(now_s)
  mkdir -p "$LOG_DIR"
  log "server binaries missing under /usr/lib/postgresql/*/bin; installing Debian's postgresql (log $APT_LOG)"
  if ! apt_lists_present || ! apt-cache show postgresql >/dev/null 2>&1; then
    log "apt-get update (no usable package lists)"
    apt_update
  fi
  apt_install postgresql
  if ! PG_BIN=$(find_pg_bin); then
    # dpkg may believe the packages are installed while their files are gone
    # (a trimmed image); reinstalling the versioned packages restores them.
    local broken
    broken=$(dpkg-query -W -f='${Package} ${Status}\n' 'postgresql-[0-9]*' 'postgresql-client-[0-9]*' 2>/dev/null |
      awk '$NF == "installed" {print $1}' | tr '\n' ' ')
    [[ -n $broken ]] || die "apt installed postgresql but no server binaries appeared under /usr/lib/postgresql/*/bin"
    log "package(s) $broken are registered but their files are missing; reinstalling"
    # shellcheck disable=SC2086  # word splitting intended: a list of package names
    apt_install --reinstall $broken
    PG_BIN=$(find_pg_bin) || die "no complete server binaries under /usr/lib/postgresql/*/bin after reinstalling"
  fi
  id postgres >/dev/null 2>&1 || die "the postgres OS user is missing after installing postgresql"
  log "installed PostgreSQL ($PG_BIN) in $(( $(now_s) - t0 ))s"
}

# --- start ------------------------------------------------------------------

pg_running() { as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

# The port the running server actually listens on (line 4 of postmaster.pid).
running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

init_cluster() {
  log "creating cluster in $PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 --no-instructions >/dev/null
  # Our settings live in ler.conf (rewritten on every start); include it last.
  printf "\n# Settings for the LER local stack (deploy/local/postgres.sh).\ninclude_if_exists = 'ler.conf'\n" \
    >>"$PG_DATA/postgresql.conf"
}

write_config() {
  cat >"$PG_DATA/ler.conf" <<EOF
# Written by deploy/local/postgres.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
unix_socket_permissions = 0700
# Sized for a 2-core test box running many test connections at once.
max_connections = 200
shared_buffers = 256MB
EOF
  chown postgres: "$PG_DATA/ler.conf"
}

# Create role and databases when absent (idempotent; runs on every start).
ensure_role_and_databases() {
  local dbs_sql='' db
  for db in "${PG_DATABASES[@]}"; do
    dbs_sql+="SELECT 'CREATE DATABASE $db OWNER $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\\gexec"$'\n'
  done
  as_pg "$PG_BIN/psql" -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres \
    -X -q -v ON_ERROR_STOP=1 >/dev/null <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
$dbs_sql
EOF
}

# True when something else on the port already is a server we can use:
# role ler logs in with its password and every database exists.
foreign_server_usable() {
  local found
  found=$(PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_ROLE" -d ler_test -c "SELECT count(*) FROM pg_database WHERE datname IN ($(
      printf "'%s'," "${PG_DATABASES[@]}" | sed 's/,$//'))" 2>/dev/null) || return 1
  [[ $found == "${#PG_DATABASES[@]}" ]]
}

cmd_start() {
  local t0
  t0=$(now_s)
  PG_BIN=$(find_pg_bin) || cmd_install
  require_root "starting the cluster as the postgres user"
  set_paths
  if [[ -f $PG_DATA/PG_VERSION ]] && pg_running; then
    local actual
    actual=$(running_port)
    log "already running on 127.0.0.1:$actual (data $PG_DATA)"
    [[ $actual == "$PG_PORT" ]] || die "running on port $actual, not the requested $PG_PORT; run 'postgres.sh stop' first"
    ensure_role_and_databases
    return 0
  fi
  if port_in_use "$PG_PORT"; then
    if foreign_server_usable; then
      log "127.0.0.1:$PG_PORT is already served by a PostgreSQL with role $PG_ROLE and all databases" \
        "(not this checkout's cluster, e.g. another clone's); using it as it is"
      return 0
    fi
    die "127.0.0.1:$PG_PORT is already taken by another process; set LER_PG_PORT to a free port"
  fi

  mkdir -p "$PG_BASE" "$PG_SOCKET_DIR" "$(dirname "$PG_LOG")"
  chown postgres: "$PG_BASE" "$PG_SOCKET_DIR"
  chmod 0700 "$PG_SOCKET_DIR"
  touch "$PG_LOG" && chown postgres: "$PG_LOG"
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    [[ ! -e $PG_DATA || -z $(ls -A "$PG_DATA") ]] ||
      die "$PG_DATA exists but holds no cluster (no PG_VERSION); remove it or run 'postgres.sh reset'"
    init_cluster
  fi
  local data_major bin_major
  data_major=$(<"$PG_DATA/PG_VERSION")
  bin_major=$(basename "$(dirname "$PG_BIN")")
  [[ $data_major == "$bin_major" ]] ||
    die "cluster in $PG_DATA is PostgreSQL $data_major but the binaries are $bin_major; run 'postgres.sh reset'"
  write_config

  log "starting on 127.0.0.1:$PG_PORT (data $PG_DATA, log $PG_LOG)"
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" >/dev/null; then
    show_log_tail "$PG_LOG"
    die "PostgreSQL did not start within ${START_TIMEOUT}s"
  fi
  local i
  for ((i = 0; i < START_TIMEOUT * 5; i++)); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.2
  done
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    show_log_tail "$PG_LOG"
    die "PostgreSQL started but does not accept TCP connections on 127.0.0.1:$PG_PORT"
  fi
  ensure_role_and_databases
  log "ready on 127.0.0.1:$PG_PORT in $(( $(now_s) - t0 ))s (role $PG_ROLE, databases ${PG_DATABASES[*]})"
}

# --- stop / status / reset --------------------------------------------------

cmd_stop() {
  if ! PG_BIN=$(find_pg_bin); then
    log "no PostgreSQL binaries installed; nothing to stop"
    return 0
  fi
  set_paths
  if [[ ! -f $PG_DATA/PG_VERSION ]] || ! pg_running; then
    log "not running (data $PG_DATA)"
    return 0
  fi
  log "stopping (data $PG_DATA)"
  as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null
  log "stopped"
}

cmd_status() {
  if ! PG_BIN=$(find_pg_bin); then
    echo "postgres: not installed (no server binaries under /usr/lib/postgresql/*/bin)"
    return 3
  fi
  set_paths
  if [[ -f $PG_DATA/PG_VERSION ]] && pg_running; then
    echo "postgres: running on 127.0.0.1:$(running_port) (data $PG_DATA, log $PG_LOG)"
    return 0
  fi
  echo "postgres: not running (data $PG_DATA)"
  return 3
}

cmd_reset() {
  cmd_stop
  set_paths
  log "deleting $PG_DATA"
  rm -rf "$PG_DATA"
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
