#!/usr/bin/env bash
# summary: sentiment quality (Pearson r, 3-class accuracy vs human ratings) and speed (sentences/s)
#
# bench/sentiment.sh -- called as `bench/run sentiment`; see docs/benchmarks.md.
#
# Builds and installs the extension, starts a throwaway cluster with
# escalation preloaded (pg_virtualenv), loads the human-rated sentences of
# ../shared/data/sentiment (*_GroundTruth.txt: id, mean rating -4..+4,
# text; read from there at run time, never copied into the repository) and
#   quality  Pearson r of escalation.sentiment(text) with the human mean, and
#            3-class accuracy (human > 0.5 positive, < -0.5 negative, else
#            neutral; ours >= 0.05 / <= -0.05, VADER's convention), per set;
#   speed    one backend, `SELECT sum(escalation.sentiment(text))` over all
#            sentences, BENCH_ROUNDS times, median; in the same run the same
#            query with length(text) (a trivial C function: the executor's
#            per-row cost) and with escalation.frustration(text).
# VADER's Python implementation is not installable here (not packaged by
# Debian), so its figures are the reference ones in ../shared/data/sentiment/
# SOURCE.md, measured on this machine: amazon r 0.590, movie r 0.428, about
# 21,000 sentences/s.
#
# Environment:
#   BENCH_ROUNDS     timed rounds per query (default 7)
#   BENCH_COPIES     copies of the sentences in the speed table (default 4)
#   BENCH_NO_BUILD   1 skips the build and install
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
data="${SENTIMENT_DATA:-$root/../shared/data/sentiment}"
VADER_SENTENCES_PER_S=21000

if [ -z "${ESC_BENCH_INSIDE:-}" ]; then
    for f in amazonReviewSnippets_GroundTruth.txt movieReviewSnippets_GroundTruth.txt; do
        if [ ! -r "$data/$f" ]; then
            echo "bench/run sentiment: $data/$f not found" >&2
            exit 1
        fi
    done
    if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
        echo "== building and installing the extension"
        scripts/build.sh
    fi
    mkdir -p bench/out
    export ESC_BENCH_INSIDE=1 SENTIMENT_DATA="$data"
    export LC_ALL=C.UTF-8 LANG=C.UTF-8
    ESC_BENCH_LOG="$root/bench/out/sentiment-$(date -u +%Y%m%dT%H%M%SZ).log"
    ESC_BENCH_RESULT="$(mktemp -t esc-bench-result.XXXXXX)"
    chmod 666 "$ESC_BENCH_RESULT"
    export ESC_BENCH_LOG ESC_BENCH_RESULT
    venv=(pg_virtualenv)
    [ "$(id -u)" = 0 ] && venv+=(-t)     # a private cluster directory, even as root
    echo "== starting a throwaway cluster (log: ${ESC_BENCH_LOG#"$root"/})"
    set +e
    "${venv[@]}" -o shared_preload_libraries=escalation -o fsync=off -o escalation.worker_enabled=off \
        -o shared_buffers=512MB -o jit=off \
        bash "$here/sentiment.sh" "$@" 2>&1 | tee -a "$ESC_BENCH_LOG"
    rc=${PIPESTATUS[0]}
    set -e
    result="$(cat "$ESC_BENCH_RESULT")"
    rm -f "$ESC_BENCH_RESULT"
    if [ "$rc" != 0 ] || [ -z "$result" ]; then
        echo "bench/run sentiment: failed (exit $rc); see ${ESC_BENCH_LOG#"$root"/}" >&2
        exit 1
    fi
    echo "$result" >> "$ESC_BENCH_LOG"
    echo "$result"
    exit 0
fi

# ---------------------------------------------------------------- inside the cluster
ROUNDS="${BENCH_ROUNDS:-7}"
COPIES="${BENCH_COPIES:-4}"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
scalar() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }

echo "== machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); $(scalar 'SELECT version()' | cut -d, -f1)"
echo "== commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
psql_q -c "CREATE EXTENSION escalation" \
       -c "CREATE SCHEMA bench" \
       -c "CREATE TABLE bench.raw (id text, human float8, text text)" \
       -c "CREATE TABLE bench.snippets (dataset text NOT NULL, id text NOT NULL, human float8 NOT NULL, text text NOT NULL)"
for set in amazon movie; do
    # tab-separated, CRLF line ends, no quoting (\x01 never occurs in them)
    tr -d '\r' < "$SENTIMENT_DATA/${set}ReviewSnippets_GroundTruth.txt" | psql_q -c \
        "\\copy bench.raw FROM STDIN WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')"
    psql_q -c "INSERT INTO bench.snippets SELECT '$set', id, human, text FROM bench.raw" -c "TRUNCATE bench.raw"
done
psql_q -c "CREATE TABLE bench.speed AS SELECT s.text FROM bench.snippets s, generate_series(1, $COPIES) ORDER BY random()" \
       -c "VACUUM ANALYZE bench.snippets, bench.speed"
echo "== loaded: $(scalar "SELECT string_agg(dataset || ' ' || n || ' sentences (' || round(avg_len) || ' bytes on average)', ', ' ORDER BY dataset) FROM (SELECT dataset, count(*) n, avg(octet_length(text)) avg_len FROM bench.snippets GROUP BY dataset) x")"

echo "== quality: Pearson r with the human mean, 3-class accuracy"
psql -X -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE bench.scored AS
SELECT dataset, human, escalation.sentiment(text) AS score FROM bench.snippets;
SELECT dataset, count(*) AS sentences,
       round(corr(human, score)::numeric, 4) AS pearson_r,
       round(avg((sign(CASE WHEN human > 0.5 THEN 1 WHEN human < -0.5 THEN -1 ELSE 0 END)
                  = CASE WHEN score >= 0.05 THEN 1 WHEN score <= -0.05 THEN -1 ELSE 0 END)::int)::numeric, 4)
           AS accuracy_3class,
       round(avg((score = 0)::int)::numeric, 3) AS share_scored_zero
  FROM bench.scored GROUP BY dataset ORDER BY dataset;
SQL
amazon_r="$(scalar "SELECT round(corr(human, score)::numeric, 3) FROM bench.scored WHERE dataset = 'amazon'")"
movie_r="$(scalar "SELECT round(corr(human, score)::numeric, 3) FROM bench.scored WHERE dataset = 'movie'")"

echo "== speed: one backend, sum(f(text)) over $(scalar "SELECT count(*) FROM bench.speed") sentences, $ROUNDS rounds each, median"
# one DO block per query, rounds alternating, timed with clock_timestamp()
psql -X -q -v ON_ERROR_STOP=1 -v rounds="$ROUNDS" <<'SQL'
CREATE TABLE bench.timings (query text, round int, seconds float8);
SELECT set_config('bench.rounds', :'rounds', false);
DO $$
DECLARE
    t0 timestamptz;
    q  text;
BEGIN
    -- warm the cache and the functions
    PERFORM sum(length(text)) FROM bench.speed;
    PERFORM sum(escalation.sentiment(text)) FROM bench.speed;
    FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
        FOREACH q IN ARRAY ARRAY['length', 'sentiment', 'frustration'] LOOP
            t0 := clock_timestamp();
            IF q = 'length' THEN
                PERFORM sum(length(text)) FROM bench.speed;
            ELSIF q = 'sentiment' THEN
                PERFORM sum(escalation.sentiment(text)) FROM bench.speed;
            ELSE
                PERFORM sum(escalation.frustration(text)) FROM bench.speed;
            END IF;
            INSERT INTO bench.timings VALUES (q, r, extract(epoch FROM clock_timestamp() - t0));
        END LOOP;
    END LOOP;
END
$$;
SELECT query, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::numeric, 4) AS median_s,
       round((SELECT count(*) FROM bench.speed) / percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)) AS rows_per_s,
       round((1e6 * percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) / (SELECT count(*) FROM bench.speed))::numeric, 3) AS us_per_row
  FROM bench.timings GROUP BY query ORDER BY query;
SQL
median() { scalar "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM bench.timings WHERE query = '$1'"; }
n="$(scalar "SELECT count(*) FROM bench.speed")"
t_sent="$(median sentiment)"
t_len="$(median length)"
per_s="$(scalar "SELECT round($n / $t_sent)")"
scorer_us="$(scalar "SELECT round((1e6 * ($t_sent - $t_len) / $n)::numeric, 3)")"
speedup="$(scalar "SELECT round(($n / $t_sent / $VADER_SENTENCES_PER_S)::numeric, 1)")"
echo "   sentiment(): $per_s sentences/s through SQL; the scorer itself ${scorer_us} us per sentence"
echo "   (length(text) baseline: $(scalar "SELECT round($n / $t_len)") rows/s); VADER Python: about $VADER_SENTENCES_PER_S/s (SOURCE.md)"
echo "   targets: amazon r >= 0.60, movie r >= 0.44, >= 420000 sentences/s"
echo "RESULT sentiment: pearson_amazon=${amazon_r} pearson_movie=${movie_r} sentences_per_s=${per_s} speedup_vs_vader=${speedup}" > "$ESC_BENCH_RESULT"
