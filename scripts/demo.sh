#!/usr/bin/env bash
# scripts/demo.sh -- `make demo`: see escalation work on a small helpdesk.
#
# 1. installs what is missing (scripts/install-deps.sh)
# 2. builds and installs the extension (scripts/build.sh)
# 3. starts a throwaway PostgreSQL cluster with escalation preloaded
#    (pg_virtualenv; it is removed again when the demo ends)
# 4. runs scripts/demo/*.sql in it: a helpdesk schema of its own, attached;
#    teams, agents, skills, accounts and rules; two weeks of tickets and
#    messages, replayed write by write; then a report of what happened.
#
# Deterministic: the same rows, timestamps and escalations on every run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ -z "${ESC_DEMO_INSIDE:-}" ]; then
    # one build installed at a time on a machine (scripts/test.sh and
    # bench/run take the same lock)
    lock="${TMPDIR:-/tmp}/escalation-machine.lock"
    if [ -z "${ESCALATION_MACHINE_LOCKED:-}" ] && command -v flock >/dev/null \
        && { [ -w "$lock" ] || { [ ! -e "$lock" ] && [ -w "$(dirname "$lock")" ]; }; }; then
        exec 9>>"$lock"
        chmod 666 "$lock" 2>/dev/null || true
        if ! flock -n 9; then
            echo "==> demo: a test run or benchmark is using this machine's installation; waiting"
            flock 9
        fi
        export ESCALATION_MACHINE_LOCKED=1
    fi
    scripts/install-deps.sh
    scripts/build.sh
    echo "==> demo: starting a throwaway PostgreSQL cluster with escalation preloaded"
    venv=(pg_virtualenv)
    [ "$(id -u)" = 0 ] && venv+=(-t)     # a private cluster directory, even as root
    ESC_DEMO_INSIDE=1 exec "${venv[@]}" -o shared_preload_libraries=escalation -o fsync=off \
        -o escalation.worker_enabled=off \
        bash "$root/scripts/demo.sh"
fi

# ------------------------------------------------------------------ inside the cluster
export PGTZ=UTC PGDATESTYLE='ISO, YMD'
cat <<'TXT'

escalation demo
===============
A small SaaS company, "Helio", runs its helpdesk on PostgreSQL: a tickets
table and a messages table in a schema of its own (helpdesk). We attach
escalation to those tables, describe teams, agents, accounts and rules as
rows, and let two weeks of support traffic flow in. The escalation
triggers judge every ticket and every customer message as it is written.
TXT
for f in scripts/demo/0*.sql; do
    psql -X -q -v ON_ERROR_STOP=1 -P footer=off -P null=- -f "$f"
done
echo
echo "==> demo: done; the throwaway cluster is removed now"
