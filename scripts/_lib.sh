# shellcheck shell=bash
# Shared helpers for the scripts in this folder (sourced, never run).
#
# Sets REPO (the checkout), TEST_DIR (${CHRIS_TEST_DIR:-$REPO/.chris-test}, git-ignored by a
# .gitignore written inside it), LOG (a per-script log under TEST_DIR) and SUDO (empty as root).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_DIR=${CHRIS_TEST_DIR:-$REPO/.chris-test}
mkdir -p "$TEST_DIR"
[ -f "$TEST_DIR/.gitignore" ] || printf '*\n' >"$TEST_DIR/.gitignore"
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive

# say MESSAGE: one progress line, prefixed with the script's name.
say() { printf '%s: %s\n' "$(basename "$0")" "$*"; }

# die MESSAGE: print to stderr and exit 1.
die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# step MESSAGE CMD [ARG...]: run CMD with its output appended to $LOG; print one line;
# on failure show the tail of the log and exit.
step() {
  local msg=$1; shift
  printf '%s: %s ... ' "$(basename "$0")" "$msg"
  local t0=$SECONDS
  if "$@" </dev/null >>"$LOG" 2>&1; then
    printf 'ok (%ss)\n' $((SECONDS - t0))
  else
    local rc=$?
    printf 'FAILED (exit %s)\n--- last lines of %s ---\n' "$rc" "$LOG"
    tail -n 40 "$LOG"
    exit "$rc"
  fi
}
