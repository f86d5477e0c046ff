#!/usr/bin/env python3
"""pyarrow peer of `wxlake ingest` for benches/compare.sh (the design report's pipeline).

Usage: pyarrow_ingest.py RAW_DIR OUT_DIR [--incremental]

For each RAW_DIR/*.jsonl in name order: json.loads per line into a dict,
normalize it to the wxlake schema, pa.Table.from_pylist for the whole file,
partition keys (local date of create_time in Asia/Shanghai) computed with
pyarrow.compute, dedup by msg_id in a Python set (first copy wins, across files),
then one pq.write_table (Snappy) per partition the file touches, into
OUT_DIR/year=YYYY/month=MM/day=DD/part-<run id>-<n>.parquet (partition columns
only in the path). With --incremental, OUT_DIR already holds a lake: before a
partition is first used, the msg_id column of its existing files is read into
the seen set, so rows already stored are dropped; existing files are not touched.

Fidelity (see benches/README.md): invalid UTF-8, invalid JSON (including two
values on a line) and non-objects are skipped; lone surrogate escapes become
U+FFFD; msg_id must be a non-empty string or an integer (kept as its exact
digits); create_time an integer or digit string, >= 1e11 is milliseconds;
msg_type an integer or digit string within Int32; strings only from JSON
strings; source as is when a string, else compact JSON; unknown keys and the
original values of known keys with an unusable type go to extra_fields as
compact JSON. Not replicated: a line with a duplicate key is accepted (the last
value wins, as json.loads does). A whole raw file is held in memory at once.
"""
import json
import re
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import peer_cli

TZ = "Asia/Shanghai"
MS_THRESHOLD = 10**11
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_SECS = 253402300799 - 86400  # stays within year 9999 in any zone
STRING_FIELDS = ("from_username", "to_username", "chatroom", "chatroom_sender", "content")
KNOWN = {"msg_id", "create_time", "msg_type", "source", *STRING_FIELDS}
SURROGATES = re.compile("[\ud800-\udfff]")
SCHEMA = pa.schema([
    ("msg_id", pa.string()),
    ("create_time", pa.int64()),
    ("msg_type", pa.int32()),
    *[(f, pa.string()) for f in STRING_FIELDS],
    ("source", pa.string()),
    ("extra_fields", pa.string()),
])

sys.set_int_max_str_digits(0)  # msg_id integers of any size


def _compact(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _fix(v):
    """Lone surrogates (from \\udXXX escapes) -> U+FFFD, recursively."""
    if isinstance(v, str):
        return SURROGATES.sub("\ufffd", v)
    if isinstance(v, list):
        return [_fix(x) for x in v]
    if isinstance(v, dict):
        return {_fix(k): _fix(x) for k, x in v.items()}
    return v


def _int_or_digits(v):
    if type(v) is int:
        return v
    if type(v) is str and v.isascii() and v.isdigit():
        return int(v)
    return None


def normalize(raw: bytes):
    """One raw line (without its newline) -> row dict, or None when rejected."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if type(obj) is not dict:
        return None
    if "\\ud" in text or "\\uD" in text:
        obj = _fix(obj)
    mid = obj.get("msg_id")
    if type(mid) is int:
        mid = str(mid)
    elif type(mid) is not str or mid == "":
        return None
    ct = _int_or_digits(obj.get("create_time"))
    if ct is None:
        return None
    if ct >= MS_THRESHOLD:
        ct //= 1000
    if ct <= 0 or ct > MAX_SECS:
        return None
    extra = {k: v for k, v in obj.items() if k not in KNOWN}
    mt_raw = obj.get("msg_type")
    mt = _int_or_digits(mt_raw)
    if mt is not None and not INT32_MIN <= mt <= INT32_MAX:
        mt = None
    if mt is None and mt_raw is not None:
        extra["msg_type"] = mt_raw
    row = {"msg_id": mid, "create_time": ct, "msg_type": mt}
    for f in STRING_FIELDS:
        v = obj.get(f)
        if v is None or type(v) is str:
            row[f] = v
        else:
            row[f] = None
            extra[f] = v
    src = obj.get("source")
    row["source"] = src if src is None or type(src) is str else _compact(src)
    row["extra_fields"] = _compact(extra) if extra else None
    return row


def read_rows(path: Path):
    rows = []
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i == 0 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            line = line.rstrip(b"\n")
            if line.endswith(b"\r"):
                line = line[:-1]
            row = normalize(line)
            if row is not None:
                rows.append(row)
    return rows


def partition_keys(table: pa.Table):
    """int32 array of yyyymmdd (local date of create_time)."""
    ts = pc.cast(pc.cast(table["create_time"], pa.timestamp("s")), pa.timestamp("s", tz="UTC"))
    local = pc.cast(ts, pa.timestamp("s", tz=TZ))
    y, m, d = pc.year(local), pc.month(local), pc.day(local)
    return pc.add(pc.add(pc.multiply(y, 10000), pc.multiply(m, 100)), d)


def existing_ids(out: Path, key: int):
    part = out / f"year={key // 10000:04d}" / f"month={key // 100 % 100:02d}" / f"day={key % 100:02d}"
    ids = set()
    for p in sorted(part.glob("*.parquet")):
        ids.update(pq.read_table(p, columns=["msg_id"]).column(0).to_pylist())
    return ids


def main(argv):
    files, out, incremental = peer_cli.parse(argv, __doc__)
    t0 = time.monotonic()
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    seen, loaded = set(), set()
    written = n_files = 0
    for path in files:
        rows = read_rows(path)
        if not rows:
            continue
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        del rows
        keys = partition_keys(table)
        if incremental:
            for key in pc.unique(keys).to_pylist():
                if key not in loaded:
                    loaded.add(key)
                    seen.update(existing_ids(out, key))
        keep = []
        for mid in table["msg_id"].to_pylist():
            if mid in seen:
                keep.append(False)
            else:
                seen.add(mid)
                keep.append(True)
        mask = pa.array(keep)
        table, keys = table.filter(mask), keys.filter(mask)
        for key in sorted(pc.unique(keys).to_pylist()):
            part = table.filter(pc.equal(keys, key))
            d = out / f"year={key // 10000:04d}" / f"month={key // 100 % 100:02d}" / f"day={key % 100:02d}"
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, d / f"part-{run_id}-{n_files}.parquet", compression="snappy")
            n_files += 1
            written += part.num_rows
    print(f"pyarrow_ingest: {len(files)} file(s), {written} row(s) in {n_files} file(s) "
          f"written to {out} in {time.monotonic() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
