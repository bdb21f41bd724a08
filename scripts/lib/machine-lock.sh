# scripts/lib/machine-lock.sh -- sourced, not run.
#
# machine_lock WHO: one test run, demo or benchmark at a time on a machine.
# Each builds and installs its own escalation.so and install script into the
# one PostgreSQL installation, so two at once would run each other's builds
# (and two benchmarks would measure each other).  The lock is held on file
# descriptor 9 until the calling shell exits; nested callers (a test run
# that starts a benchmark) see ESCALATION_MACHINE_LOCKED and do not wait on
# themselves.  Without flock, or without a writable lock file, it does
# nothing.
machine_lock() {
    local who=$1
    local lock="${TMPDIR:-/tmp}/escalation-machine.lock"
    [ -z "${ESCALATION_MACHINE_LOCKED:-}" ] || return 0
    command -v flock >/dev/null || return 0
    { [ -w "$lock" ] || { [ ! -e "$lock" ] && [ -w "$(dirname "$lock")" ]; }; } || return 0
    exec 9>>"$lock"
    chmod 666 "$lock" 2>/dev/null || true
    if ! flock -n 9; then
        echo "==> $who: another test run, demo or benchmark is using this machine's installation; waiting" >&2
        flock 9
    fi
    export ESCALATION_MACHINE_LOCKED=1
}
