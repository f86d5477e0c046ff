#!/usr/bin/env bash
# `wxlake query` with two binaries on the same lake, same run, alternating: for a change that
# must leave queries no slower (a redesign, a new schema version).
#
# Usage: benches/query_ab.sh OLD_BIN [NEW_BIN]
#
# The lake is benches/query_compare.sh's two-year lake ($BENCH_DIR/data/twoyear: 730 days of
# 5,000 short messages). Queries: (a) one day, one chatroom; (b) one month to CSV; (c) seven days,
# one sender; (d) a text search over 120 days, counted. The chatroom and sender are the first
# row's of the day (read with NEW_BIN). Each round runs every query with both binaries, their
# order alternating by round; prints medians of wall time (ms, process start included) and the
# new/old ratio. Needs bash >= 5 ($EPOCHREALTIME).
#
# Environment: BENCH_DIR [/tmp/wxlake-bench], RUNS [7].
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OLD_BIN="${1:?usage: query_ab.sh OLD_BIN [NEW_BIN]}"
NEW_BIN="${2:-$REPO/target/release/wxlake}"
BENCH_DIR="${BENCH_DIR:-/tmp/wxlake-bench}"
RUNS="${RUNS:-7}"
LAKE="$BENCH_DIR/data/twoyear"
[[ -d "$LAKE/parquet/messages" ]] || { echo "no two-year lake at $LAKE: run benches/query_compare.sh first" >&2; exit 1; }

day=2025-06-15
first=$("$NEW_BIN" --data-dir "$LAKE" -qq query --start "$day" --format csv --columns chatroom,chatroom_sender --limit 50 \
    | awk -F, 'NR > 1 && $1 != "" && $2 != "" { print $1, $2; exit }')
room=${first%% *}
sender=${first##* }
declare -A Q=(
    [a]="query --start $day --chatroom $room --format csv"
    [b]="query --start 2025-06-01 --end 2025-06-30 --format csv"
    [c]="query --start $day --end 2025-06-21 --from $sender --format csv"
    [d]="query --start 2025-01-01 --end 2025-04-30 --contains 服务器 --count"
)
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A wall=()
for round in $(seq 1 "$RUNS"); do
    for q in a b c d; do
        order=(old new)
        (( round % 2 == 0 )) && order=(new old)
        for which in "${order[@]}"; do
            bin="$OLD_BIN"
            [[ $which == new ]] && bin="$NEW_BIN"
            # Milliseconds: (a) and (c) take a few, below /usr/bin/time's resolution.
            t0=$EPOCHREALTIME
            # shellcheck disable=SC2086
            "$bin" --data-dir "$LAKE" -qq ${Q[$q]} > /dev/null
            t1=$EPOCHREALTIME
            wall[$q-$which]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }') "
        done
    done
done
echo "old: $OLD_BIN; new: $NEW_BIN; $RUNS rounds; chatroom $room, sender $sender"
echo
echo "| query | old ms (median) | new ms (median) | new/old |"
echo "|---|---|---|---|"
for q in a b c d; do
    o=$(tr ' ' '\n' <<<"${wall[$q-old]}" | grep . | median)
    n=$(tr ' ' '\n' <<<"${wall[$q-new]}" | grep . | median)
    echo "| ($q) ${Q[$q]} | $o | $n | $(awk -v n="$n" -v o="$o" 'BEGIN { printf "%.2f", (o > 0) ? n / o : 0 }') |"
done
