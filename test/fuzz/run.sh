#!/usr/bin/env bash
# Build and run the libFuzzer harnesses (docs/reliability.md, "Fuzzing and
# memory").
#
#   test/fuzz/run.sh [TARGET|all] [RUNS]
#
# TARGET: tokenize, sentiment, calendar, rules, triage (default: all);
# RUNS: executions per harness (default 1000000). Each harness starts from
# its checked-in seeds (test/fuzz/corpus/TARGET) plus the corpus grown by
# earlier runs on this machine ($FUZZ_WORK, default /tmp/escalation-fuzz),
# runs under `nice -n 19` with AddressSanitizer and UBSan, and prints
#
#   FUZZ TARGET: runs=N crashes=C corpus=F seconds=S
#
# A unit that runs longer than 300 s counts as a crash (a hang). The timeout
# is wall-clock time (libFuzzer has no other), and a process at nice 19 on a
# busy machine can get no CPU for half a minute: a 20 s timeout stopped a
# triage run on an input that replays in 4 ms.
#
# A crash, sanitizer report or failed property check leaves its input in
# $FUZZ_WORK/artifacts/ (replay: test/fuzz/build/fuzz_TARGET FILE). The last
# line is `fuzz: N harnesses, R runs, C crashes`; the exit status is non-zero
# when C > 0. Installs what is missing (clang, libFuzzer) with
# scripts/install-fuzz-deps.sh first, then builds only into test/fuzz/build/
# and installs nothing else (no machine lock needed).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ALL=(tokenize sentiment calendar rules triage)
TARGET=${1:-all}
RUNS=${2:-1000000}
WORK=${FUZZ_WORK:-/tmp/escalation-fuzz}

if [ "$TARGET" = all ]; then
    targets=("${ALL[@]}")
else
    case " ${ALL[*]} " in
        *" $TARGET "*) targets=("$TARGET") ;;
        *) echo "run.sh: unknown target \"$TARGET\" (one of: ${ALL[*]}, all)" >&2; exit 2 ;;
    esac
fi
# clang, libFuzzer, PostgreSQL's server headers and libpgcommon/libpgport
"$HERE/../../scripts/install-deps.sh" >/dev/null
"$HERE/../../scripts/install-fuzz-deps.sh" >/dev/null

# one build at a time: two runs started together (one harness each) shared
# test/fuzz/build/ and one's link found the other's objects half written
mkdir -p "$HERE/build"
flock "$HERE/build/.lock" make -s -C "$HERE" >/dev/null
mkdir -p "$WORK/artifacts"

# inputs that crashed, leaked, timed out or ran out of memory (slow ones are not failures)
count_artifacts() {
    find "$WORK/artifacts" \( -name "$1-crash-*" -o -name "$1-leak-*" -o -name "$1-timeout-*" \
        -o -name "$1-oom-*" \) | wc -l
}

total_runs=0
total_crashes=0
for t in "${targets[@]}"; do
    mkdir -p "$WORK/$t"
    case $t in
        tokenize) maxlen=16384 ;;   # long texts: the word memo fills and starts over
        *) maxlen=4096 ;;
    esac
    before=$(count_artifacts "$t")
    log="$WORK/$t.log"
    start=$(date +%s)
    rc=0
    (cd "$WORK" && nice -n 19 "$HERE/build/fuzz_$t" \
        -runs="$RUNS" -max_len="$maxlen" -timeout=300 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$t-" \
        "$WORK/$t" "$HERE/corpus/$t") >"$log" 2>&1 || rc=$?
    secs=$(( $(date +%s) - start ))
    runs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log" | tail -n 1)
    runs=${runs:-0}
    crashes=$(( $(count_artifacts "$t") - before ))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1                   # died without leaving an input
    fi
    corpus=$(find "$WORK/$t" -type f | wc -l)
    echo "FUZZ $t: runs=$runs crashes=$crashes corpus=$corpus seconds=$secs"
    if [ "$crashes" -gt 0 ]; then
        grep -E 'FUZZ CHECK FAILED|ERROR: (Address|libFuzzer|Undefined)|runtime error|SUMMARY' "$log" | head -n 5 | sed 's/^/    /'
        echo "    log: $log; inputs: $WORK/artifacts/$t-*"
    fi
    total_runs=$((total_runs + runs))
    total_crashes=$((total_crashes + crashes))
done

echo "fuzz: ${#targets[@]} harnesses, $total_runs runs, $total_crashes crashes"
[ "$total_crashes" -eq 0 ]
