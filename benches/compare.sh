#!/usr/bin/env bash
# Compare `wxlake ingest` with peer pipelines (DuckDB, pyarrow, Polars), each run
# as a whole process: median wall time of RUNS runs and peak RSS, measured with
# `/usr/bin/time -f '%e %M'`, every run on a fresh copy of the state it needs.
# The tools take turns (round r of every tool, then round r + 1); the report
# also gives wxlake/DuckDB per round, a ratio that machine drift cancels out of.
#
# Usage: benches/compare.sh [-h] [all | big60 | oneday | short1m | twoyear ...]
#
# Workloads (data made by the generator example, cached under $BENCH_DIR/data):
#   big60    60 days x 400 realistic lines (~342 MB, seed 42) into an empty lake
#   oneday   the big60 lake, then day 61 (~8 MB) ingested into it; only day 61 is timed
#   short1m  1 file of 1,000,000 short messages (~570 MB, seed 1) into an empty lake
#   twoyear  730 files x 5,000 short messages (~2.1 GB, seed 7) into an empty lake: the
#            two-year backfill (not part of `all`: ~20 s per run for wxlake and DuckDB,
#            minutes for pyarrow and Polars)
#
# Environment:
#   WXLAKE_BIN    wxlake binary       [target/release/wxlake; built with cargo if absent]
#   GENERATE_BIN  data generator      [target/release/examples/generate; built if absent]
#   BENCH_DIR     work + results dir  [/tmp/wxlake-bench]
#   RUNS          timed runs per tool and workload [3]
#   TOOLS         tools to run        ["wxlake duckdbfast duckdbjson duckdb pyarrow polars"]
#                 (duckdbfast: DuckDB at its best, see peers/duckdbfast_ingest.py)
#   ORACLE        1: count the expected rows with tests/interop/check_lake.py's
#                 contract (cached per data set); 0: skip   [1]
#   CLEAN_DATA    1: delete the generated data sets at the end (results are kept) [0]
#   WXLAKE_BENCH_CACHE  where the Python venv lives [~/.cache/wxlake-bench]
#
# Output: a markdown table on stdout, also written to $BENCH_DIR/results.md;
# all raw timings and row counts in $BENCH_DIR/results.json (and timings.tsv).
# Progress goes to stderr. Each tool's stdout/stderr of the last run of a
# workload is kept in $BENCH_DIR/logs/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$REPO/benches/peers"
DEFAULT_WXLAKE_BIN="$REPO/target/release/wxlake"
DEFAULT_GENERATE_BIN="$REPO/target/release/examples/generate"
WXLAKE_BIN="${WXLAKE_BIN:-$DEFAULT_WXLAKE_BIN}"
GENERATE_BIN="${GENERATE_BIN:-$DEFAULT_GENERATE_BIN}"
BENCH_DIR="${BENCH_DIR:-/tmp/wxlake-bench}"
RUNS="${RUNS:-3}"
TOOLS="${TOOLS:-wxlake duckdbfast duckdbjson duckdb pyarrow polars}"
ORACLE="${ORACLE:-1}"
CLEAN_DATA="${CLEAN_DATA:-0}"
TIME_BIN=/usr/bin/time

log() { printf '[compare %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# ---------------------------------------------------------------- python venv

# bench_venv (create or reuse the peers' cached venv, print its python).
# shellcheck source=benches/bench_lib.sh
source "$REPO/benches/bench_lib.sh"


# ---------------------------------------------------------------- data sets

# gen_data NAME: make $BENCH_DIR/data/NAME/messages/raw unless it is already
# complete for the same generator arguments (marker file .params).
#   big60 + day61 come from one `--days 61` run: days 1-60 are big60, day 61
#   (2026-03-02) is the extra day (the generator's day k does not depend on --days).
gen_data() {
    local name="$1" params dir
    case "$name" in
        big60 | day61) params="--days 61 --per-day 400 --seed 42" ;;
        short1m) params="--profile short --days 1 --per-day 1000000 --seed 1" ;;
        twoyear) params="--profile short --days 730 --per-day 5000 --seed 7 --start-date 2025-01-01" ;;
        *) die "unknown data set $name" ;;
    esac
    dir="$DATA/$name"
    if [[ -f "$dir/.params" && "$(cat "$dir/.params")" == "$params" ]]; then
        return 0
    fi
    case "$name" in
        big60 | day61)
            rm -rf "$DATA/big60" "$DATA/day61" "$DATA/gen61"
            log "generating big60 + day61: generate --out $DATA/gen61 $params"
            # shellcheck disable=SC2086
            "$GENERATE_BIN" --out "$DATA/gen61" $params >&2
            mkdir -p "$DATA/big60/messages" "$DATA/day61/messages/raw"
            local last
            last="$(find "$DATA/gen61/messages/raw" -name '*.jsonl' | sort | tail -n 1)"
            mv "$last" "$DATA/day61/messages/raw/"
            mv "$DATA/gen61/messages/raw" "$DATA/big60/messages/raw"
            rm -rf "$DATA/gen61"
            echo "$params" >"$DATA/big60/.params"
            echo "$params" >"$DATA/day61/.params"
            ;;
        *)
            rm -rf "$dir"
            log "generating $name: generate --out $dir $params"
            # shellcheck disable=SC2086
            "$GENERATE_BIN" --out "$dir" $params >&2
            echo "$params" >"$dir/.params"
            ;;
    esac
}

raw_files() { find "$DATA/$1/messages/raw" -maxdepth 1 -name '*.jsonl' | sort; }

# expected NAME...: number of rows the contract keeps from the raw files of the
# data sets (in order), cached next to the data.
expected() {
    [[ "$ORACLE" == 1 ]] || { echo ""; return 0; }
    local key cache
    key="$(IFS=+; echo "$*")"
    cache="$DATA/.expected-$key"
    if [[ ! -s "$cache" || "$cache" -ot "$DATA/$1/.params" ]]; then
        log "oracle: counting the expected rows of $key (tests/interop/check_lake.py contract)"
        local files=()
        local n
        for n in "$@"; do mapfile -t -O "${#files[@]}" files < <(raw_files "$n"); done
        "$PY" "$PEERS/bench_util.py" expected "${files[@]}" >"$cache.tmp"
        mv "$cache.tmp" "$cache"
    fi
    cat "$cache"
}

# ---------------------------------------------------------------- timing

# timed WORKLOAD TOOL RUN LAKE CMD...: run CMD under /usr/bin/time, append one
# line to timings.tsv (wall s, max RSS KB, exit code, lake stats as JSON).
timed() {
    local workload="$1" tool="$2" run="$3" lake="$4"
    shift 4
    local tf="$WORK/time.txt" logp="$LOGS/$workload-$tool"
    rm -f "$tf"
    sync
    log "$workload / $tool / run $run: $*"
    local rc=0
    "$TIME_BIN" -f '%e %M' -o "$tf" "$@" >"$logp.out" 2>"$logp.err" || rc=$?
    LAST_RC=$rc
    local wall="" rss="" load
    read -r wall rss < <(tail -n 1 "$tf" 2>/dev/null) || true
    read -r load _ </proc/loadavg
    local stats='{}'
    if [[ "$rc" != 0 ]]; then
        log "  FAILED (exit $rc); last lines of $logp.err:"
        tail -n 5 "$logp.err" >&2 || true
    else
        stats="$("$PY" "$PEERS/bench_util.py" stats "$lake")"
    fi
    log "  wall ${wall}s, max RSS ${rss} KB, exit $rc, load $load, lake $stats"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$tool" "$run" "$wall" "$rss" "$rc" "$load" "$stats" >>"$TSV"
}

# The command a tool runs: full ingest (`full`) or one more day (`incr`).
# wxlake works on a data dir D (D/messages/raw, D/parquet, D/metadata); the
# peers take RAW_DIR OUT_DIR [--incremental] and write OUT_DIR = D/parquet/messages.
tool_cmd() { # tool_cmd TOOL MODE RAW_DIR D
    local tool="$1" mode="$2" raw="$3" d="$4"
    case "$tool" in
        wxlake) printf '%s\n' "$WXLAKE_BIN" --data-dir "$d" ingest --json ;;
        duckdbfast | duckdbjson | duckdb | pyarrow | polars)
            printf '%s\n' "$PY" "$PEERS/${tool}_ingest.py" "$raw" "$d/parquet/messages"
            if [[ "$mode" == incr ]]; then printf '%s\n' --incremental; fi
            ;;
        *) die "unknown tool $tool" ;;
    esac
    return 0
}

# fresh_full WORKLOAD TOOL D: an empty data dir for a full ingest.
fresh_full() {
    local workload="$1" tool="$2" d="$3"
    rm -rf "$d"
    mkdir -p "$d/parquet"
    if [[ "$tool" == wxlake ]]; then
        mkdir -p "$d/messages/raw"
        cp -l "$DATA/$workload/messages/raw/"*.jsonl "$d/messages/raw/"   # read-only input: hard links
    fi
}

# run_full WORKLOAD TOOL RUN: one timed full ingest into a new data dir; leaves it in
# $WORK/run-WORKLOAD-TOOL-RUN, and $WORK/run-WORKLOAD-TOOL-RUN.ok when it succeeded. The lakes
# are deleted only once the workload is done: this machine's ext4 has no journal, and creating a
# file within a minute of deleting many others scans past every inode just deleted, so deleting
# one run's lake just before the next made that run pay for it, in proportion to the files it
# creates (wxlake's two-year sys time swung 2-5 s; see benches/results/2026-12-04-direct-io.md).
run_full() {
    local workload="$1" tool="$2" run="$3" d="$WORK/run-$1-$2-$3"
    local -a cmd
    rm -f "$d.ok"
    fresh_full "$workload" "$tool" "$d"
    mapfile -t cmd < <(tool_cmd "$tool" full "$DATA/$workload/messages/raw" "$d")
    timed "$workload" "$tool" "$run" "$d/parquet/messages" "${cmd[@]}"
    if [[ "$LAST_RC" == 0 ]]; then touch "$d.ok"; fi
}

# prepare_oneday TOOL: $WORK/prep-TOOL = the tool's own lake of big60 (untimed),
# taken from the last big60 run when it succeeded. Returns 1 when it cannot.
prepare_oneday() {
    local tool="$1" prep="$WORK/prep-$1"
    [[ -f "$prep.ok" ]] && return 0
    rm -rf "$prep"
    local r
    for ((r = RUNS; r >= 1; r--)); do # the last big60 run that succeeded
        if [[ -f "$WORK/run-big60-$tool-$r.ok" ]]; then
            mv "$WORK/run-big60-$tool-$r" "$prep"
            mv "$WORK/run-big60-$tool-$r.ok" "$prep.ok"
            return 0
        fi
    done
    log "oneday / $tool: preparing the big60 lake (untimed)"
    fresh_full big60 "$tool" "$prep"
    local -a cmd
    mapfile -t cmd < <(tool_cmd "$tool" full "$DATA/big60/messages/raw" "$prep")
    if ! "${cmd[@]}" >"$LOGS/prep-$tool.out" 2>"$LOGS/prep-$tool.err"; then
        log "oneday / $tool: preparing the big60 lake failed; see $LOGS/prep-$tool.err"
        return 1
    fi
    touch "$prep.ok"
}

# run_oneday TOOL RUN: one timed ingest of day 61 into a copy of the tool's big60 lake.
run_oneday() {
    local tool="$1" run="$2" prep="$WORK/prep-$1" d="$WORK/run-oneday-$1"
    if [[ ! -f "$prep.ok" ]]; then
        if [[ "$run" == 1 ]]; then
            printf 'oneday\t%s\t1\t\t\t99\t0\t{"problems": ["preparing the big60 lake failed"]}\n' "$tool" >>"$TSV"
        fi
        return 0
    fi
    local -a cmd
    rm -rf "$d"
    mkdir -p "$d"
    cp -a "$prep/parquet" "$d/"   # a real copy: the run must not touch the prepared lake
    if [[ "$tool" == wxlake ]]; then
        cp -a "$prep/metadata" "$d/"
        mkdir -p "$d/messages/raw"
        cp -l "$prep/messages/raw/"*.jsonl "$DATA/day61/messages/raw/"*.jsonl "$d/messages/raw/"
    fi
    mapfile -t cmd < <(tool_cmd "$tool" incr "$DATA/day61/messages/raw" "$d")
    timed oneday "$tool" "$run" "$d/parquet/messages" "${cmd[@]}"
    rm -rf "$d"
}

warm() { cat "$@" >/dev/null; } # same (warm) page cache for every tool

# turn_order RUN: the tools in TOOLS order on odd runs, reversed on even ones, so that no tool
# always runs right after the same one (a run's position changes its time on this machine).
turn_order() {
    local tools i
    read -r -a tools <<<"$TOOLS"
    if (($1 % 2 == 0)); then
        for ((i = ${#tools[@]} - 1; i >= 0; i--)); do printf '%s ' "${tools[i]}"; done
    else
        printf '%s ' "${tools[@]}"
    fi
}

# ---------------------------------------------------------------- main

main() {
    local -a want=()
    local a
    for a in "$@"; do
        case "$a" in
            -h | --help) usage; exit 0 ;;
            all) want+=(big60 oneday short1m) ;;
            big60 | oneday | short1m | twoyear) want+=("$a") ;;
            *) die "unknown workload '$a' (all, big60, oneday, short1m, twoyear; -h for help)" ;;
        esac
    done
    [[ ${#want[@]} -gt 0 ]] || want=(big60 oneday short1m)
    [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
    local t
    for t in $TOOLS; do
        case "$t" in wxlake | duckdbfast | duckdbjson | duckdb | pyarrow | polars) ;; *) die "unknown tool '$t' in TOOLS" ;; esac
    done
    [[ -x "$TIME_BIN" ]] || die "$TIME_BIN (GNU time) is required: apt-get install time"
    # Canonical order: big60 leaves its lakes behind for oneday.
    local -a workloads=()
    local w
    for w in big60 oneday short1m twoyear; do
        [[ " ${want[*]} " == *" $w "* ]] && workloads+=("$w")
    done

    ensure_bin "$WXLAKE_BIN" "$DEFAULT_WXLAKE_BIN" --release --locked
    ensure_bin "$GENERATE_BIN" "$DEFAULT_GENERATE_BIN" --release --locked --example generate
    WXLAKE_SRC="$(cd "$(dirname "$WXLAKE_BIN")" && pwd)/$(basename "$WXLAKE_BIN")"
    PY="$(bench_venv)"

    DATA="$BENCH_DIR/data"
    WORK="$BENCH_DIR/work"
    LOGS="$BENCH_DIR/logs"
    TSV="$BENCH_DIR/timings.tsv"
    rm -rf "$WORK" "$LOGS"
    mkdir -p "$DATA" "$WORK" "$LOGS"
    # Time a private copy: a cargo build running meanwhile must not swap the binary.
    WXLAKE_BIN="$WORK/wxlake"
    cp "$WXLAKE_SRC" "$WXLAKE_BIN"
    local wx_sha wx_mtime
    wx_sha="$(sha256sum "$WXLAKE_BIN" | cut -c1-16)"
    wx_mtime="$(date -u -r "$WXLAKE_SRC" +%Y-%m-%dT%H:%M:%SZ)"
    log "wxlake: $WXLAKE_SRC (built $wx_mtime, sha256 $wx_sha)"
    local load
    read -r load _ </proc/loadavg
    if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
        log "warning: load average is $load before starting; timings will be noisy"
    fi
    : >"$TSV"
    local expect_file="$BENCH_DIR/expected.tsv"
    : >"$expect_file"

    # Rounds: run r of every tool, then run r + 1, so that a drift of the machine's speed
    # (noisy neighbours) hits every tool alike instead of whichever ran last.
    local run
    for w in "${workloads[@]}"; do
        case "$w" in
            big60)
                gen_data big60
                printf 'big60\t%s\n' "$(expected big60)" >>"$expect_file"
                warm "$DATA"/big60/messages/raw/*.jsonl
                for ((run = 1; run <= RUNS; run++)); do
                    for t in $(turn_order "$run"); do run_full big60 "$t" "$run"; done
                done
                ;;
            oneday)
                gen_data big60
                gen_data day61
                printf 'oneday\t%s\n' "$(expected big60 day61)" >>"$expect_file"
                for t in $TOOLS; do prepare_oneday "$t" || true; done
                warm "$DATA"/day61/messages/raw/*.jsonl
                for ((run = 1; run <= RUNS; run++)); do
                    for t in $(turn_order "$run"); do run_oneday "$t" "$run"; done
                done
                ;;
            short1m | twoyear)
                gen_data "$w"
                printf '%s\t%s\n' "$w" "$(expected "$w")" >>"$expect_file"
                for ((run = 1; run <= RUNS; run++)); do
                    for t in $(turn_order "$run"); do
                        warm "$DATA/$w"/messages/raw/*.jsonl
                        run_full "$w" "$t" "$run"
                    done
                done
                ;;
        esac
        # Lakes of a finished workload are not needed any more (big60's feed oneday).
        if [[ "$w" != big60 || " ${workloads[*]} " != *" oneday "* ]]; then
            rm -rf "$WORK"/run-"$w"-* "$WORK"/prep-*
        fi
    done

    local -a meta=(
        --runs "$RUNS" --tools "$TOOLS" --wxlake-bin "$WXLAKE_SRC" --wxlake-sha "$wx_sha"
        --wxlake-mtime "$wx_mtime" --repo "$REPO"
        --bench-dir "$BENCH_DIR" --expected "$expect_file" --data "$DATA"
    )
    "$PY" "$PEERS/bench_util.py" report "$TSV" "${meta[@]}" \
        --markdown "$BENCH_DIR/results.md" --json "$BENCH_DIR/results.json"
    cat "$BENCH_DIR/results.md"

    rm -rf "$WORK"
    if [[ "$CLEAN_DATA" == 1 ]]; then
        log "CLEAN_DATA=1: removing $DATA"
        rm -rf "$DATA"
    fi
    log "results: $BENCH_DIR/results.md, $BENCH_DIR/results.json"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
