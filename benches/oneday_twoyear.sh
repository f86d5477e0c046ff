#!/usr/bin/env bash
# One more day into a lake of two years against one more day into an empty lake: the cost of a
# nightly ingest must not grow with the lake (issue target: within 20%).
#
# Usage: benches/oneday_twoyear.sh
#
# Needs the two-year data set of benches/query_compare.sh ($BENCH_DIR/data/twoyear: 730 raw
# files of 5,000 short messages, ingested). The extra day is generated here (2027-01-01, 5,000
# short messages, seed 8; its late arrivals land in the lake's last partition, as a real next
# day's do). Each run ingests it into a fresh copy of the state: the two-year lake's parquet/
# and messages/ are hard-linked (ingest never modifies a file in place; it adds files and
# renames), metadata/ is copied (its msg_index/ linked too); the empty lake is created by an ingest with no raw file, then
# gets the new raw file. All copies are made first, then the runs alternate
# between the two, in turn (see below). Prints the median wall times (ms), their ratio, and the
# median of the rounds' ratios.
#
# Environment: WXLAKE_BIN [target/release/wxlake], GENERATE_BIN
# [target/release/examples/generate], BENCH_DIR [/tmp/wxlake-bench], RUNS [31] (with 9, one day now
# takes ~15 ms and the ratio swung from 1.00 to 1.40 between invocations minutes apart).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WXLAKE_BIN="${WXLAKE_BIN:-$REPO/target/release/wxlake}"
GENERATE_BIN="${GENERATE_BIN:-$REPO/target/release/examples/generate}"
BENCH_DIR="${BENCH_DIR:-/tmp/wxlake-bench}"
RUNS="${RUNS:-31}"
LAKE="$BENCH_DIR/data/twoyear"
WORK="$BENCH_DIR/oneday-twoyear"

[[ -d "$LAKE/parquet/messages" ]] || { echo "no two-year lake at $LAKE: run benches/query_compare.sh first" >&2; exit 1; }
mkdir -p "$WORK"
bin="$WORK/wxlake"
cp "$WXLAKE_BIN" "$bin"
day="$WORK/day/messages/raw/2027-01-01.jsonl"
if [[ ! -s "$day" ]]; then
    "$GENERATE_BIN" --out "$WORK/day" --profile short --days 1 --per-day 5000 --seed 8 \
        --start-date 2027-01-01 >&2
fi
cat "$day" > /dev/null

ms() { # ms DATA_DIR: wall ms of one ingest
    local s e
    sync
    s=$EPOCHREALTIME
    "$bin" --data-dir "$1" -qq ingest > /dev/null
    e=$EPOCHREALTIME
    echo "($e - $s) * 1000" | bc
}

empty=() full=()
rm -rf "$WORK/runs"
mkdir -p "$WORK/runs"
# Every run gets its own copy, and all are deleted at the end: deleting thousands of inodes
# between runs makes ext4's inode allocator slow for the next run (it skips recently freed
# inodes), which would be measured as the cost of the lake.
for ((i = 1; i <= RUNS; i++)); do
    e="$WORK/runs/empty-$i" f="$WORK/runs/full-$i"
    mkdir -p "$e/messages/raw"
    "$bin" --data-dir "$e" -qq ingest > /dev/null # creates the (empty) lake
    ln "$day" "$e/messages/raw/"
    mkdir -p "$f/messages"
    cp -al "$LAKE/parquet" "$f/parquet"
    cp -al "$LAKE/messages/raw" "$f/messages/raw"
    cp -a "$LAKE/metadata" "$f/metadata"
    # The msg_id index's files are never modified in place either (segments are replaced by
    # renames, a run appends only to a log of its own): linked, not copied (~50 MB per copy).
    if [[ -d "$LAKE/metadata/msg_index" ]]; then
        rm -rf "$f/metadata/msg_index"
        cp -al "$LAKE/metadata/msg_index" "$f/metadata/msg_index"
    fi
    ln "$day" "$f/messages/raw/"
done
# The two take turns, and odd rounds start with the empty lake, even ones with the two-year
# lake, so that neither always runs right after the other; each round's ratio is kept too (a
# drift of the machine's speed mostly cancels out of it).
rounds=()
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then
        empty+=("$(ms "$WORK/runs/empty-$i")")
        full+=("$(ms "$WORK/runs/full-$i")")
    else
        full+=("$(ms "$WORK/runs/full-$i")")
        empty+=("$(ms "$WORK/runs/empty-$i")")
    fi
    rounds+=("$(echo "${full[-1]} / ${empty[-1]}" | bc -l)")
    echo "run $i: empty ${empty[-1]} ms, two-year ${full[-1]} ms" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
me=$(median "${empty[@]}")
mf=$(median "${full[@]}")
printf '| lake | one more day (median of %s) |\n|---|---|\n| empty | %.1f ms |\n| two years (730 partitions, 730 raw files) | %.1f ms |\n| ratio | %.2f |\n| ratio per round (median) | %.2f |\n' \
    "$RUNS" "$me" "$mf" "$(echo "$mf / $me" | bc -l)" "$(median "${rounds[@]}")"
rm -rf "$WORK/runs"
