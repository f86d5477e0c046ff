#!/usr/bin/env bash
# Scans that statistics cannot prune, against the DuckDB CLI over the same files: issue 14's
# scan target (wxlake ≤ 0.5 of DuckDB, same run). Whole processes, alternating by round, medians.
#
# Usage: benches/contains_vs_duckdb.sh DATA_DIR [NEEDLE]
#
# Cases, each over 120 days (2025-01-01..04-30) and the two years (2025-01-01..2026-12-31):
#   contains-count  wxlake query --contains NEEDLE --count
#                   select count(*) … where content like '%NEEDLE%'
#   from-count      wxlake query --from USER --count   (USER: the lake's most frequent
#                   chatroom_sender of 2025-01-01, picked once by DuckDB)
#                   select count(*) … where from_username = USER or chatroom_sender = USER
#   contains-csv    wxlake query --contains NEEDLE --format csv --output FILE
#                   copy (select <the same 12 columns> … where content like '%NEEDLE%'
#                   order by create_time, msg_id) to FILE (header)
#                   DuckDB writes create_time as the stored integer, wxlake as a local
#                   timestamp: the cheaper formulation is the peer's.
# DATA_DIR holds a lake of the two-year data set (benches/query_compare.sh's `twoyear`, or
# `benches/schema_ab.sh … twoyear`'s raw files ingested once). DuckDB reads exactly the range's
# partitions through a glob (`year=2025/month=0[1-4]/*/*.parquet`; a list of 1,460 file names is
# too long for one argument). Both tools must agree on the count (or the CSV's line count).
# Environment: RUNS [7], CASES [contains-count from-count contains-csv],
# WXLAKE_BIN [target/release/wxlake],
# DUCKDB [the bench venv's native DuckDB CLI, not its Python wrapper bin/duckdb].
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench_lib.sh
source "$REPO/benches/bench_lib.sh"
DATA="${1:?usage: contains_vs_duckdb.sh DATA_DIR [NEEDLE]}"
NEEDLE="${2:-内存占用}"
RUNS="${RUNS:-7}"
CASES="${CASES:-contains-count from-count contains-csv}"
WXLAKE_BIN="${WXLAKE_BIN:-$REPO/target/release/wxlake}"
DUCKDB="${DUCKDB:-$(bench_duckdb_cli "$(bench_venv)")}"
LAKE="$DATA/parquet/messages"
die() { printf 'contains_vs_duckdb.sh: %s\n' "$*" >&2; exit 1; }
[[ -d "$LAKE" ]] || die "no lake at $LAKE"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { local t0=$EPOCHREALTIME; "$@" >"$OUT" 2>/dev/null; local t1=$EPOCHREALTIME; awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
SCRATCH="$(mktemp -d)"
OUT="$SCRATCH/stdout"
trap 'rm -rf "$SCRATCH"' EXIT
COLUMNS="msg_id, create_time, msg_type, from_username, to_username, chatroom, chatroom_sender, content, source, extra_fields, guid, notify_type"

USER_ID="$("$DUCKDB" -noheader -list -c "select chatroom_sender from read_parquet('$LAKE/year=2025/month=01/day=01/*.parquet') where chatroom_sender <> '' group by 1 order by count(*) desc, 1 limit 1")"
[[ "$USER_ID" =~ ^[A-Za-z0-9_@.-]+$ ]] || die "no sender picked from 2025-01-01 (got '$USER_ID')"

# The result of the last run of one tool: the count printed, or the CSV's line count.
result() {
    if [[ $1 == contains-csv ]]; then wc -l <"$SCRATCH/out.csv"; else tr -d '[:space:]' <"$OUT"; fi
}

echo "Sender of from-count: $USER_ID; needle: $NEEDLE"
echo
echo "| case | range | wxlake ms (median of $RUNS) | DuckDB CLI ms | wxlake / DuckDB | per round | result |"
echo "|---|---|---:|---:|---:|---|---:|"
for case in $CASES; do
    for range in "2025-01-01 2025-04-30 year=2025/month=0[1-4]" "2025-01-01 2026-12-31 year=202[56]/*"; do
        read -r start end glob <<<"$range"
        files="read_parquet('$LAKE/$glob/*/*.parquet')"
        wx=("$WXLAKE_BIN" --data-dir "$DATA" -qq query --start "$start" --end "$end")
        case $case in
            contains-count)
                wx+=(--contains "$NEEDLE" --count)
                sql="select count(*) from $files where content like '%$NEEDLE%'" ;;
            from-count)
                wx+=(--from "$USER_ID" --count)
                sql="select count(*) from $files where from_username = '$USER_ID' or chatroom_sender = '$USER_ID'" ;;
            contains-csv)
                wx+=(--contains "$NEEDLE" --format csv --output "$SCRATCH/out.csv")
                sql="copy (select $COLUMNS from $files where content like '%$NEEDLE%' order by create_time, msg_id) to '$SCRATCH/out.csv' (header)" ;;
            *) die "unknown case $case" ;;
        esac
        w=() k=() ratios=()
        for round in $(seq 1 "$RUNS"); do
            order=(wx duck)
            (( round % 2 == 0 )) && order=(duck wx)
            for t in "${order[@]}"; do
                rm -f "$SCRATCH/out.csv"
                if [[ $t == wx ]]; then
                    tw=$(ms "${wx[@]}")
                    wres=$(result "$case")
                else
                    tk=$(ms "$DUCKDB" -noheader -csv -c "$sql")
                    kres=$(result "$case")
                fi
            done
            [[ "$wres" == "$kres" ]] || die "$case $start..$end: wxlake gave $wres, DuckDB $kres"
            w+=("$tw") k+=("$tk")
            ratios+=("$(awk -v a="$tw" -v b="$tk" 'BEGIN { printf "%.2f", a / b }')")
        done
        mw=$(printf '%s\n' "${w[@]}" | median)
        mk=$(printf '%s\n' "${k[@]}" | median)
        echo "| $case | $start..$end | $mw | $mk | $(awk -v a="$mw" -v b="$mk" 'BEGIN { printf "%.2f", a / b }') | ${ratios[*]} | $wres |"
    done
done
