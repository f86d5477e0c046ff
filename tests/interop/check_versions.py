#!/usr/bin/env python3
"""Real readers over a lake of mixed schema versions, before and after `wxlake migrate`.

Usage: check_versions.py WXLAKE DATA_DIR

DATA_DIR holds partitions written as schema versions 1 and 2 (examples/legacy_lake) beside
version-3 ones. Checked, with pyarrow.dataset (the files' schemas unified) and DuckDB
(read_parquet with union_by_name):
- before: every row is read once; the derived columns (kind, text, ...) are non-null in every
  row of a version-3 file and null in every row of an older one (other engines see what the
  files hold; wxlake derives them on read);
- `wxlake migrate` then rewrites every older partition: every file records version 3, the
  msg_id set is unchanged, every row has a kind, and the columns the collector sent are
  unchanged (a 4.x packed msg_type is split into msg_type and app_type);
- a second `wxlake migrate` plans nothing.
Exit 0 when all holds, 1 otherwise.
"""
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

SENT = ["msg_id", "create_time", "from_username", "to_username", "chatroom", "content",
        "source", "guid", "notify_type"]


def files(lake):
    return sorted((lake / "parquet" / "messages").glob("year=*/month=*/day=*/*.parquet"))


def version(path):
    meta = pq.read_metadata(path).metadata or {}
    return int(meta.get(b"wxlake.schema_version", b"1"))


def read_pyarrow(lake):
    paths = [str(p) for p in files(lake)]
    schema = pa.unify_schemas([pq.read_schema(p) for p in paths])
    table = ds.dataset(paths, schema=schema, format="parquet").to_table()
    return {r["msg_id"]: r for r in table.to_pylist()}


def read_duckdb(lake):
    glob = str(lake / "parquet" / "messages" / "**" / "*.parquet")
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true, union_by_name=true)")
    cols = rel.columns
    return {row[cols.index("msg_id")]: dict(zip(cols, row)) for row in rel.fetchall()}


def main():
    wxlake, lake = sys.argv[1], Path(sys.argv[2])
    problems = []
    versions = {version(p) for p in files(lake)}
    if not {1, 2, 3} <= versions:
        problems.append(f"the lake should hold versions 1, 2 and 3; it holds {sorted(versions)}")
    old_ids = set()
    for p in files(lake):
        ids = pq.read_table(p, columns=["msg_id"]).column("msg_id").to_pylist()
        if version(p) < 3:
            old_ids.update(ids)
    before = {}
    for name, read in (("pyarrow", read_pyarrow), ("duckdb", read_duckdb)):
        rows = read(lake)
        before[name] = rows
        for mid, r in rows.items():
            if (r.get("kind") is None) != (mid in old_ids):
                problems.append(f"{name}: msg_id {mid}: kind {r.get('kind')!r} in a "
                                f"{'pre-3' if mid in old_ids else 'version-3'} file")
                break
    if set(before["pyarrow"]) != set(before["duckdb"]):
        problems.append("pyarrow and duckdb read different msg_ids")

    run = subprocess.run([wxlake, "--data-dir", str(lake), "-q", "migrate", "--json"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        problems.append(f"migrate failed: {run.stderr}")
    else:
        summary = json.loads(run.stdout)
        if not summary["partitions"]:
            problems.append("migrate rewrote nothing")
    if {version(p) for p in files(lake)} != {3}:
        problems.append("after migrate, some file is not version 3")
    for name, read in (("pyarrow", read_pyarrow), ("duckdb", read_duckdb)):
        rows = read(lake)
        if set(rows) != set(before[name]):
            problems.append(f"{name}: migrate changed the msg_id set")
            continue
        for mid, r in rows.items():
            old = before[name][mid]
            if r["kind"] is None:
                problems.append(f"{name}: msg_id {mid} has no kind after migrate")
                break
            changed = [c for c in SENT if r.get(c) != old.get(c)]
            if changed:
                problems.append(f"{name}: msg_id {mid}: migrate changed {changed}")
                break
            if old.get("msg_type") is not None and r["msg_type"] != old["msg_type"]:
                problems.append(f"{name}: msg_id {mid}: msg_type {old['msg_type']} -> {r['msg_type']}")
                break
    again = subprocess.run([wxlake, "--data-dir", str(lake), "-q", "migrate", "--json"],
                           capture_output=True, text=True)
    if again.returncode != 0 or json.loads(again.stdout)["partitions"]:
        problems.append(f"a second migrate did something: {again.stdout} {again.stderr}")

    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    n = len(before["pyarrow"])
    print(f"OK: {n} rows in versions {sorted(versions)} read by pyarrow and duckdb; "
          f"{len(old_ids)} rows migrated to version 3, msg_ids and sent columns unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
