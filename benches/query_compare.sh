#!/usr/bin/env bash
# Compare `wxlake query` with peers (the DuckDB CLI, DuckDB's Python API, Polars,
# pyarrow) on one two-year lake, each run as a whole process: median wall time of
# RUNS runs and peak RSS, measured around and with `/usr/bin/time -f '%e %M'`, and
# the rows of each result, checked to be the same for every tool.
#
# Usage: benches/query_compare.sh [-h] [all | a | b | c ...]
#
# Data set "twoyear" (cached under $BENCH_DIR/data/twoyear, reused across runs):
#   generate --profile short --days 730 --per-day 5000 --seed 7 --start-date 2025-01-01
#   (730 daily files, 3.65 M short messages, ~2.1 GB), ingested once with
#   `wxlake --data-dir $BENCH_DIR/data/twoyear -q ingest` (~0.37 GB of Parquet).
# Queries (results ordered by create_time, then msg_id, as CSV with a header):
#   a  2025-06-15, the chatroom with the most rows that day       -> stdout > file
#   b  2025-06-01..2025-06-30, everything                          -> --output FILE
#   c  2025-06-15..2025-06-21, the most active sender of the week
#      (from_username or chatroom_sender)                          -> stdout > file
#   The chatroom and sender are picked once from the lake (DuckDB) and cached in
#   $BENCH_DIR/data/twoyear/.query-picks.json.
# Tools: wxlake (`wxlake --data-dir D query ... --format csv`), duckdbcli (the
#   native DuckDB CLI of the PyPI package duckdb-cli, `duckdb -csv -c "SELECT ...
#   FROM read_parquet('D/parquet/messages/**/*.parquet', hive_partitioning=true)
#   WHERE <year/month/day> AND <predicate> ORDER BY create_time, msg_id"`, COPY for
#   b: the reference the targets are measured against), duckdbpy, polars, pyarrow
#   (benches/peers/<tool>_query.py LAKE_DIR QUERY_JSON OUT_CSV|-).
# Targets: wxlake's median wall <= 1/5 of the DuckDB CLI's for a, <= 1/2 for b
#   and c; wxlake's peak RSS < 100 MB for b.
#
# Environment:
#   WXLAKE_BIN    wxlake binary       [target/release/wxlake; built with cargo if absent]
#   GENERATE_BIN  data generator      [target/release/examples/generate; built if absent]
#   BENCH_DIR     work + results dir  [/tmp/wxlake-bench]
#   RUNS          timed runs per tool and query [5]
#   TOOLS         tools to run        ["wxlake duckdbcli duckdbpy polars pyarrow"]
#   REINGEST      1: ingest the lake again even when it is complete [0]
#   CLEAN_DATA    1: delete the twoyear data set at the end (results are kept) [0]
#   WXLAKE_BENCH_CACHE  where the Python venv lives [~/.cache/wxlake-bench]
#
# Output: a markdown table on stdout, also written to $BENCH_DIR/query-results.md;
# every run's wall time, max RSS, exit code and result statistics in
# $BENCH_DIR/query-results.json (and query-timings.tsv). Progress goes to
# stderr. Each tool's stderr (and stdout when it is not the result) of the last
# run of a query is kept in $BENCH_DIR/qlogs/ (with the command line, .cmd), its
# CSV of that run in $BENCH_DIR/qwork/out-QUERY-TOOL.csv (both are replaced by the
# next invocation). A tool that fails is reported as such in the table and the
# others go on.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$REPO/benches/peers"
DEFAULT_WXLAKE_BIN="$REPO/target/release/wxlake"
DEFAULT_GENERATE_BIN="$REPO/target/release/examples/generate"
WXLAKE_BIN="${WXLAKE_BIN:-$DEFAULT_WXLAKE_BIN}"
GENERATE_BIN="${GENERATE_BIN:-$DEFAULT_GENERATE_BIN}"
BENCH_DIR="${BENCH_DIR:-/tmp/wxlake-bench}"
RUNS="${RUNS:-5}"
TOOLS="${TOOLS:-wxlake duckdbcli duckdbpy polars pyarrow}"
REINGEST="${REINGEST:-0}"
CLEAN_DATA="${CLEAN_DATA:-0}"
TIME_BIN=/usr/bin/time
ALL_TOOLS="wxlake duckdbcli duckdbpy polars pyarrow"

# The data set and the dates of the queries.
DATASET=twoyear
GEN_PARAMS="--profile short --days 730 --per-day 5000 --seed 7 --start-date 2025-01-01"
Q_DAY=2025-06-15
Q_WEEK_END=2025-06-21
Q_MONTH_START=2025-06-01
Q_MONTH_END=2025-06-30

log() { printf '[query_compare %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'query_compare.sh: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# bench_venv, bench_duckdb_cli
# shellcheck source=benches/bench_lib.sh
source "$REPO/benches/bench_lib.sh"


# ---------------------------------------------------------------- data

# gen_data: $DIR/messages/raw unless it is already complete for GEN_PARAMS
# (marker .params, written last). A new data set drops the old lake with it.
gen_data() {
    if [[ -f "$DIR/.params" && "$(cat "$DIR/.params")" == "$GEN_PARAMS" ]]; then
        return 0
    fi
    rm -rf "$DIR"
    log "generating $DATASET: generate --out $DIR $GEN_PARAMS"
    # shellcheck disable=SC2086
    "$GENERATE_BIN" --out "$DIR" $GEN_PARAMS >&2
    echo "$GEN_PARAMS" >"$DIR/.params"
}

# ingest_lake: $DIR/parquet + $DIR/metadata made by one `wxlake ingest` of all the
# raw files, unless the marker .ingested (written last; its first line is
# GEN_PARAMS) says a complete ingest of this data set is there.
ingest_lake() {
    if [[ "$REINGEST" != 1 && -f "$DIR/.ingested" && "$(head -n 1 "$DIR/.ingested")" == "$GEN_PARAMS" \
        && -d "$LAKE" ]]; then
        return 0
    fi
    rm -rf "$DIR/parquet" "$DIR/metadata" "$DIR/.ingested" "$PICKS"
    log "ingesting $DATASET (untimed): wxlake --data-dir $DIR -q ingest (log: $LOGS/ingest.log)"
    local t0=$SECONDS
    "$WXLAKE_BIN" --data-dir "$DIR" -q ingest >"$LOGS/ingest.log" 2>&1 \
        || { tail -n 5 "$LOGS/ingest.log" >&2; die "wxlake ingest failed; see $LOGS/ingest.log"; }
    [[ -d "$LAKE" ]] || die "wxlake ingest left no $LAKE"
    printf '%s\ningested by %s (sha256 %s) at %s in %ss\n' "$GEN_PARAMS" "$WXLAKE_SRC" "$WX_SHA" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$((SECONDS - t0))" >"$DIR/.ingested"
    log "ingested in $((SECONDS - t0))s"
}

# make_picks: the chatroom of (a) and the sender of (c), picked from the lake once.
make_picks() {
    local want="$GEN_PARAMS | $Q_DAY $Q_WEEK_END $Q_MONTH_START $Q_MONTH_END"
    if [[ -s "$PICKS" && ! "$PICKS" -ot "$DIR/.ingested" ]] \
        && [[ "$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["params"])' "$PICKS")" == "$want" ]]; then
        return 0
    fi
    log "picking the chatroom of (a) and the sender of (c) from the lake"
    "$PY" "$PEERS/query_util.py" picks "$LAKE" "$PICKS.tmp" --params "$want" --day "$Q_DAY" \
        --month-start "$Q_MONTH_START" --month-end "$Q_MONTH_END" --week-end "$Q_WEEK_END"
    mv "$PICKS.tmp" "$PICKS"
}

# ---------------------------------------------------------------- timing

# tool_cmd TOOL QUERY OUT: the command line, one word a line. A result that goes
# to stdout (queries a and c) is marked by OUT_TO_STDOUT=1 for `timed`.
tool_cmd() {
    local tool="$1" q="$2" out="$3" spec="$WORK/query-$2.json"
    local start end chatroom sender
    start="$(jq_spec "$spec" start)"
    end="$(jq_spec "$spec" end)"
    chatroom="$(jq_spec "$spec" chatroom)"
    sender="$(jq_spec "$spec" sender)"
    case "$tool" in
        wxlake)
            printf '%s\n' "$WXLAKE_BIN" --data-dir "$DIR" query --start "$start"
            if [[ "$end" != "$start" ]]; then printf '%s\n' --end "$end"; fi
            if [[ -n "$chatroom" ]]; then printf '%s\n' --chatroom "$chatroom"; fi
            if [[ -n "$sender" ]]; then printf '%s\n' --from "$sender"; fi
            printf '%s\n' --format csv
            if [[ "$q" == b ]]; then printf '%s\n' --output "$out"; fi
            ;;
        duckdbcli)
            if [[ "$q" == b ]]; then
                printf '%s\n' "$DUCKDB_CLI" -init /dev/null -c "$("$PY" "$PEERS/query_spec.py" sql "$LAKE" "$spec" "$out")"
            else
                printf '%s\n' "$DUCKDB_CLI" -init /dev/null -csv -nullvalue '' -c "$("$PY" "$PEERS/query_spec.py" sql "$LAKE" "$spec")"
            fi
            ;;
        duckdbpy | polars | pyarrow)
            local script="${tool%py}"
            printf '%s\n' "$PY" "$PEERS/${script}_query.py" "$LAKE" "$spec"
            if [[ "$q" == b ]]; then printf '%s\n' "$out"; else printf '%s\n' -; fi
            ;;
        *) die "unknown tool $tool" ;;
    esac
    return 0
}

jq_spec() { # jq_spec FILE KEY: a string field of a query file, "" for null
    "$PY" -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# run_query QUERY TOOL: RUNS timed runs; each appends one line to the TSV (wall s,
# max RSS KB, exit code, load, statistics of the CSV as JSON). After a failed
# run the tool's remaining runs of that query are skipped.
run_query() {
    local q="$1" tool="$2" run
    local out="$WORK/out-$q-$tool.csv" logp="$LOGS/$q-$tool" tf="$WORK/time.txt"
    local -a cmd
    mapfile -t cmd < <(tool_cmd "$tool" "$q" "$out")
    printf '%q ' "${cmd[@]}" >"$logp.cmd"
    if [[ "$q" != b ]]; then printf '> %q\n' "$out" >>"$logp.cmd"; else echo >>"$logp.cmd"; fi
    for ((run = 1; run <= RUNS; run++)); do
        rm -f "$out" "$tf"
        sync
        log "($q) / $tool / run $run: $(cat "$logp.cmd")"
        local rc=0 t0 t1
        t0=$EPOCHREALTIME
        if [[ "$q" == b ]]; then
            "$TIME_BIN" -f '%e %M' -o "$tf" "${cmd[@]}" >"$logp.out" 2>"$logp.err" || rc=$?
        else
            "$TIME_BIN" -f '%e %M' -o "$tf" "${cmd[@]}" >"$out" 2>"$logp.err" || rc=$?
        fi
        t1=$EPOCHREALTIME
        local wall="" rss="" load stats hr
        read -r wall rss < <(tail -n 1 "$tf" 2>/dev/null) || true
        hr="$(elapsed "$t0" "$t1")"
        read -r load _ </proc/loadavg
        if [[ "$rc" != 0 ]]; then
            local err
            err="$(grep -v '^Command exited with non-zero status' "$logp.err" | grep -m 1 . | cut -c1-160 || true)"
            log "  FAILED (exit $rc) after ${wall}s; first line of $logp.err: ${err:-<empty>}"
            stats="$("$PY" -c 'import json, sys; print(json.dumps({"error": sys.argv[1]}))' "$err")"
        else
            stats="$("$PY" "$PEERS/query_util.py" csvstat "$out")" \
                || stats='{"problems": ["query_util.py csvstat failed on the output"]}'
        fi
        log "  wall ${hr}s (%e ${wall}s), max RSS ${rss} KB, exit $rc, load $load, $(cut -c1-100 <<<"$stats")"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$q" "$tool" "$run" "$hr" "$wall" "$rss" "$rc" "$load" "$stats" >>"$TSV"
        if [[ "$rc" != 0 ]]; then
            if ((run < RUNS)); then log "  skipping the remaining runs of $tool for ($q)"; fi
            break
        fi
    done
}

# elapsed T0 T1: T1 - T0 in seconds (two $EPOCHREALTIME values), 4 decimals.
elapsed() { LC_ALL=C awk -v a="${1/,/.}" -v b="${2/,/.}" 'BEGIN { printf "%.4f", b - a }'; }

# time_overhead: median wall of `/usr/bin/time true` measured like a tool run:
# the fixed cost in every wall time (fork + exec of time and of the command).
time_overhead() {
    local t0 t1
    for _ in 1 2 3 4 5 6 7; do
        t0=$EPOCHREALTIME
        "$TIME_BIN" -f '%e %M' -o /dev/null true
        t1=$EPOCHREALTIME
        elapsed "$t0" "$t1"
        echo
    done | sort -n | sed -n 4p
}

warm() { find "$LAKE" -name '*.parquet' -exec cat {} + >/dev/null; } # same (warm) page cache for every tool

# ---------------------------------------------------------------- main

main() {
    local -a want=()
    local a
    for a in "$@"; do
        case "$a" in
            -h | --help) usage; exit 0 ;;
            all) want+=(a b c) ;;
            a | b | c) want+=("$a") ;;
            *) die "unknown query '$a' (all, a, b, c; -h for help)" ;;
        esac
    done
    [[ ${#want[@]} -gt 0 ]] || want=(a b c)
    [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
    local t q
    for t in $TOOLS; do
        [[ " $ALL_TOOLS " == *" $t "* ]] || die "unknown tool '$t' in TOOLS ($ALL_TOOLS)"
    done
    [[ -x "$TIME_BIN" ]] || die "$TIME_BIN (GNU time) is required: apt-get install time"
    local -a queries=()
    for q in a b c; do
        [[ " ${want[*]} " == *" $q "* ]] && queries+=("$q")
    done

    ensure_bin "$WXLAKE_BIN" "$DEFAULT_WXLAKE_BIN" --release --locked
    ensure_bin "$GENERATE_BIN" "$DEFAULT_GENERATE_BIN" --release --locked --example generate
    WXLAKE_SRC="$(cd "$(dirname "$WXLAKE_BIN")" && pwd)/$(basename "$WXLAKE_BIN")"
    PY="$(bench_venv)"
    DUCKDB_CLI="$(bench_duckdb_cli "$PY")"
    DUCKDB_CLI_VERSION="$("$DUCKDB_CLI" -version | head -n 1)"

    DATA="$BENCH_DIR/data"
    DIR="$DATA/$DATASET"
    LAKE="$DIR/parquet/messages"
    PICKS="$DIR/.query-picks.json"
    WORK="$BENCH_DIR/qwork"
    LOGS="$BENCH_DIR/qlogs"
    TSV="$BENCH_DIR/query-timings.tsv"
    rm -rf "$WORK" "$LOGS"
    mkdir -p "$DATA" "$WORK" "$LOGS"
    # Time a private copy: a cargo build running meanwhile must not swap the binary.
    WXLAKE_BIN="$WORK/wxlake"
    cp "$WXLAKE_SRC" "$WXLAKE_BIN"
    WX_SHA="$(sha256sum "$WXLAKE_BIN" | cut -c1-16)"
    local wx_mtime
    wx_mtime="$(date -u -r "$WXLAKE_SRC" +%Y-%m-%dT%H:%M:%SZ)"
    log "wxlake: $WXLAKE_SRC (built $wx_mtime, sha256 $WX_SHA); DuckDB CLI: $DUCKDB_CLI_VERSION"

    gen_data
    ingest_lake
    make_picks
    "$PY" "$PEERS/query_util.py" specs "$PICKS" "$WORK"
    local lake_files lake_bytes
    lake_files="$(find "$LAKE" -name '*.parquet' | wc -l)"
    lake_bytes="$(find "$LAKE" -name '*.parquet' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"
    log "lake: $LAKE ($lake_files files, $((lake_bytes / 1000000)) MB); picks: $PICKS"

    local load
    read -r load _ </proc/loadavg
    if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
        log "warning: load average is $load before starting; timings will be noisy"
    fi
    TIME_OVERHEAD="$(time_overhead)"
    log "/usr/bin/time true takes ${TIME_OVERHEAD}s (median of 7): the floor of every wall time"
    : >"$TSV"
    for q in "${queries[@]}"; do
        for t in $TOOLS; do
            warm
            run_query "$q" "$t"
        done
    done

    "$PY" "$PEERS/query_util.py" report "$TSV" --picks "$PICKS" --runs "$RUNS" --tools "$TOOLS" \
        --wxlake-bin "$WXLAKE_SRC" --wxlake-sha "$WX_SHA" --wxlake-mtime "$wx_mtime" \
        --duckdb-cli "$DUCKDB_CLI" --duckdb-cli-version "$DUCKDB_CLI_VERSION" --data "$DIR" \
        --lake-bytes "$lake_bytes" --lake-files "$lake_files" --time-overhead "$TIME_OVERHEAD" \
        --markdown "$BENCH_DIR/query-results.md" --json "$BENCH_DIR/query-results.json"
    cat "$BENCH_DIR/query-results.md"

    if [[ "$CLEAN_DATA" == 1 ]]; then
        log "CLEAN_DATA=1: removing $DIR"
        rm -rf "$DIR"
    fi
    log "results: $BENCH_DIR/query-results.md, $BENCH_DIR/query-results.json"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
