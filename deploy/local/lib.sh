# shellcheck shell=bash
# Shared helpers for the deploy/local scripts.  Source it; do not run it.
#
# Sets REPO_ROOT (resolved from this file's location, so the scripts work from
# any working directory and from any clone) and VAR_DIR (gitignored state:
# data, logs, pid files, caches).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
VAR_DIR="$REPO_ROOT/var"
# shellcheck disable=SC2034  # used by the scripts that source this file
LOG_DIR="$VAR_DIR/log"
# shellcheck disable=SC2034
RUN_DIR="$VAR_DIR/run"

# Messages go to stderr so stdout stays clean for callers that capture it.
log() { printf '[%s] %s\n' "${LOG_TAG:-deploy}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-deploy}" "$*" >&2; exit 1; }

# Whole seconds since the epoch, for the timings the scripts print.
now_s() { date +%s; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "$1 needs root (it installs packages / switches to the postgres user)"
}

# Print the last lines of a log file, indented, to help explain a failure.
show_log_tail() {
  local file=$1 lines=${2:-40}
  if [[ -f $file ]]; then
    printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2 || true
    printf -- '----- end of %s -----\n' "$file" >&2
  else
    printf '(no log file at %s)\n' "$file" >&2
  fi
}

# pid_alive PIDFILE PATTERN: true when the pid in PIDFILE is a live process
# whose command line contains PATTERN (guards against a recycled pid).
pid_alive() {
  local pidfile=$1 pattern=$2 pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# stop_pid PIDFILE PATTERN NAME TIMEOUT [group]: SIGTERM the recorded pid (or,
# with "group", its process group, which the scripts create with setsid), wait
# up to TIMEOUT seconds, then SIGKILL.  Only ever signals the recorded pid.
stop_pid() {
  local pidfile=$1 pattern=$2 name=$3 timeout=$4 scope=${5:-process} pid target i
  if ! pid_alive "$pidfile" "$pattern"; then
    log "$name is not running"
    rm -f "$pidfile"
    return 0
  fi
  pid=$(<"$pidfile")
  target=$pid
  [[ $scope == group ]] && target="-$pid"
  log "stopping $name (pid $pid, SIGTERM)"
  kill -TERM -- "$target" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not exit within ${timeout}s; sending SIGKILL"
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

# tcp_open HOST PORT: true when something accepts a TCP connection there.
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# port_in_use PORT: true when something on 127.0.0.1 already listens on PORT.
port_in_use() { tcp_open 127.0.0.1 "$1"; }
