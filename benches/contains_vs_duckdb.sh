#!/usr/bin/env bash
# A text search counted, `wxlake query --contains … --count` against the DuckDB CLI's
# `select count(*) … where content like '%…%'` over the same files: issue 14's scan target
# (wxlake ≤ 0.5 of DuckDB, same run). Whole processes, alternating by round, medians.
#
# Usage: benches/contains_vs_duckdb.sh DATA_DIR [NEEDLE]
#
# DATA_DIR holds a lake of the two-year data set (benches/query_compare.sh's `twoyear`, or
# `benches/schema_ab.sh … twoyear`'s raw files ingested once). Ranges: 120 days
# (2025-01-01..04-30) and the two years (2025-01-01..2026-12-31). DuckDB reads exactly the
# range's partitions through a glob (`year=2025/month=0[1-4]/*/*.parquet`; a list of 1,460 file
# names is too long for one argument), both tools must agree on the count. Environment: RUNS [7], WXLAKE_BIN [target/release/wxlake],
# DUCKDB [the bench venv's duckdb CLI].
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench_lib.sh
source "$REPO/benches/bench_lib.sh"
DATA="${1:?usage: contains_vs_duckdb.sh DATA_DIR [NEEDLE]}"
NEEDLE="${2:-内存占用}"
RUNS="${RUNS:-7}"
WXLAKE_BIN="${WXLAKE_BIN:-$REPO/target/release/wxlake}"
DUCKDB="${DUCKDB:-$(dirname "$(bench_venv)")/duckdb}"
LAKE="$DATA/parquet/messages"
die() { printf 'contains_vs_duckdb.sh: %s\n' "$*" >&2; exit 1; }
[[ -d "$LAKE" ]] || die "no lake at $LAKE"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { local t0=$EPOCHREALTIME; "$@" >"$OUT" 2>/dev/null; local t1=$EPOCHREALTIME; awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

echo "| range | wxlake ms (median of $RUNS) | DuckDB CLI ms | wxlake / DuckDB | per round | count |"
echo "|---|---:|---:|---:|---|---:|"
for range in "2025-01-01 2025-04-30 year=2025/month=0[1-4]" "2025-01-01 2026-12-31 year=202[56]/*"; do
    read -r start end glob <<<"$range"
    sql="select count(*) from read_parquet('$LAKE/$glob/*/*.parquet') where content like '%$NEEDLE%'"
    w=() k=() ratios=()
    for round in $(seq 1 "$RUNS"); do
        order=(wx duck)
        (( round % 2 == 0 )) && order=(duck wx)
        for t in "${order[@]}"; do
            if [[ $t == wx ]]; then
                tw=$(ms "$WXLAKE_BIN" --data-dir "$DATA" -qq query --start "$start" --end "$end" --contains "$NEEDLE" --count)
                wcount=$(tr -d '[:space:]' <"$OUT")
            else
                tk=$(ms "$DUCKDB" -noheader -csv -c "$sql")
                kcount=$(tr -d '[:space:]' <"$OUT")
            fi
        done
        [[ "$wcount" == "$kcount" ]] || die "$range: wxlake counted $wcount, DuckDB $kcount"
        w+=("$tw") k+=("$tk")
        ratios+=("$(awk -v a="$tw" -v b="$tk" 'BEGIN { printf "%.2f", a / b }')")
    done
    mw=$(printf '%s\n' "${w[@]}" | median)
    mk=$(printf '%s\n' "${k[@]}" | median)
    echo "| $start..$end | $mw | $mk | $(awk -v a="$mw" -v b="$mk" 'BEGIN { printf "%.2f", a / b }') | ${ratios[*]} | $wcount |"
done
