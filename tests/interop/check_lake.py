#!/usr/bin/env python3
"""Independent interoperability oracle for the wxlake Parquet lake.

Usage: check_lake.py DATA_DIR [--timezone Asia/Shanghai] [--expect-count N]

Recomputes, from the raw inputs DATA_DIR/messages/raw/*.jsonl and the input
contract alone (no code shared with the Rust ingester), which rows the lake must
hold, then reads DATA_DIR/parquet/messages with two independent readers
(pyarrow.dataset with hive partitioning, DuckDB read_parquet with
hive_partitioning) and checks, for each reader: the msg_ids are exactly the
expected ones, each once; year/month/day equal the local date of create_time;
field values equal the first copy's; the expected columns exist. It also checks
the files themselves: names, hive directory layout, and no partition columns
inside the Parquet data. Exit 0 when all holds, 1 (listing discrepancies)
otherwise. Uses only pyarrow, duckdb and the standard library.
"""
import argparse
import datetime as dt
import json
import re
import sys
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MS_THRESHOLD = 10**11  # create_time values >= this are milliseconds
DIGITS = re.compile(r"[0-9]+")  # used with fullmatch: ASCII digits only
SURROGATES = re.compile("[\ud800-\udfff]")
STRING_FIELDS = ("from_username", "to_username", "chatroom", "chatroom_sender", "content")
COMPARED = ("create_time", "msg_type") + STRING_FIELDS
PARTS = ("year", "month", "day")
REQUIRED_COLUMNS = {"msg_id", "create_time", "msg_type", "source", "extra_fields"} | set(STRING_FIELDS)
FILE_PATH = re.compile(r"year=\d{4}/month=\d{2}/day=\d{2}/[^/]+\.parquet")
MAX_SHOWN = 20

sys.set_int_max_str_digits(0)  # msg_id integers of any size


class Reject(Exception):
    """A raw line that the contract keeps out of the lake."""


def _no_constants(name):
    raise ValueError(f"non-standard JSON constant {name}")  # NaN/Infinity


def _fix(value):
    """Replace lone UTF-16 surrogates (from \\udXXX escapes) with U+FFFD, recursively."""
    if isinstance(value, str):
        return SURROGATES.sub("\ufffd", value)
    if isinstance(value, list):
        return [_fix(v) for v in value]
    if isinstance(value, dict):
        return {_fix(k): _fix(v) for k, v in value.items()}
    return value


def _int_or_digits(value):
    """A JSON integer (not bool) or an ASCII-digit string as int, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and DIGITS.fullmatch(value):
        return int(value)
    return None


class _Obj(dict):
    """A JSON object that remembers whether a key appeared twice."""

    has_duplicate_key = False


def _pairs(pairs):
    obj = _Obj(pairs)
    obj.has_duplicate_key = len(obj) != len(pairs)
    return obj


def parse_line(raw: bytes, tz):
    """Return (msg_id, row dict) for an accepted line; raise Reject otherwise."""
    try:
        text = raw.decode("utf-8")  # strict
    except UnicodeDecodeError as e:
        raise Reject("invalid UTF-8") from e
    try:
        obj = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_pairs)
    except (ValueError, RecursionError) as e:  # includes "Extra data" (two values)
        raise Reject("invalid JSON") from e
    if not isinstance(obj, dict):
        raise Reject("not an object")
    if obj.has_duplicate_key:  # only the top level: nested objects are kept verbatim
        raise Reject("duplicate key")
    obj = _fix(obj)

    mid = obj.get("msg_id")
    if isinstance(mid, bool) or not isinstance(mid, (int, str)) or mid == "":
        raise Reject("unusable msg_id")
    mid = str(mid)  # exact decimal text for integers of any size

    ct = _int_or_digits(obj.get("create_time"))
    if ct is None:
        raise Reject("unusable create_time")
    if ct >= MS_THRESHOLD:
        ct //= 1000
    if ct <= 0:
        raise Reject("unusable create_time")
    try:
        local = dt.datetime.fromtimestamp(ct, tz).date()
    except (OverflowError, OSError, ValueError) as e:
        # Beyond Python's year 9999; the contract is silent, treated as unusable.
        raise Reject("create_time out of range") from e

    mt = _int_or_digits(obj.get("msg_type"))
    row = {
        "create_time": ct,
        "msg_type": mt if mt is not None and INT32_MIN <= mt <= INT32_MAX else None,
        "date": (local.year, local.month, local.day),
    }
    for f in STRING_FIELDS:
        v = obj.get(f)
        row[f] = v if isinstance(v, str) else None
    return mid, row


def expected_rows(raw_dir: Path, tz):
    """Apply the input contract to every raw file: {msg_id: row} plus stats."""
    expected, stats = {}, Counter()
    files = sorted(raw_dir.glob("*.jsonl"), key=lambda p: p.name)
    for path in files:
        data = path.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]  # BOM only at the very start of the file
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # trailing newline; an unterminated last line still counts
        for raw in lines:
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            stats["lines"] += 1
            if not raw.decode("utf-8", "replace").strip():
                stats["blank"] += 1
                continue
            try:
                mid, row = parse_line(raw, tz)
            except Reject as r:
                stats["rejected: " + str(r)] += 1
                continue
            if mid in expected:
                stats["duplicates dropped"] += 1
            else:
                expected[mid] = row
    stats["files"] = len(files)
    return expected, stats


def read_pyarrow(lake: Path):
    dataset = ds.dataset(str(lake), format="parquet", partitioning="hive")
    names = set(dataset.schema.names)
    cols = ["msg_id", *COMPARED, *PARTS]
    table = dataset.to_table(columns=[c for c in cols if c in names])
    data = {c: table.column(c).to_pylist() for c in table.column_names}
    return names, data, table.num_rows


def read_duckdb(lake: Path):
    glob = str(lake / "**" / "*.parquet").replace("'", "''")
    src = f"read_parquet('{glob}', hive_partitioning=true)"
    con = duckdb.connect()
    try:
        names = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        cols = [c for c in ["msg_id", *COMPARED, *PARTS] if c in names]
        select = ", ".join(f'"{c}"' for c in cols)
        rows = con.execute(f"SELECT {select} FROM {src}").fetchall()
    finally:
        con.close()
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    return names, data, len(rows)


def check_reader(name, names, data, n, expected, problems):
    """Compare one reader's view of the lake with the expected rows."""
    p = lambda msg: problems.append(f"[{name}] {msg}")
    missing_cols = (REQUIRED_COLUMNS | set(PARTS)) - names
    if missing_cols:
        p(f"missing columns: {sorted(missing_cols)}")
    if "msg_id" not in data:
        return
    ids = data["msg_id"]
    counts = Counter(ids)
    for mid in sorted(set(expected) - set(counts)):
        p(f"missing msg_id {mid!r}")
    for mid in sorted(set(counts) - set(expected), key=str):
        p(f"unexpected msg_id {mid!r} ({counts[mid]} row(s))")
    for mid, c in sorted(counts.items(), key=lambda kv: str(kv[0])):
        if c > 1:
            p(f"msg_id {mid!r} appears {c} times")
    for i in range(n):
        mid = ids[i]
        exp = expected.get(mid)
        if exp is None:
            continue
        if all(c in data for c in PARTS):
            got = tuple(None if data[c][i] is None else int(data[c][i]) for c in PARTS)
            if got != exp["date"]:
                p(f"msg_id {mid!r}: partition {got} != local date {exp['date']} "
                  f"of create_time {exp['create_time']}")
        for col in COMPARED:
            if col in data and data[col][i] != exp[col]:
                p(f"msg_id {mid!r}: {col} = {data[col][i]!r}, expected {exp[col]!r}")


def check_files(lake: Path, problems):
    """File names, hive layout, and no partition columns inside the files."""
    files, partitions = [], set()
    for path in sorted(lake.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(lake).as_posix()
        if path.name.startswith((".", "_")) or not path.name.endswith(".parquet"):
            problems.append(f"[files] stray file {rel}")
            continue
        if not FILE_PATH.fullmatch(rel):
            problems.append(f"[files] not under year=YYYY/month=MM/day=DD/: {rel}")
        files.append(path)
        partitions.add(path.parent)
        try:
            inside = set(pq.read_schema(path).names) & set(PARTS)
        except Exception as e:  # noqa: BLE001 - report any unreadable file
            problems.append(f"[files] cannot read schema of {rel}: {e}")
            continue
        if inside:
            problems.append(f"[files] {rel} contains partition column(s) {sorted(inside)}")
    return files, partitions


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--timezone", default="Asia/Shanghai")
    ap.add_argument("--expect-count", type=int)
    args = ap.parse_args()
    tz = ZoneInfo(args.timezone)
    raw_dir = args.data_dir / "messages" / "raw"
    lake = args.data_dir / "parquet" / "messages"
    problems = []

    expected, stats = expected_rows(raw_dir, tz)
    print(f"input: {stats['files']} file(s), {stats['lines']} line(s), {len(expected)} expected row(s)")
    for k in sorted(k for k in stats if k not in ("files", "lines")):
        print(f"  {k}: {stats[k]}")
    if args.expect_count is not None and len(expected) != args.expect_count:
        problems.append(f"[input] oracle expects {len(expected)} rows, --expect-count says {args.expect_count}")

    if not lake.is_dir():
        problems.append(f"[files] lake directory {lake} does not exist")
    else:
        files, partitions = check_files(lake, problems)
        print(f"lake: {len(files)} parquet file(s) in {len(partitions)} partition(s)")
        for name, reader in (("pyarrow", read_pyarrow), ("duckdb", read_duckdb)):
            try:
                names, data, n = reader(lake)
            except Exception as e:  # noqa: BLE001 - a reader failing is a finding
                problems.append(f"[{name}] failed to read the lake: {type(e).__name__}: {e}")
                continue
            print(f"  {name}: {n} row(s)")
            check_reader(name, names, data, n, expected, problems)

    if problems:
        print(f"FAIL: {len(problems)} discrepancy(ies)")
        for msg in problems[:MAX_SHOWN]:
            print("  " + msg)
        if len(problems) > MAX_SHOWN:
            print(f"  ... and {len(problems) - MAX_SHOWN} more")
        return 1
    print("OK: lake matches the raw input for pyarrow and duckdb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
