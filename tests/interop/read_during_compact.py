#!/usr/bin/env python3
"""Readers that take no lock of ours see a whole lake while `wxlake compact` rewrites it.

Usage: read_during_compact.py WXLAKE_BIN DATA_DIR

Counts the rows of DATA_DIR's lake with DuckDB, starts `wxlake compact`, and until it exits
counts again and again with pyarrow.dataset and DuckDB (read_parquet with hive_partitioning)
and with `wxlake query --count`. Every count that completes must equal the first one. A
pyarrow or DuckDB read can still fail when a file it listed is replaced before it opens it
(they list, then open by path); such a read is retried and counted, never accepted as a wrong
number. Exits 1 on a wrong count or if compact fails, 0 otherwise.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.dataset as ds


def main():
    wxlake, data = sys.argv[1], Path(sys.argv[2])
    lake = data / "parquet" / "messages"
    glob = str(lake / "**" / "*.parquet")

    def duck():
        return duckdb.sql(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)", params=[glob]
        ).fetchall()[0][0]

    def arrow():
        return ds.dataset(str(lake), format="parquet", partitioning="hive").count_rows()

    def ours():
        out = subprocess.run(
            [wxlake, "--data-dir", str(data), "query", "--start", "1970-01-02", "--end", "2099-12-31", "--count"],
            capture_output=True, text=True, check=True,
        )
        return int(out.stdout)

    expected = duck()
    files_before = sum(1 for _ in lake.rglob("*.parquet"))
    proc = subprocess.Popen([wxlake, "--data-dir", str(data), "-q", "compact", "--json"],
                            stdout=subprocess.PIPE, text=True)
    counts = {"duckdb": 0, "pyarrow": 0, "wxlake": 0}
    retried = {"duckdb": 0, "pyarrow": 0, "wxlake": 0}
    bad = []
    started = time.monotonic()
    while True:
        running = proc.poll() is None
        for name, fn in (("duckdb", duck), ("pyarrow", arrow), ("wxlake", ours)):
            try:
                n = fn()
            except (OSError, duckdb.Error, subprocess.CalledProcessError) as e:
                if name == "wxlake":
                    bad.append(f"wxlake query failed: {e}")
                retried[name] += 1
                continue
            counts[name] += 1
            if n != expected:
                bad.append(f"{name} counted {n}, expected {expected}")
        if not running:
            break
    out, _ = proc.communicate()
    elapsed = time.monotonic() - started
    files_after = sum(1 for _ in lake.rglob("*.parquet"))
    print(f"compact ran {elapsed:.2f} s: {files_before} -> {files_after} files; "
          f"counts completed {counts}, reads retried after a file vanished {retried}")
    if proc.returncode != 0:
        print(f"FAIL: compact exited {proc.returncode}")
        return 1
    summary = json.loads(out)
    if not summary["partitions"]:
        print("FAIL: compact rewrote nothing; the lake was not fragmented")
        return 1
    if bad:
        print("FAIL:\n  " + "\n  ".join(bad[:10]))
        return 1
    if duck() != expected or arrow() != expected:
        print("FAIL: the count changed after compaction")
        return 1
    print(f"OK: every completed count was {expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
