#!/usr/bin/env bash
# Time wxlake's maintenance commands, `wxlake compact` and `wxlake archive`, each run
# as a whole process on a generated lake restored from a pristine copy before every
# run: median wall time of RUNS runs, CPU time and peak RSS (around and with
# `/usr/bin/time -f '%e %M %U %S'`), MB/s, rows/s, files and bytes before/after, and a
# check after every run that `wxlake query --count` over the whole lake still gives
# the same rows.
#
# Usage: benches/maintenance.sh [-h] [all | compact | archive ...]
#
# Workloads (data sets made once, cached under $BENCH_DIR/data/maintenance-*):
#   compact  a month of fragmented partitions: generate --profile short --days 30
#            --per-day 4800 --seed 5 --start-date 2025-03-01 --no-defects, every
#            day's lines dealt round-robin into 24 pieces (lines stamped on another
#            day all go to the first piece) and ingested 24 times, piece k of every
#            day per ingest: 31 partitions of ~25 Snappy files, ~20 MB, 144,000 rows.
#            Timed, interleaved run by run:
#              compact   wxlake --data-dir D compact --json
#              baseline  wxlake --data-dir D query --start FIRST --end LAST
#                        --format parquet --output F   (every row of the same
#                        partitions read once, one Snappy Parquet file written)
#              compact1  wxlake --data-dir D compact --start DAY --end DAY --json,
#                        DAY = the largest partition (its peak RSS vs the month's)
#              compact_shm, baseline_shm  compact and baseline with the lake copy
#                        in $SHM_DIR (tmpfs): no disk latency (fsync, unlink), so
#                        what is left is the CPU work of each
#   archive  ARCHIVE_DAYS days x 5000 short messages (--seed 11 --no-defects), the
#            newest day 100 days old (so all partitions are cold with the default
#            tiers), ingested once: one or two Snappy files per partition.
#            Timed, interleaved run by run:
#              cold    wxlake --data-dir D archive --json --raw-retention 100000d
#                      (default tiers: every partition cold, zstd 19)
#              warm    the same with --warm-after 1d --cold-after 100000d
#                      --warm-level 3 (every partition warm, zstd 3)
#              zstd19  zstd -19 -T1 on one day's raw JSONL file (reference)
#              zstd3   zstd -3 -T1 on the same file (reference)
#            --raw-retention 100000d keeps the raw files out of it: only the
#            Parquet recompression is timed.
#
# Environment:
#   WXLAKE_BIN    wxlake binary       [target/release/wxlake; built with cargo if absent]
#   GENERATE_BIN  data generator      [target/release/examples/generate; built if absent]
#   BENCH_DIR     work + results dir  [/tmp/wxlake-bench]
#   RUNS          timed runs per variant [3]
#   ARCHIVE_DAYS  days (partitions) of the archive lake [120; a cold run takes ~1.6 s
#                 a partition (one thread, zstd 19), so 365 days would be ~10 min a run]
#   SHM_DIR       a tmpfs directory for the *_shm variants, "none" to skip them
#                 [/dev/shm when it is a writable directory]
#   REBUILD       1: make the data sets again even when they are complete [0]
#   CLEAN_DATA    1: delete the maintenance data sets at the end (results are kept) [0]
#
# Needs bash >= 5, GNU time (/usr/bin/time), python3 (the bench venv of bench_lib.sh, for
# pyarrow's footer reader), and the zstd CLI for the zstd reference rows (skipped without it).
#
# Output: markdown tables on stdout, also written to $BENCH_DIR/maintenance-results.md;
# every run's wall time, max RSS, exit code, load average and what the run did (from
# the JSON summary and the lake) in $BENCH_DIR/maintenance-results.json (and
# maintenance-timings.tsv). Progress goes to stderr. The stdout/stderr of the last run
# of each variant is kept in $BENCH_DIR/mlogs/. Disk: ~0.18 GB (compact) and ~0.4 GB
# per 120 days (archive) of cached data, plus one restored copy of a lake in mwork/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$REPO/benches/peers"
UTIL="$PEERS/maintenance_util.py"
DEFAULT_WXLAKE_BIN="$REPO/target/release/wxlake"
DEFAULT_GENERATE_BIN="$REPO/target/release/examples/generate"
WXLAKE_BIN="${WXLAKE_BIN:-$DEFAULT_WXLAKE_BIN}"
GENERATE_BIN="${GENERATE_BIN:-$DEFAULT_GENERATE_BIN}"
BENCH_DIR="${BENCH_DIR:-/tmp/wxlake-bench}"
RUNS="${RUNS:-3}"
ARCHIVE_DAYS="${ARCHIVE_DAYS:-120}"
SHM_DIR="${SHM_DIR:-/dev/shm}"
REBUILD="${REBUILD:-0}"
CLEAN_DATA="${CLEAN_DATA:-0}"
TIME_BIN=/usr/bin/time
PY=python3

# The data sets.
MONTH_PARAMS="--profile short --days 30 --per-day 4800 --seed 5 --start-date 2025-03-01 --no-defects"
PIECES=24
YEAR_PER_DAY=5000
YEAR_SEED=11
YEAR_NEWEST_AGE=100   # days; > the default --cold-after 90d
TZ_LAKE=Asia/Shanghai # the lake's (default) time zone: UTC+8, no DST since 1991
ALL_START=1970-01-02  # --start/--end of `query --count` over the whole lake
ALL_END=2099-12-31

log() { printf '[maintenance %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'maintenance.sh: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# ensure_bin
# shellcheck source=benches/bench_lib.sh
source "$REPO/benches/bench_lib.sh"


# ---------------------------------------------------------------- data

# wx_ingest DATA_DIR LOG: one untimed ingest of everything new in DATA_DIR/messages/raw.
wx_ingest() {
    "$WXLAKE_BIN" --data-dir "$1" -qq ingest >>"$2" 2>&1 \
        || { tail -n 5 "$2" >&2; die "wxlake ingest of $1 failed; see $2"; }
}

# split_day FILE DAY OUT_DIR: deal FILE's lines into OUT_DIR/0..PIECES-1, round-robin;
# a line whose create_time (seconds, milliseconds, or digits in a string) is not on
# DAY in the lake's time zone (the generator's late arrivals, ~0.5%) goes to piece 0,
# so that it adds one file to the neighbouring partition instead of one per ingest.
split_day() {
    local file="$1" day="$2" out="$3" ds
    ds="$(TZ="$TZ_LAKE" date -d "$day 00:00" +%s)"
    mkdir -p "$out"
    awk -v n="$PIECES" -v ds="$ds" -v out="$out" '
        {
            late = 0
            if (match($0, /"create_time": *"?[0-9]+/)) {
                s = substr($0, RSTART + 14, RLENGTH - 14)
                gsub(/[^0-9]/, "", s)
                t = s + 0
                if (t >= 100000000000) t = int(t / 1000)
                late = (t < ds || t >= ds + 86400)
            }
            k = late ? 0 : (NR - 1) % n
            print > (out "/" k)
        }' "$file"
}

# build_month: $MDIR/lake, the fragmented month (pristine; never touched by a run),
# and $MDIR/gen, the generated raw files, unless the marker .built (written last)
# names the same parameters.
build_month() {
    local want="$MONTH_PARAMS | $PIECES pieces"
    if [[ "$REBUILD" != 1 && -f "$MDIR/.built" && "$(head -n 1 "$MDIR/.built")" == "$want" ]]; then
        return 0
    fi
    rm -rf "$MDIR"
    mkdir -p "$MDIR"
    log "compact data: generate --out $MDIR/gen $MONTH_PARAMS"
    # shellcheck disable=SC2086
    "$GENERATE_BIN" --out "$MDIR/gen" $MONTH_PARAMS >&2
    local f day k
    local -a days=()
    for f in "$MDIR"/gen/messages/raw/*.jsonl; do
        day="$(basename "$f" .jsonl)"
        days+=("$day")
        split_day "$f" "$day" "$MDIR/pieces/$day"
    done
    log "compact data: ingesting $PIECES pieces of each of ${#days[@]} days, one ingest per piece (log: $LOGS/month-ingest.log)"
    mkdir -p "$MDIR/lake/messages/raw"
    : >"$LOGS/month-ingest.log"
    local t0=$SECONDS
    for ((k = 0; k < PIECES; k++)); do
        for day in "${days[@]}"; do
            if [[ -f "$MDIR/pieces/$day/$k" ]]; then
                cat "$MDIR/pieces/$day/$k" >>"$MDIR/lake/messages/raw/$day.jsonl"
            fi
        done
        wx_ingest "$MDIR/lake" "$LOGS/month-ingest.log"
    done
    rm -rf "$MDIR/pieces"
    log "compact data: $PIECES ingests in $((SECONDS - t0))s"
    printf '%s\nbuilt by %s (sha256 %s) at %s\n' "$want" "$WXLAKE_SRC" "$WX_SHA" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        >"$MDIR/.built"
}

# build_year: $YDIR/lake, ARCHIVE_DAYS days ingested once (pristine), unless .built
# names the same parameters and its newest day is still at least YEAR_NEWEST_AGE - 10
# days old (cold); else it is made again, ending YEAR_NEWEST_AGE days before today.
build_year() {
    local base="--profile short --days $ARCHIVE_DAYS --per-day $YEAR_PER_DAY --seed $YEAR_SEED --no-defects"
    if [[ "$REBUILD" != 1 && -f "$YDIR/.built" && "$(head -n 1 "$YDIR/.built")" == "$base" ]]; then
        local start newest age
        start="$(sed -n 2p "$YDIR/.built")"
        newest="$(date -d "$start + $((ARCHIVE_DAYS - 1)) days" +%F)"
        age=$((($(date -d "$TODAY" +%s) - $(date -d "$newest" +%s)) / 86400))
        if ((age >= YEAR_NEWEST_AGE - 10)); then
            YEAR_PARAMS="$base --start-date $start"
            return 0
        fi
        log "archive data: the cached lake's newest day is only $age days old; making it again"
    fi
    local start
    start="$(date -d "$TODAY - $((ARCHIVE_DAYS - 1 + YEAR_NEWEST_AGE)) days" +%F)"
    YEAR_PARAMS="$base --start-date $start"
    rm -rf "$YDIR"
    mkdir -p "$YDIR"
    log "archive data: generate --out $YDIR/lake $YEAR_PARAMS"
    # shellcheck disable=SC2086
    "$GENERATE_BIN" --out "$YDIR/lake" $YEAR_PARAMS >&2
    log "archive data: ingesting (untimed; log: $LOGS/year-ingest.log)"
    : >"$LOGS/year-ingest.log"
    local t0=$SECONDS
    wx_ingest "$YDIR/lake" "$LOGS/year-ingest.log"
    log "archive data: ingested in $((SECONDS - t0))s"
    printf '%s\n%s\nbuilt by %s (sha256 %s) at %s\n' "$base" "$start" "$WXLAKE_SRC" "$WX_SHA" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$YDIR/.built"
}

# info DATA_DIR OUT_JSON PARAMS [--pieces N]: describe a pristine data set.
info() {
    local dir="$1" out="$2" params="$3"
    shift 3
    "$PY" "$UTIL" dsinfo "$dir" --wxlake "$WXLAKE_BIN" --params "$params" --today "$TODAY" "$@" >"$out.tmp"
    mv "$out.tmp" "$out"
}

jget() { # jget FILE EXPR: a value of a JSON file, EXPR in Python on `d`
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# restore SRC DST [copy]: DST becomes a copy of the data dir SRC: parquet/ and
# metadata/ copied (cp -a: the run rewrites them), raw files hard-linked (no run
# writes them), or copied too with a third argument (DST on another file system).
restore() {
    local src="$1" dst="$2" link="-al" e
    if [[ -n "${3:-}" ]]; then link="-a"; fi
    rm -rf "$dst"
    mkdir -p "$dst/messages"
    cp -a "$src/parquet" "$src/metadata" "$dst/"
    for e in "$src"/messages/*; do
        if [[ "$(basename "$e")" == raw ]]; then
            cp "$link" "$e" "$dst/messages/raw"
        else
            cp -a "$e" "$dst/messages/"
        fi
    done
}

warm() { find "$1" -type f -exec cat {} + >/dev/null; } # warm page cache for every run

# ---------------------------------------------------------------- timing

# elapsed T0 T1: T1 - T0 in seconds (two $EPOCHREALTIME values), 4 decimals.
elapsed() { LC_ALL=C awk -v a="${1/,/.}" -v b="${2/,/.}" 'BEGIN { printf "%.4f", b - a }'; }

# time_overhead: median wall of `/usr/bin/time true` measured like a run.
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

# timed VARIANT RUN SHOWN STDOUT CMD...: run CMD under /usr/bin/time with its stdout
# in STDOUT and its stderr in $LOGS/VARIANT.err. Sets LAST_RC, LAST_HR (wall from
# $EPOCHREALTIME), LAST_E (%e), LAST_RSS (%M, KB), LAST_CPU (%U + %S, s), LAST_ERR
# (first line of stderr).
timed() {
    local variant="$1" run="$2" shown="$3" out="$4"
    shift 4
    local tf="$WORK/time.txt" err="$LOGS/$variant.err" t0 t1
    rm -f "$tf"
    printf '%s\n' "$shown" >"$LOGS/$variant.cmd"
    sync
    log "$variant / run $run: $shown"
    LAST_RC=0
    t0=$EPOCHREALTIME
    "$TIME_BIN" -f '%e %M %U %S' -o "$tf" "$@" >"$out" 2>"$err" || LAST_RC=$?
    t1=$EPOCHREALTIME
    local user="" sys=""
    LAST_E="" LAST_RSS="" LAST_CPU=""
    read -r LAST_E LAST_RSS user sys < <(tail -n 1 "$tf" 2>/dev/null) || true
    if [[ -n "$sys" ]]; then LAST_CPU="$(LC_ALL=C awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"; fi
    LAST_HR="$(elapsed "$t0" "$t1")"
    LAST_ERR=""
    if [[ "$LAST_RC" != 0 ]]; then
        LAST_ERR="$(grep -v '^Command exited with non-zero status' "$err" | grep -m 1 . | cut -c1-160 || true)"
    fi
}

# record VARIANT RUN STAT_JSON: one TSV line for the run that `timed` just did.
record() {
    local variant="$1" run="$2" stat="$3" load
    read -r load _ </proc/loadavg
    if [[ "$LAST_RC" != 0 ]]; then
        log "  FAILED (exit $LAST_RC) after ${LAST_HR}s: ${LAST_ERR:-<no stderr>}"
        stat="$("$PY" -c 'import json, sys; print(json.dumps({"error": sys.argv[1], "problems": []}))' "$LAST_ERR")"
        FAILED[$variant]=1
    else
        log "  wall ${LAST_HR}s (%e ${LAST_E}s), CPU ${LAST_CPU}s, max RSS ${LAST_RSS} KB, load $load, $(cut -c1-160 <<<"$stat")"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$variant" "$run" "$LAST_HR" "$LAST_E" "$LAST_CPU" "$LAST_RSS" \
        "$LAST_RC" "$load" "$(cat "$LOGS/$variant.cmd")" "$stat" >>"$TSV"
}

count_all() { # count_all DATA_DIR: `query --count` over the whole lake (untimed), or the error
    "$WXLAKE_BIN" --data-dir "$1" query --start "$ALL_START" --end "$ALL_END" --count 2>&1 | tail -n 1
}

# ---------------------------------------------------------------- workloads

run_compact() {
    build_month
    local lake="$MDIR/lake" mi="$MDIR/info.json"
    info "$lake" "$mi" "$MONTH_PARAMS" --pieces "$PIECES"
    MONTH_INFO="$mi"
    local rows first last files bytes parts lday lrows lfiles
    rows="$(jget "$mi" 'd["rows"]')"
    first="$(jget "$mi" 'd["lake"]["first_day"]')"
    last="$(jget "$mi" 'd["lake"]["last_day"]')"
    files="$(jget "$mi" 'd["lake"]["files"]')"
    bytes="$(jget "$mi" 'd["lake"]["bytes"]')"
    parts="$(jget "$mi" 'd["lake"]["partitions"]')"
    lday="$(jget "$mi" 'd["lake"]["largest"]["day"]')"
    lrows="$(jget "$mi" 'd["largest_rows"]')"
    lfiles="$(jget "$mi" 'd["lake"]["largest"]["files"]')"
    log "compact lake: $parts partitions $first..$last, $files files ($(jget "$mi" 'd["lake"]["files_per_partition"]') per partition), $((bytes / 1000)) kB, $rows rows; largest partition $lday ($lfiles files, $lrows rows)"
    [[ "$rows" == "$(jget "$mi" 'd["raw_lines"]')" ]] \
        || log "warning: the lake has $rows rows for $(jget "$mi" 'd["raw_lines"]') generated lines"
    warm "$lake"
    local -a variants=(compact baseline compact1)
    local shm=""
    if [[ "$SHM_DIR" != none ]]; then
        if [[ -d "$SHM_DIR" && -w "$SHM_DIR" ]]; then
            shm="$SHM_DIR/wxlake-maintenance-$$"
            SHM_RUN="$shm" # removed on exit
            variants+=(compact_shm baseline_shm)
        else
            log "SHM_DIR=$SHM_DIR is not a writable directory: skipping the *_shm variants"
        fi
    fi
    local run v stat d out
    for ((run = 1; run <= RUNS; run++)); do
        for v in "${variants[@]}"; do
            [[ -z "${FAILED[$v]:-}" ]] || continue
            if [[ "$v" == *_shm ]]; then
                d="$shm/lake" out="$shm/baseline-out.parquet"
                mkdir -p "$shm"
                restore "$lake" "$d" copy
            else
                d="$WORK/compact-lake" out="$WORK/baseline-out.parquet"
                restore "$lake" "$d"
            fi
            case "$v" in
                compact | compact_shm)
                    timed "$v" "$run" "wxlake --data-dir D compact --json" "$LOGS/$v.out" \
                        "$WXLAKE_BIN" --data-dir "$d" compact --json
                    [[ "$LAST_RC" != 0 ]] || stat="$("$PY" "$UTIL" runstat compact --summary "$LOGS/$v.out" \
                        --count "$(count_all "$d")" --expected-count "$rows" --expected-rows "$rows" \
                        --lake "$d/parquet/messages" --expect-files-after "$parts")"
                    ;;
                baseline | baseline_shm)
                    rm -f "$out"
                    timed "$v" "$run" "wxlake --data-dir D query --start $first --end $last --format parquet --output OUT.parquet" \
                        "$LOGS/$v.out" "$WXLAKE_BIN" --data-dir "$d" query --start "$first" --end "$last" \
                        --format parquet --output "$out"
                    [[ "$LAST_RC" != 0 ]] || stat="$("$PY" "$UTIL" runstat query --out "$out" --in-bytes "$bytes" \
                        --in-files "$files" --expected-rows "$rows")"
                    rm -f "$out"
                    ;;
                compact1)
                    timed "$v" "$run" "wxlake --data-dir D compact --start $lday --end $lday --json" "$LOGS/$v.out" \
                        "$WXLAKE_BIN" --data-dir "$d" compact --start "$lday" --end "$lday" --json
                    [[ "$LAST_RC" != 0 ]] || stat="$("$PY" "$UTIL" runstat compact --summary "$LOGS/$v.out" \
                        --count "$(count_all "$d")" --expected-count "$rows" --expected-rows "$lrows" \
                        --lake "$d/parquet/messages" --expect-files-after "$((files - lfiles + 1))")"
                    ;;
            esac
            record "$v" "$run" "${stat:-}"
        done
    done
    rm -rf "$WORK/compact-lake" "$WORK/baseline-out.parquet"
    if [[ -n "$shm" ]]; then rm -rf "$shm"; fi
}

run_archive() {
    build_year
    local lake="$YDIR/lake" yi="$YDIR/info.json"
    info "$lake" "$yi" "$YEAR_PARAMS"
    YEAR_INFO="$yi"
    local rows parts age bytes
    rows="$(jget "$yi" 'd["rows"]')"
    parts="$(jget "$yi" 'd["lake"]["partitions"]')"
    age="$(jget "$yi" 'd["newest_age_days"]')"
    bytes="$(jget "$yi" 'd["lake"]["bytes"]')"
    log "archive lake: $parts partitions, $(jget "$yi" 'd["lake"]["files"]') files, $((bytes / 1000000)) MB, $rows rows; newest day $age days old"
    ((age >= 90)) || die "the archive lake's newest partition is only $age days old: not all cold (REBUILD=1)"
    local zfile zlines zbytes
    zfile="$(find "$lake/messages/raw" -maxdepth 1 -name '*.jsonl' | sort | head -n 1)"
    zlines="$(wc -l <"$zfile")"
    zbytes="$(stat -c %s "$zfile")"
    warm "$lake"
    local d="$WORK/archive-lake" zout="$WORK/zstd.out" run v stat
    local -a variants=(cold warm)
    if [[ -n "$ZSTD" ]]; then variants+=(zstd19 zstd3); else log "no zstd CLI on PATH: skipping the zstd reference"; fi
    for ((run = 1; run <= RUNS; run++)); do
        for v in "${variants[@]}"; do
            [[ -z "${FAILED[$v]:-}" ]] || continue
            case "$v" in
                cold)
                    restore "$lake" "$d"
                    timed "$v" "$run" "wxlake --data-dir D archive --json --raw-retention 100000d" "$LOGS/$v.out" \
                        "$WXLAKE_BIN" --data-dir "$d" archive --json --raw-retention 100000d
                    [[ "$LAST_RC" != 0 ]] || stat="$("$PY" "$UTIL" runstat archive --summary "$LOGS/$v.out" \
                        --count "$(count_all "$d")" --expected-count "$rows" --expected-rows "$rows" \
                        --lake "$d/parquet/messages" --tier cold --partitions "$parts" --expect-files-after "$parts")"
                    ;;
                warm)
                    restore "$lake" "$d"
                    timed "$v" "$run" "wxlake --data-dir D archive --json --raw-retention 100000d --warm-after 1d --cold-after 100000d --warm-level 3" \
                        "$LOGS/$v.out" "$WXLAKE_BIN" --data-dir "$d" archive --json --raw-retention 100000d \
                        --warm-after 1d --cold-after 100000d --warm-level 3
                    [[ "$LAST_RC" != 0 ]] || stat="$("$PY" "$UTIL" runstat archive --summary "$LOGS/$v.out" \
                        --count "$(count_all "$d")" --expected-count "$rows" --expected-rows "$rows" \
                        --lake "$d/parquet/messages" --tier warm --partitions "$parts" --expect-files-after "$parts")"
                    ;;
                zstd19 | zstd3)
                    local lvl="${v#zstd}"
                    rm -f "$zout"
                    timed "$v" "$run" "zstd -$lvl -T1 -q -c $(basename "$zfile") > OUT" "$zout" \
                        "$ZSTD" "-$lvl" -T1 -q -c "$zfile"
                    [[ "$LAST_RC" != 0 ]] || stat="$("$PY" "$UTIL" runstat zstd --out "$zout" --in-bytes "$zbytes" \
                        --expected-rows "$zlines")"
                    ;;
            esac
            record "$v" "$run" "${stat:-}"
        done
    done
    rm -rf "$d" "$zout"
}

# ---------------------------------------------------------------- main

main() {
    local -a want=()
    local a
    for a in "$@"; do
        case "$a" in
            -h | --help) usage; exit 0 ;;
            all) want+=(compact archive) ;;
            compact | archive) want+=("$a") ;;
            *) die "unknown workload '$a' (all, compact, archive; -h for help)" ;;
        esac
    done
    [[ ${#want[@]} -gt 0 ]] || want=(compact archive)
    [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
    [[ "$ARCHIVE_DAYS" =~ ^[1-9][0-9]*$ ]] || die "ARCHIVE_DAYS must be a positive integer, not '$ARCHIVE_DAYS'"
    [[ -x "$TIME_BIN" ]] || die "$TIME_BIN (GNU time) is required: apt-get install time"
    command -v python3 >/dev/null || die "python3 is required"
    PY="$(bench_venv)" || die "cannot make the bench venv (see bench_lib.sh)"
    ((BASH_VERSINFO[0] >= 5)) || die "bash >= 5 is required (\$EPOCHREALTIME)"

    ensure_bin "$WXLAKE_BIN" "$DEFAULT_WXLAKE_BIN" --release --locked
    ensure_bin "$GENERATE_BIN" "$DEFAULT_GENERATE_BIN" --release --locked --example generate
    WXLAKE_SRC="$(cd "$(dirname "$WXLAKE_BIN")" && pwd)/$(basename "$WXLAKE_BIN")"
    ZSTD="$(command -v zstd || true)"
    local zstd_version=""
    if [[ -n "$ZSTD" ]]; then zstd_version="$("$ZSTD" --version | head -n 1 | sed 's/^\*\*\* //; s/ \*\*\*$//')"; fi

    DATA="$BENCH_DIR/data"
    MDIR="$DATA/maintenance-month"
    YDIR="$DATA/maintenance-year"
    WORK="$BENCH_DIR/mwork"
    LOGS="$BENCH_DIR/mlogs"
    TSV="$BENCH_DIR/maintenance-timings.tsv"
    rm -rf "$WORK" "$LOGS"
    mkdir -p "$DATA" "$WORK" "$LOGS"
    # Time a private copy: a cargo build running meanwhile must not swap the binary.
    WXLAKE_BIN="$WORK/wxlake"
    cp "$WXLAKE_SRC" "$WXLAKE_BIN"
    WX_SHA="$(sha256sum "$WXLAKE_BIN" | cut -c1-16)"
    local wx_mtime
    wx_mtime="$(date -u -r "$WXLAKE_SRC" +%Y-%m-%dT%H:%M:%SZ)"
    TODAY="$(TZ="$TZ_LAKE" date +%F)"
    log "wxlake: $WXLAKE_SRC (built $wx_mtime, sha256 $WX_SHA); ${zstd_version:-no zstd CLI}; today ($TZ_LAKE) $TODAY"

    local load
    read -r load _ </proc/loadavg
    if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
        log "warning: load average is $load before starting; timings will be noisy"
    fi
    local overhead
    overhead="$(time_overhead)"
    log "/usr/bin/time true takes ${overhead}s (median of 7)"
    : >"$TSV"
    SHM_RUN=""
    trap 'if [[ -n "$SHM_RUN" ]]; then rm -rf "$SHM_RUN"; fi' EXIT
    declare -gA FAILED=()
    MONTH_INFO="" YEAR_INFO=""
    local w
    for w in compact archive; do
        [[ " ${want[*]} " == *" $w "* ]] || continue
        "run_$w"
    done

    "$PY" "$UTIL" report "$TSV" --runs "$RUNS" --wxlake-bin "$WXLAKE_SRC" --wxlake-sha "$WX_SHA" \
        --wxlake-mtime "$wx_mtime" --zstd-version "$zstd_version" --load-before "$load" \
        --time-overhead "$overhead" ${MONTH_INFO:+--month-info "$MONTH_INFO"} ${YEAR_INFO:+--year-info "$YEAR_INFO"} \
        --markdown "$BENCH_DIR/maintenance-results.md" --json "$BENCH_DIR/maintenance-results.json"
    cat "$BENCH_DIR/maintenance-results.md"

    rm -rf "$WORK"
    if [[ "$CLEAN_DATA" == 1 ]]; then
        log "CLEAN_DATA=1: removing $MDIR $YDIR"
        rm -rf "$MDIR" "$YDIR"
    fi
    log "results: $BENCH_DIR/maintenance-results.md, $BENCH_DIR/maintenance-results.json"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
