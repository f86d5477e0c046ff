#!/usr/bin/env bash
# Ingest with two wxlake binaries, same run, alternating: issue 12's target is schema version 3
# (derived columns: kind, text, title, … and the XML cards parsed for them) within 1.15x of the
# version before it on the design report's 60-day workload.
#
# Usage: benches/schema_ab.sh OLD_BIN [NEW_BIN] [big60 | short] ...   (default workload: big60)
#
# OLD_BIN is a wxlake built from the commit before the change (e.g. a `git worktree` of it built
# with its own CARGO_TARGET_DIR); NEW_BIN defaults to target/release/wxlake. Each round ingests
# the same raw files into an empty lake with each binary in turn (order alternating by round).
# Prints medians (over 2 x RUNS runs each) of wall time, CPU time (user+sys) and peak RSS, the
# new/old ratio per round (of the two runs' sums) and of the medians, and the bytes each lake
# stores.
#
#   big60   60 days x 400 realistic lines (~340 MB, seed 42): the design report's workload
#   short   1 day x 1,000,000 short messages (~570 MB, seed 1)
#   twoyear 730 days x 5,000 short messages (~2.1 GB, seed 7): the two-year backfill of issue 14
#
# Environment: GENERATE_BIN [target/release/examples/generate], BENCH_DIR
# [/tmp/wxlake-bench-schema], RUNS [7].
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OLD_BIN="${1:?usage: schema_ab.sh OLD_BIN [NEW_BIN] [WORKLOAD...]}"
shift
NEW_BIN="$REPO/target/release/wxlake"
if [[ $# -gt 0 && -x "$1" ]]; then NEW_BIN="$1"; shift; fi
GENERATE_BIN="${GENERATE_BIN:-$REPO/target/release/examples/generate}"
BENCH_DIR="${BENCH_DIR:-/tmp/wxlake-bench-schema}"
RUNS="${RUNS:-7}"
log() { printf '[schema_ab %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'schema_ab.sh: %s\n' "$*" >&2; exit 1; }
[[ -x "$OLD_BIN" ]] || die "no old binary at $OLD_BIN"
[[ -x "$NEW_BIN" ]] || die "no new binary at $NEW_BIN (cargo build --release)"
[[ -x "$GENERATE_BIN" ]] || die "no generator at $GENERATE_BIN (cargo build --release --example generate)"

params() {
    case "$1" in
        big60) echo "--days 60 --per-day 400 --seed 42" ;;
        short) echo "--profile short --days 1 --per-day 1000000 --seed 1" ;;
        twoyear) echo "--profile short --days 730 --per-day 5000 --seed 7 --start-date 2025-01-01" ;;
        *) die "unknown workload $1" ;;
    esac
}

gen() { # gen WORKLOAD: $BENCH_DIR/data/WORKLOAD/messages/raw, cached by its arguments
    local dir="$BENCH_DIR/data/$1" args
    args="$(params "$1")"
    if [[ ! -f "$dir/.params" || "$(cat "$dir/.params")" != "$args" ]]; then
        rm -rf "$dir"
        log "generating $1: generate $args"
        # shellcheck disable=SC2086
        "$GENERATE_BIN" --out "$dir" $args >&2
        echo "$args" >"$dir/.params"
    fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

workloads=("$@")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(big60)
mkdir -p "$BENCH_DIR"
out="$BENCH_DIR/results.md"
{
    echo "old: $("$OLD_BIN" --version 2>/dev/null || echo "$OLD_BIN") ($OLD_BIN)"
    echo "new: $("$NEW_BIN" --version 2>/dev/null || echo "$NEW_BIN") ($NEW_BIN)"
    echo
    echo "| workload | binary | wall s (median of $((2 * RUNS))) | CPU s (median) | cores (CPU/wall of medians) | peak RSS MB (median) | lake bytes | new/old wall per round |"
    echo "|---|---|---|---|---|---|---|---|"
} >"$out"
for w in "${workloads[@]}"; do
    gen "$w"
    declare -A wall=() cpu=() rss=() bytes=() this=()
    ratios=()
    for round in $(seq 1 "$RUNS"); do
        this=([old]=0 [new]=0)
        for which in old new new old; do
            bin="$OLD_BIN"
            [[ $which == new ]] && bin="$NEW_BIN"
            work="$BENCH_DIR/work"
            rm -rf "$work"
            mkdir -p "$work/messages"
            # Hard links: ingest never writes a raw file, and a 2 GB copy per run would dominate.
            cp -al "$BENCH_DIR/data/$w/messages/raw" "$work/messages/raw"
            sync
            /usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/time.txt" \
                "$bin" --data-dir "$work" -qq ingest --json >"$BENCH_DIR/$w-$which.json"
            read -r s u sy kb <"$BENCH_DIR/time.txt"
            wall[$which]+="$s "
            cpu[$which]+="$(awk -v u="$u" -v s="$sy" 'BEGIN { print u + s }') "
            rss[$which]+="$((kb / 1024)) "
            bytes[$which]=$(du -sb "$work/parquet/messages" | cut -f1)
            this[$which]=$(awk -v a="${this[$which]}" -v b="$s" 'BEGIN { print a + b }')
            log "$w round $round $which: ${s} s wall, $((kb / 1024)) MB"
        done
        ratios+=("$(awk -v n="${this[new]}" -v o="${this[old]}" 'BEGIN { printf "%.2f", n / o }')")
    done
    for which in old new; do
        m=$(tr ' ' '\n' <<<"${wall[$which]}" | grep . | median)
        c=$(tr ' ' '\n' <<<"${cpu[$which]}" | grep . | median)
        r=$(tr ' ' '\n' <<<"${rss[$which]}" | grep . | median)
        echo "| $w | $which | $m | $c | $(awk -v c="$c" -v m="$m" 'BEGIN { printf "%.2f", c / m }') | $r | ${bytes[$which]} | $([[ $which == new ]] && echo "${ratios[*]}") |" >>"$out"
        declare "med_$which=$m"
    done
    # shellcheck disable=SC2154
    echo "| $w | new/old of medians | $(awk -v n="$med_new" -v o="$med_old" 'BEGIN { printf "%.2f", n / o }') | | | | | |" >>"$out"
    unset wall cpu rss bytes this
done
cat "$out"
