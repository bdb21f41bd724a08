#!/usr/bin/env bash
# test/upgrade/run.sh -- the upgrade test (issue 8 §6), run by scripts/test.sh
# inside its throwaway cluster (PG* variables set). Prints TAP-style lines.
#
#   1. the released install scripts are frozen: each escalation--X.sql
#      listed in test/upgrade/released.sha256 still has its checksum (a
#      change to released SQL must ship as an upgrade script instead);
#   2. for every released version: install it, walk every ALTER EXTENSION
#      escalation UPDATE step up to the default version, and compare the
#      catalog (test/upgrade/catalog.sql) with a fresh install of the
#      default version: no difference;
#   3. for every released version but the default: tickets written through
#      it (test/upgrade/metrics_data.sql), then the update: the metric views
#      give the naive query's rows (test/upgrade/metrics_check.sql).
set -uo pipefail
cd "$(dirname "$0")/../.."

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }

default=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" escalation.control)

# 1. frozen released scripts
while read -r sum file; do
    [ -n "$sum" ] || continue
    if [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sum" ]; then
        ok "$file is unchanged since its release"
    else
        notok "$file changed after its release: put the change in an upgrade script (escalation--A--B.sql) and a new default_version"
    fi
done < test/upgrade/released.sha256

# 2. walk every released version up to the default
psql -X -q -c "DROP DATABASE IF EXISTS escalation_upgrade_fresh" -c "CREATE DATABASE escalation_upgrade_fresh" postgres
psql -X -q -v ON_ERROR_STOP=1 -d escalation_upgrade_fresh -c "CREATE EXTENSION escalation" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d escalation_upgrade_fresh -f test/upgrade/catalog.sql > "${TMPDIR:-/tmp}/escalation-catalog-fresh.txt"
lines=$(wc -l < "${TMPDIR:-/tmp}/escalation-catalog-fresh.txt")
if [ "$lines" -gt 100 ]; then
    ok "fresh install of $default: $lines catalog lines"
else
    notok "fresh install of $default: only $lines catalog lines"
fi

for file in $(cut -d' ' -f3 test/upgrade/released.sha256); do
    v=${file#escalation--}
    v=${v%.sql}
    db=escalation_upgrade_from_${v//./_}
    psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" postgres
    if ! psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION escalation VERSION '$v'" >/dev/null; then
        notok "install $v"
        continue
    fi
    ok "install $v"
    # every step, in order, as pg_extension_update_paths() gives them
    path=$(psql -X -A -t -d "$db" -c "SELECT path FROM pg_extension_update_paths('escalation')
                                        WHERE source = '$v' AND target = '$default'")
    if [ "$v" != "$default" ] && [ -z "$path" ]; then
        notok "no update path from $v to $default"
        continue
    fi
    # the path reads "1.0--1.1--1.2": every version after the first is a step
    steps=()
    if [ "$v" != "$default" ]; then
        rest=${path#*--}
        while [ -n "$rest" ]; do
            steps+=("${rest%%--*}")
            [ "$rest" = "${rest#*--}" ] && break
            rest=${rest#*--}
        done
    fi
    walked=1
    for s in "${steps[@]}"; do
        if psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "ALTER EXTENSION escalation UPDATE TO '$s'" >/dev/null; then
            ok "ALTER EXTENSION escalation UPDATE TO '$s' (from $v)"
        else
            notok "ALTER EXTENSION escalation UPDATE TO '$s' (from $v)"
            walked=0
            break
        fi
    done
    [ "$walked" = 1 ] || continue
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f test/upgrade/catalog.sql > "${TMPDIR:-/tmp}/escalation-catalog-$v.txt"
    if diff -u "${TMPDIR:-/tmp}/escalation-catalog-fresh.txt" "${TMPDIR:-/tmp}/escalation-catalog-$v.txt" \
            > "${TMPDIR:-/tmp}/escalation-catalog-$v.diff"; then
        ok "$v walked up to $default has the catalog of a fresh $default (${#steps[@]} steps)"
    else
        notok "$v walked up to $default differs from a fresh $default:"
        head -n 60 "${TMPDIR:-/tmp}/escalation-catalog-$v.diff" | sed 's/^/#   /'
    fi
    psql -X -q -c "DROP DATABASE $db" postgres

    # the same walk over a database with metrics data written by $v: the
    # update must carry the existing facts into the rollups it adds
    if [ "$v" != "$default" ]; then
        db=escalation_upgrade_data_${v//./_}
        psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" postgres
        if psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION escalation VERSION '$v'" >/dev/null &&
           psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f test/upgrade/metrics_data.sql >/dev/null &&
           psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "ALTER EXTENSION escalation UPDATE TO '$default'" >/dev/null; then
            out=$(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" -f test/upgrade/metrics_check.sql 2>&1 | grep '^differences' | tr '\n' ' ')
            if [ "$out" = "differences 0 differences 0 " ]; then
                ok "$v with metrics data, updated to $default: the metric views give the naive query's rows, before and after more writes"
            else
                notok "$v with metrics data, updated to $default: ${out:-no result}"
            fi
        else
            notok "$v with metrics data: install, load or update failed"
        fi
        psql -X -q -c "DROP DATABASE $db" postgres
    fi
done
psql -X -q -c "DROP DATABASE escalation_upgrade_fresh" postgres
echo "1..$n"
[ "$fails" -eq 0 ]
