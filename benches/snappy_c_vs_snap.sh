#!/usr/bin/env bash
# The `snap` crate (the Snappy inside parquet's writer) against the C libsnappy, on the bytes the
# encoder compresses: the PLAIN pages (4-byte length + value) of the content, source and msg_id
# columns of a lake's largest file. Both compress the same file in 1 MiB blocks, five times;
# prints MB/s of input, alternating the two programs.
#
# Usage: benches/snappy_c_vs_snap.sh DATA_DIR     (a lake, e.g. one day of 1,000,000 short messages)
# Needs gcc and the C library's headers (Debian: apt-get install libsnappy-dev), and the bench
# venv's pyarrow (bench_lib.sh). Not part of CI.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench_lib.sh
source "$REPO/benches/bench_lib.sh"
DATA="${1:?usage: snappy_c_vs_snap.sh DATA_DIR}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$(bench_venv)" - "$DATA" "$WORK/pages.bin" <<'PY'
import glob, os, struct, sys
import pyarrow.parquet as pq
files = glob.glob(os.path.join(sys.argv[1], "parquet/messages/**/*.parquet"), recursive=True)
biggest = max(files, key=os.path.getsize)
table = pq.read_table(biggest, columns=["content", "source", "msg_id"])
with open(sys.argv[2], "wb") as out:
    for name in ["content", "source", "msg_id"]:
        for v in table.column(name).to_pylist():
            if v is not None:
                b = v.encode()
                out.write(struct.pack("<I", len(b)))
                out.write(b)
print(f"{biggest}: {os.path.getsize(sys.argv[2]) / 1e6:.1f} MB of pages", file=sys.stderr)
PY
gcc -O2 -o "$WORK/snapc" "$REPO/benches/snappy/snapc.c" -lsnappy
(cd "$REPO" && cargo build --release --locked --example snap_throughput >&2)
for round in 1 2 3; do
    "$WORK/snapc" "$WORK/pages.bin" | sort -t: -k2 -g | tail -1
    "$REPO/target/release/examples/snap_throughput" "$WORK/pages.bin" | sort -t: -k2 -g | tail -1
done
