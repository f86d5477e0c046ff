#!/usr/bin/env bash
# Ingest of the webhook envelope form against the flat form of the same messages, same run:
# issue 10's target is envelope wall time within 1.1x of flat, memory unchanged.
#
# Usage: benches/envelope.sh [big60 | short] ...   (default: both)
#
# Each workload is generated twice with the same seed: flat, and with --envelope (the same
# message records as `data`, plus ~1.3% contact updates, deletes, details and events). Runs
# alternate flat / envelope, each into an empty lake (a fresh copy of the raw files); the
# report gives medians of wall time and peak RSS (/usr/bin/time), and the envelope/flat ratio
# per round and of the medians.
#
#   big60   60 days x 400 realistic lines (~340 MB flat, seed 42)
#   short   1 day x 500,000 short messages (~285 MB flat, seed 1)
#
# Environment: WXLAKE_BIN [target/release/wxlake], GENERATE_BIN
# [target/release/examples/generate], BENCH_DIR [/tmp/wxlake-bench-envelope], RUNS [5].
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WXLAKE_BIN="${WXLAKE_BIN:-$REPO/target/release/wxlake}"
GENERATE_BIN="${GENERATE_BIN:-$REPO/target/release/examples/generate}"
BENCH_DIR="${BENCH_DIR:-/tmp/wxlake-bench-envelope}"
RUNS="${RUNS:-5}"
log() { printf '[envelope %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'envelope.sh: %s\n' "$*" >&2; exit 1; }
# shellcheck source=benches/bench_lib.sh
source "$REPO/benches/bench_lib.sh"
ensure_bin "$WXLAKE_BIN" "$REPO/target/release/wxlake" --release --locked --bin wxlake
ensure_bin "$GENERATE_BIN" "$REPO/target/release/examples/generate" --release --locked --example generate

params() {
    case "$1" in
        big60) echo "--days 60 --per-day 400 --seed 42" ;;
        short) echo "--profile short --days 1 --per-day 500000 --seed 1" ;;
        *) die "unknown workload $1" ;;
    esac
}

# gen WORKLOAD FORM: $BENCH_DIR/data/WORKLOAD-FORM/messages/raw, cached by its arguments.
gen() {
    local dir="$BENCH_DIR/data/$1-$2" args
    args="$(params "$1")"
    [[ "$2" == envelope ]] && args="$args --envelope"
    if [[ ! -f "$dir/.params" || "$(cat "$dir/.params")" != "$args" ]]; then
        rm -rf "$dir"
        log "generating $1 ($2): generate $args"
        # shellcheck disable=SC2086
        "$GENERATE_BIN" --out "$dir" $args >&2
        echo "$args" >"$dir/.params"
    fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

workloads=("$@")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(big60 short)
mkdir -p "$BENCH_DIR"
out="$BENCH_DIR/results.md"
{
    echo "| workload | form | lines | wall s (median of $RUNS) | peak RSS MB (median) | envelope/flat per round |"
    echo "|---|---|---|---|---|---|"
} >"$out"
for w in "${workloads[@]}"; do
    for form in flat envelope; do gen "$w" "$form"; done
    declare -A wall=() rss=()
    ratios=()
    for round in $(seq 1 "$RUNS"); do
        declare -A this=()
        for form in flat envelope; do
            work="$BENCH_DIR/work"
            rm -rf "$work"
            mkdir -p "$work/messages"
            cp -r "$BENCH_DIR/data/$w-$form/messages/raw" "$work/messages/raw"
            sync
            "${TIME_BIN:-/usr/bin/time}" -f '%e %M' -o "$BENCH_DIR/time.txt" \
                "$WXLAKE_BIN" --data-dir "$work" -qq ingest --json >"$BENCH_DIR/$w-$form.json"
            read -r s kb <"$BENCH_DIR/time.txt"
            wall[$form]+="$s "
            rss[$form]+="$((kb / 1024)) "
            this[$form]=$s
            log "$w round $round $form: ${s} s, $((kb / 1024)) MB"
        done
        ratios+=("$(awk -v e="${this[envelope]}" -v f="${this[flat]}" 'BEGIN { printf "%.2f", e / f }')")
    done
    for form in flat envelope; do
        lines=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['lines_read'])" "$BENCH_DIR/$w-$form.json")
        m=$(tr ' ' '\n' <<<"${wall[$form]}" | grep . | median)
        r=$(tr ' ' '\n' <<<"${rss[$form]}" | grep . | median)
        echo "| $w | $form | $lines | $m | $r | $([[ $form == envelope ]] && echo "${ratios[*]}") |" >>"$out"
        declare "med_$form=$m"
    done
    # shellcheck disable=SC2154
    echo "| $w | ratio of medians | | $(awk -v e="$med_envelope" -v f="$med_flat" 'BEGIN { printf "%.2f", e / f }') | | |" >>"$out"
    unset wall rss
done
cat "$out"
