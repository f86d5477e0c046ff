#!/usr/bin/env bash
# `wxlake ingest` with several binaries on the same raw files, same run, alternating: for a
# change to the ingest pipeline that must pay (or at least not cost) on this machine.
#
# Usage: benches/ingest_ab.sh RAW_DIR ROUNDS BIN...
#
# Each round runs every BIN once (odd rounds in the order given, even rounds in reverse), each
# a full ingest of RAW_DIR's *.jsonl (hard-linked) into an empty lake; prints per binary the median wall time, min-max, the median
# CPU (user + sys) and cores (CPU / wall), and the peak RSS. A BIN may be a script that sets
# environment variables and execs a binary.
#
# Environment:
#   FRESH     0: one data dir per binary, its lake deleted before each run (as compare.sh does);
#             1: every run into a brand-new data dir, all deleted at the end (ext4 without a
#             journal looks up every inode deleted in the last minutes when it creates a file,
#             so deleting a lake just before a run costs the run)   [0]
#   WORK      where the data dirs go   [/tmp/wxlake-ingest-ab]
set -euo pipefail

RAW="${1:?usage: ingest_ab.sh RAW_DIR ROUNDS BIN...}"
ROUNDS="${2:?usage: ingest_ab.sh RAW_DIR ROUNDS BIN...}"
shift 2
[[ $# -ge 1 ]] || { echo "usage: ingest_ab.sh RAW_DIR ROUNDS BIN..." >&2; exit 64; }
FRESH="${FRESH:-0}"
WORK="${WORK:-/tmp/wxlake-ingest-ab}"
compgen -G "$RAW/*.jsonl" >/dev/null || { echo "no *.jsonl in $RAW" >&2; exit 66; }

rm -rf "$WORK"
mkdir -p "$WORK"
times="$WORK/times.tsv"
: >"$times"

data_dir() { # data_dir ROUND INDEX: an empty data dir holding links to the raw files
    local d
    if [[ "$FRESH" == 1 ]]; then d="$WORK/run-$1-$2"; else d="$WORK/bin-$2"; fi
    if [[ ! -d "$d/messages/raw" ]]; then
        mkdir -p "$d/messages/raw"
        cp -l "$RAW"/*.jsonl "$d/messages/raw/"
    fi
    rm -rf "$d/parquet" "$d/metadata"
    printf '%s\n' "$d"
}

bins=("$@")
n=${#bins[@]}
for round in $(seq "$ROUNDS"); do
    # Odd rounds run the binaries in the order given, even rounds in reverse: on the two-year
    # backfill whichever ran second in every round was 1-1.5 s slower (the first run's 822
    # deleted files slow the next one's file creation), whatever the binary.
    for k in $(seq 0 $((n - 1))); do
        if ((round % 2)); then i=$((k + 1)); else i=$((n - k)); fi
        bin="${bins[$((i - 1))]}"
        d="$(data_dir "$round" "$i")"
        sync
        /usr/bin/time -f "$i %e %U %S %M" -a -o "$times" "$bin" --data-dir "$d" -q ingest >/dev/null 2>"$WORK/last-$i.err" ||
            { echo "$bin failed (round $round):" >&2; tail -n 5 "$WORK/last-$i.err" >&2; exit 1; }
        printf '[ingest_ab] round %s, %s: %s s\n' "$round" "$bin" "$(tail -n 1 "$times" | cut -d' ' -f2)" >&2
    done
done

python3 - "$times" "$@" <<'PY'
import statistics as st
import sys

rows = [line.split() for line in open(sys.argv[1])]
print("| binary | median wall s | min–max s | median CPU s | cores | peak RSS MB |")
print("|---|---:|---:|---:|---:|---:|")
for i, name in enumerate(sys.argv[2:], start=1):
    mine = [r for r in rows if r[0] == str(i)]
    wall = [float(r[1]) for r in mine]
    cpu = [float(r[2]) + float(r[3]) for r in mine]
    cores = [c / w for c, w in zip(cpu, wall) if w > 0]
    rss = max(int(r[4]) for r in mine) // 1024
    print(f"| {name} | {st.median(wall):.2f} | {min(wall):.2f}–{max(wall):.2f} | "
          f"{st.median(cpu):.2f} | {st.median(cores):.2f} | {rss} |")
PY
rm -rf "$WORK"
