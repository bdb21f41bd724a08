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
    # one build installed at a time on a machine (scripts/lib/machine-lock.sh)
    # shellcheck source=scripts/lib/machine-lock.sh
    . "$root/scripts/lib/machine-lock.sh"
    machine_lock demo
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
