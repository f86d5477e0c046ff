#!/usr/bin/env python3
"""Independent interoperability oracle for the wxlake Parquet lake.

Usage: check_lake.py DATA_DIR [--timezone ZONE] [--expect-count N]

Recomputes, from the raw inputs DATA_DIR/messages/raw/YYYY-MM-DD.jsonl and the input
contract alone (no code shared with the Rust ingester), which rows the lake must hold in
each of its three tables, then reads them with two independent readers (pyarrow.dataset,
DuckDB read_parquet) and checks each reader's view.

The contract, as this oracle implements it:
- A line is a JSON object; an object with an object under "data" and no top-level
  "msg_id" is a webhook envelope: "data" is the record, the envelope's "guid" (a string)
  and "notify_type" (an integer or a digit string) go with it. A flat line may carry its
  own guid/notify_type keys.
- A record with msg_id, or notify_type 1010, or no usable notify_type, is a message;
  1200/1201/1202 is a contact record (update/delete/detail); anything else an event.
- A msg_type of 2^32 or more is a WeChat 4.x packed type: msg_type is its low 32 bits. A message
  from a group (from_username ends in @chatroom) with an empty chatroom_sender whose content
  starts with `wxid:\n` has that id as chatroom_sender.
- Messages (parquet/messages, hive year/month/day): msg_ids exactly the expected ones,
  each once (first copy wins, webhook retries are duplicates); year/month/day equal the
  local date of create_time; fields, guid and notify_type equal the first copy's.
- Contacts (parquet/contacts/*.parquet) and events (parquet/events/*.parquet): each
  record is stamped observed_at = the newest create_time of the messages before it in its
  raw file (duplicates count, rejected lines do not), else the file's day at 00:00 local;
  record_key = its guid, else "content:<fnv1a64 of its JSON text>@<observed_at>"; a
  repeated record_key is stored once (first wins). Checked: the record_keys, each once,
  and username, kind, action, observed_at, nickname, remark, mobile, custom_info, guid,
  notify_type, raw_file, line of contacts; notify_type, guid, observed_at, data, raw_file,
  line of events. With the lake's "mask" setting (metadata/lake.json), no stored mobile
  (or custom_info) may be a clear raw value.
- Files: names, hive directory layout, no partition columns inside the message files;
  side tables flat directories of *.parquet only.

A lake with no contacts/events directories passes those checks when the raw files hold no
such records. Exit 0 when all holds, 1 (listing discrepancies) otherwise. Uses only
pyarrow, duckdb and the standard library.
"""
import argparse
import datetime as dt
import json
import re
import sys
from collections import Counter, namedtuple
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MS_THRESHOLD = 10**11  # create_time values >= this are milliseconds
DIGITS = re.compile(r"[0-9]+")  # used with fullmatch: ASCII digits only
SURROGATES = re.compile("[\ud800-\udfff]")
ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.S)  # one JSON string escape
JSON_WS = re.compile(r"[ \t\n\r]*")
RAW_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})\.jsonl")
STRING_FIELDS = ("from_username", "to_username", "chatroom", "chatroom_sender", "content")
COMPARED = ("create_time", "msg_type") + STRING_FIELDS
COMPARED_V2 = ("guid", "notify_type")  # schema version 2 (webhook fields)
PARTS = ("year", "month", "day")
REQUIRED_COLUMNS = {"msg_id", "create_time", "msg_type", "source", "extra_fields"} | set(STRING_FIELDS)
FILE_PATH = re.compile(r"year=\d{4}/month=\d{2}/day=\d{2}/[^/]+\.parquet")
MAX_SHOWN = 20

NOTIFY_MESSAGE = 1010
CONTACT_ACTIONS = {1200: "update", 1201: "delete", 1202: "detail"}
NICKNAME_KEY = {"update": "nickName", "detail": "nickname"}
MASK_MARKER = "[masked]"
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3

CONTACT_COMPARED = ("username", "kind", "action", "observed_at", "nickname", "remark", "mobile",
                    "custom_info", "guid", "notify_type", "raw_file", "line")
EVENT_COMPARED = ("notify_type", "guid", "observed_at", "data", "raw_file", "line")
SIDE_TABLES = {"contacts": CONTACT_COMPARED, "events": EVENT_COMPARED}

sys.set_int_max_str_digits(0)  # msg_id integers of any size


class Reject(Exception):
    """A raw line that the contract keeps out of the lake."""


class NotAMessage(Reject):
    """A contact or event record: kept, but not in the messages table (for parse_line)."""


# A line's outcome. kind: "message" (key = msg_id), "contact" or "event" (key = None
# until stamped). row: the expected column values.
Parsed = namedtuple("Parsed", "kind key row text guid repaired")


def _no_constants(name):
    raise ValueError(f"non-standard JSON constant {name}")  # NaN/Infinity


class _Obj(dict):
    """A JSON object that remembers whether a key appeared twice."""

    has_duplicate_key = False


def _pairs(pairs):
    obj = _Obj(pairs)
    obj.has_duplicate_key = len(obj) != len(pairs)
    return obj


DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_pairs)
BAD = object()  # a value of an unusable type


def repair_surrogates(text):
    """`text` with every lone UTF-16 surrogate escape replaced by \\ufffd; None if it has none."""
    escapes = list(ESCAPE.finditer(text))
    out, last, i = [], 0, 0
    while i < len(escapes):
        m = escapes[i]
        unit = int(m.group(1), 16) if m.group(1) else None
        i += 1
        if unit is None or not 0xD800 <= unit < 0xE000:
            continue
        if unit < 0xDC00 and i < len(escapes):  # a high surrogate: paired when a low follows
            n = escapes[i]
            if n.start() == m.end() and n.group(1) and 0xDC00 <= int(n.group(1), 16) < 0xE000:
                i += 1
                continue
        out += [text[last:m.start()], "\\ufffd"]
        last = m.end()
    if not out:
        return None
    return "".join(out) + text[last:]


def _has_surrogate(value):
    if isinstance(value, str):
        return SURROGATES.search(value) is not None
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


def _int_or_digits(value):
    """A JSON integer (not bool) or an ASCII-digit string as int, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and DIGITS.fullmatch(value):
        return int(value)
    return None


def _within(value, lo, hi):
    return value if value is not None and lo <= value <= hi else None


def member_texts(text, start):
    """{key: (start, end)} of the values of the JSON object that begins at text[start]."""
    i = JSON_WS.match(text, start).end()
    assert text[i] == "{", "an object"
    i = JSON_WS.match(text, i + 1).end()
    spans = {}
    while text[i] != "}":
        key, i = json.decoder.scanstring(text, i + 1)
        i = JSON_WS.match(text, JSON_WS.match(text, i).end() + 1).end()  # past ':'
        _, end = DECODER.raw_decode(text, i)
        spans.setdefault(key, (i, end))
        i = JSON_WS.match(text, end).end()
        if text[i] == ",":
            i = JSON_WS.match(text, i + 1).end()
    return spans


def decode_line(raw: bytes):
    """(text, object, repaired) of a line that is one JSON object; raise Reject otherwise."""
    try:
        text = raw.decode("utf-8")  # strict
    except UnicodeDecodeError as e:
        raise Reject("invalid UTF-8") from e
    fixed = repair_surrogates(text)
    if fixed is not None:
        text = fixed
    try:
        obj = DECODER.decode(text)
    except (ValueError, RecursionError) as e:  # includes "Extra data" (two values)
        raise Reject("invalid JSON") from e
    if not isinstance(obj, dict):
        raise Reject("not an object")
    if obj.has_duplicate_key:
        raise Reject("duplicate key")
    if _has_surrogate(obj):  # the oracle's own repair missed one
        raise AssertionError(f"lone surrogate left after repair in {text[:80]!r}")
    return text, obj, fixed is not None


def classify_line(raw: bytes, tz) -> Parsed:
    """What one non-blank line becomes; raise Reject for a line the lake must not hold."""
    text, obj, repaired = decode_line(raw)
    data = obj.get("data")
    if isinstance(data, dict) and "msg_id" not in obj:  # an envelope
        if data.has_duplicate_key:
            raise Reject("duplicate key")
        record, envelope = data, obj
        start, end = member_texts(text, 0)["data"]
        record_text = text[start:end]
    else:
        record, envelope, start, record_text = obj, None, 0, text
    if "msg_id" in record:
        return message(record, envelope, tz, repaired)
    fields = envelope if envelope is not None else record
    notify_type = _within(_int_or_digits(fields.get("notify_type")), INT64_MIN, INT64_MAX)
    if notify_type is None or notify_type == NOTIFY_MESSAGE:
        return message(record, envelope, tz, repaired)
    guid = fields.get("guid") if isinstance(fields.get("guid"), str) else None
    if notify_type in CONTACT_ACTIONS:
        row = contact(CONTACT_ACTIONS[notify_type], record, text, start)
        kind = "contact"
    else:
        row, kind = {"data": record_text}, "event"
    row.update(guid=guid, notify_type=_within(notify_type, INT32_MIN, INT32_MAX))
    return Parsed(kind, None, row, record_text, guid, repaired)


PREFIX = re.compile(r"([A-Za-z0-9_\-@.]{1,64}):\n")


def msg_type(value):
    """The stored msg_type: an Int32, or the low half of a WeChat 4.x packed type
    (`subtype << 32 | type`, both halves Int32); else null (a type conflict)."""
    n = _int_or_digits(value)
    if n is not None and n >= 2**32:
        low, high = n & 0xFFFFFFFF, n >> 32
        return low if low <= INT32_MAX and high <= INT32_MAX else None
    return _within(n, INT32_MIN, INT32_MAX)


def message(record, envelope, tz, repaired) -> Parsed:
    """The row of a message record (a flat line, or an envelope's data)."""
    mid = record.get("msg_id")
    if isinstance(mid, bool) or not isinstance(mid, (int, str)) or mid == "":
        raise Reject("unusable msg_id")
    mid = str(mid)  # exact decimal text for integers of any size

    ct = _int_or_digits(record.get("create_time"))
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

    row = {
        "create_time": ct,
        "msg_type": msg_type(record.get("msg_type")),
        "date": (local.year, local.month, local.day),
    }
    for f in STRING_FIELDS:
        v = record.get(f)
        row[f] = v if isinstance(v, str) else None
    # Schema version 3: a message from a group without a sender names it only as a `wxid:\n`
    # prefix.
    from_group = (row["from_username"] or "").endswith("@chatroom")
    prefix = PREFIX.match(row["content"] or "")
    if from_group and not row["chatroom_sender"] and prefix:
        row["chatroom_sender"] = prefix.group(1)
    # An envelope's guid/notify_type, when it has the key, fill the columns; else the record's.
    source = lambda key: envelope if envelope is not None and key in envelope else record
    guid = source("guid").get("guid")
    row["guid"] = guid if isinstance(guid, str) else None
    notify = _int_or_digits(source("notify_type").get("notify_type"))
    row["notify_type"] = _within(notify, INT32_MIN, INT32_MAX)
    return Parsed("message", mid, row, None, row["guid"], repaired)


def wrapped_text(value):
    """A contact text field: "s", {"string": "s"}; None for null, {} or {"string": null}."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, _Obj) and not value.has_duplicate_key:
        if not value:
            return None
        if list(value) == ["string"] and (value["string"] is None or isinstance(value["string"], str)):
            return value["string"]
    return BAD


def contact(action, record, text, start):
    """The expected columns of a contact record (before masking, which main applies)."""
    name_key = "tpUsername" if action == "detail" else "userName"
    username = wrapped_text(record.get(name_key, BAD))
    if username is BAD or not username:
        raise Reject(f"unusable {name_key}")
    row = {
        "username": username,
        "kind": account_kind(username),
        "action": action,
        # A text field of an unusable type is kept aside (extra_fields): null here.
        "nickname": _usable(wrapped_text(record.get(NICKNAME_KEY.get(action)))),
        "remark": _usable(wrapped_text(record.get("remark"))) if action != "delete" else None,
        "mobile": None,  # clear value; masked later
        "custom_info": None,
    }
    if action == "update" and "mobile" in record:
        v = record["mobile"]
        if isinstance(v, (bool, int, float)):  # a number is kept as its text
            s, e = member_texts(text, start)["mobile"]
            row["mobile"] = text[s:e]
        else:
            row["mobile"] = wrapped_text(v)  # BAD: masked as the marker, else kept aside
    if action == "detail":
        info = record.get("customInfo")
        if isinstance(info, _Obj) and not info.has_duplicate_key and "detail" in info:
            row["custom_info"] = wrapped_text(info["detail"])
    return row


def account_kind(username):
    if username.endswith("@chatroom"):
        return "chatroom"
    return "official" if username.startswith("gh_") else "person"


def _usable(value):
    return None if value is BAD else value


def mask_mobile(number):
    if len(number) < 8:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def apply_mask(row, mask):
    """Replace the clear mobile/custom_info of a contact row by what the lake must store."""
    mobile, info = row["mobile"], row["custom_info"]
    if mask.get("mobile"):  # a value of an unusable type: the marker
        row["mobile"] = MASK_MARKER if mobile is BAD else None if mobile is None else mask_mobile(mobile)
    elif mobile is BAD:
        row["mobile"] = None
    if mask.get("custom_info"):
        row["custom_info"] = None if info is None else MASK_MARKER
    elif info is BAD:
        row["custom_info"] = None


def parse_line(raw: bytes, tz):
    """Return (msg_id, row dict) for an accepted message line; raise Reject otherwise
    (NotAMessage for a contact or event record)."""
    parsed = classify_line(raw, tz)
    if parsed.kind != "message":
        raise NotAMessage(parsed.kind)
    return parsed.key, parsed.row


def fnv1a64(data: bytes):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def record_key(guid, text, observed_at):
    if guid:
        return guid
    return "content:%016x@%d" % (fnv1a64(text.encode("utf-8")), observed_at)


def day_start(date, tz):
    """Unix seconds of the first existing hour from 00:00 of `date` in `tz` (the earlier
    instant when it is ambiguous)."""
    for h in range(4):
        local = dt.datetime(date.year, date.month, date.day, h, tzinfo=tz)  # fold=0: earlier
        back = local.astimezone(dt.timezone.utc).astimezone(tz)
        if back.replace(tzinfo=None) == local.replace(tzinfo=None):
            return int(local.timestamp())
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc).timestamp())


def raw_files(raw_dir: Path):
    """(path, date) of the files named YYYY-MM-DD.jsonl, oldest first; other names ignored."""
    out = []
    for path in raw_dir.glob("*.jsonl"):
        m = RAW_NAME.fullmatch(path.name)
        if m and path.is_file():
            try:
                out.append((path, dt.date(*map(int, m.groups()))))
            except ValueError:
                continue
    return sorted(out, key=lambda pd: pd[0].name)


def raw_lines(path: Path):
    """(line number, bytes without terminator) of every line of a raw file."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # BOM only at the very start of the file
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # trailing newline; an unterminated last line still counts
    for number, raw in enumerate(lines, 1):
        yield number, raw[:-1] if raw.endswith(b"\r") else raw


Expected = namedtuple("Expected", "messages contacts events clear stats")


def expected_rows(raw_dir: Path, tz, mask=None):
    """Apply the input contract to every raw file: the rows of each table, the clear
    personal values seen (for the masking check) and stats."""
    messages, side, stats = {}, {"contact": {}, "event": {}}, Counter()
    clear = {"mobile": set(), "custom_info": set()}
    files = raw_files(raw_dir)
    for path, date in files:
        clock = None  # newest create_time of the file's messages so far
        for number, raw in raw_lines(path):
            stats["lines"] += 1
            if not raw.strip(b" \t\r\n"):  # JSON whitespace only
                stats["blank"] += 1
                continue
            try:
                parsed = classify_line(raw, tz)
            except Reject as r:
                stats["rejected: " + str(r)] += 1
                continue
            stats["repaired"] += parsed.repaired
            row = parsed.row
            if parsed.kind == "message":
                clock = row["create_time"] if clock is None else max(clock, row["create_time"])
                if parsed.key in messages:
                    stats["duplicates dropped"] += 1
                else:
                    messages[parsed.key] = row
                continue
            observed_at = day_start(date, tz) if clock is None else clock
            key = record_key(parsed.guid, parsed.text, observed_at)
            if parsed.kind == "contact":
                for f in ("mobile", "custom_info"):
                    if isinstance(row[f], str) and row[f] and row[f] != MASK_MARKER:
                        if f == "custom_info" or len(row[f]) >= 8:
                            clear[f].add(row[f])
                apply_mask(row, mask or {})
            row.update(observed_at=observed_at, raw_file=path.name, line=number)
            table = side[parsed.kind]
            if key in table:
                stats[f"{parsed.kind} duplicates dropped"] += 1
            else:
                table[key] = row
    stats["files"] = len(files)
    return Expected(messages, side["contact"], side["event"], clear, stats)


# ---------------------------------------------------------------- messages


def _schema(files):
    """The union of the files' schemas (columns are only ever appended)."""
    return pa.unify_schemas([pq.read_schema(f) for f in files]) if files else None


def read_pyarrow(lake: Path):
    files = [str(p) for p in sorted(lake.rglob("*.parquet")) if p.is_file()]
    dataset = ds.dataset(str(lake), format="parquet", partitioning="hive")
    if files:  # a lake with files of both schema versions: conform by name
        unified = pa.unify_schemas([_schema(files), dataset.schema])
        dataset = ds.dataset(str(lake), format="parquet", partitioning="hive", schema=unified)
    names = set(dataset.schema.names)
    cols = ["msg_id", *COMPARED, *COMPARED_V2, *PARTS]
    table = dataset.to_table(columns=[c for c in cols if c in names])
    data = {c: table.column(c).to_pylist() for c in table.column_names}
    return names, data, table.num_rows


def read_duckdb(lake: Path):
    glob = str(lake / "**" / "*.parquet").replace("'", "''")
    src = f"read_parquet('{glob}', hive_partitioning=true, union_by_name=true)"
    con = duckdb.connect()
    try:
        names = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        cols = [c for c in ["msg_id", *COMPARED, *COMPARED_V2, *PARTS] if c in names]
        select = ", ".join(f'"{c}"' for c in cols)
        rows = con.execute(f"SELECT {select} FROM {src}").fetchall()
    finally:
        con.close()
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    return names, data, len(rows)


def check_reader(name, names, data, n, expected, problems, required=REQUIRED_COLUMNS):
    """Compare one reader's view of the lake with the expected rows."""
    p = lambda msg: problems.append(f"[{name}] {msg}")
    missing_cols = (required | set(PARTS)) - names
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
        for col in COMPARED + COMPARED_V2:
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


def check_messages(lake: Path, expected, required, problems):
    before = len(problems)
    if not lake.is_dir():
        problems.append(f"[files] lake directory {lake} does not exist")
        return
    files, partitions = check_files(lake, problems)
    print(f"lake: {len(files)} parquet file(s) in {len(partitions)} partition(s)")
    counts = {}
    for name, reader in (("pyarrow", read_pyarrow), ("duckdb", read_duckdb)):
        try:
            names, data, n = reader(lake)
        except Exception as e:  # noqa: BLE001 - a reader failing is a finding
            problems.append(f"[{name}] failed to read the lake: {type(e).__name__}: {e}")
            continue
        counts[name] = n
        check_reader(name, names, data, n, expected, problems, required)
    summary("messages", counts, len(problems) - before)


def summary(table, counts, found):
    rows = "/".join(str(n) for n in sorted(set(counts.values()))) or "?"
    readers = ", ".join(counts) or "no reader"
    state = "ok" if not found else f"{found} discrepancy(ies)"
    print(f"{table}: {rows} rows {state} ({readers})")


# ---------------------------------------------------------------- contacts and events


def side_files(table: str, directory: Path, problems):
    """The data files of an unpartitioned side table; anything else is reported."""
    files = []
    for path in sorted(directory.iterdir()):
        name = path.name
        if not path.is_file() or name.startswith((".", "_")) or not name.endswith(".parquet"):
            problems.append(f"[{table}] stray entry {path.relative_to(directory.parent).as_posix()}")
            continue
        files.append(path)
    return files


def read_side_pyarrow(files, cols):
    dataset = ds.dataset([str(f) for f in files], format="parquet", schema=_schema(files))
    names = set(dataset.schema.names)
    table = dataset.to_table(columns=[c for c in cols if c in names])
    return names, {c: table.column(c).to_pylist() for c in table.column_names}, table.num_rows


def read_side_duckdb(files, cols):
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    src = f"read_parquet([{listed}], union_by_name=true)"
    con = duckdb.connect()
    try:
        names = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        present = [c for c in cols if c in names]
        rows = con.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in present)} FROM {src}").fetchall()
    finally:
        con.close()
    return names, {c: [r[i] for r in rows] for i, c in enumerate(present)}, len(rows)


def check_side_reader(table, reader, names, data, n, expected, clear, mask, problems):
    """Compare one reader's view of a side table with the expected rows."""
    p = lambda msg: problems.append(f"[{table}/{reader}] {msg}")
    compared = SIDE_TABLES[table]
    missing_cols = ({"record_key", *compared}) - names
    if missing_cols:
        p(f"missing columns: {sorted(missing_cols)}")
    if "record_key" not in data:
        return
    keys = data["record_key"]
    counts = Counter(keys)
    for k in sorted(set(expected) - set(counts)):
        e = expected[k]
        p(f"missing record_key {k!r} ({e['raw_file']} line {e['line']})")
    for k in sorted(set(counts) - set(expected), key=str):
        p(f"unexpected record_key {k!r} ({counts[k]} row(s))")
    for k, c in sorted(counts.items(), key=lambda kv: str(kv[0])):
        if c > 1:
            p(f"record_key {k!r} appears {c} times")
    for i in range(n):
        exp = expected.get(keys[i])
        if exp is None:
            continue
        where = f"{exp['raw_file']} line {exp['line']} ({keys[i]})"
        for col in compared:
            if col in data and data[col][i] != exp[col]:
                p(f"{where}: {col} = {_short(data[col][i])}, expected {_short(exp[col])}")
        if table == "contacts":
            check_masked(p, where, data, i, clear, mask)


def check_masked(p, where, data, i, clear, mask):
    """With masking on, a stored value must never be a clear one seen in the raw files."""
    cell = lambda col: data[col][i] if col in data else None
    extra = cell("extra_fields") or ""
    for field, on in sorted(mask.items()):
        if not on or field not in clear:
            continue
        if cell(field) in clear[field]:
            p(f"{where}: {field} {_short(cell(field))} is an unmasked raw value")
        for value in clear[field]:
            if value in extra or json.dumps(value, ensure_ascii=False)[1:-1] in extra:
                p(f"{where}: extra_fields holds the unmasked raw {field} {_short(value)}")


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def check_side_table(table, directory: Path, expected, clear, mask, problems):
    before = len(problems)
    if not directory.is_dir():
        if expected:
            problems.append(f"[{table}] directory {directory} does not exist, "
                            f"but the raw files hold {len(expected)} such record(s)")
        print(f"{table}: no table, {len(expected)} expected row(s)"
              + (" ok" if not expected else " FAIL"))
        return
    files = side_files(table, directory, problems)
    cols = ["record_key", *SIDE_TABLES[table]] + (["extra_fields"] if table == "contacts" else [])
    counts = {}
    for reader, read in (("pyarrow", read_side_pyarrow), ("duckdb", read_side_duckdb)):
        try:
            names, data, n = read(files, cols) if files else (set(cols), {c: [] for c in cols}, 0)
        except Exception as e:  # noqa: BLE001 - a reader failing is a finding
            problems.append(f"[{table}/{reader}] failed to read: {type(e).__name__}: {e}")
            continue
        counts[reader] = n
        check_side_reader(table, reader, names, data, n, expected, clear, mask, problems)
    summary(f"{table} ({len(files)} file(s))", counts, len(problems) - before)


# ---------------------------------------------------------------- main


def lake_meta(data_dir: Path, problems):
    path = data_dir / "metadata" / "lake.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        problems.append(f"[metadata] unreadable {path}: {e}")
        return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--timezone", help="default: the lake's (metadata/lake.json), else Asia/Shanghai")
    ap.add_argument("--expect-count", type=int)
    args = ap.parse_args()
    problems = []
    meta = lake_meta(args.data_dir, problems)
    zone = args.timezone or meta.get("timezone") or "Asia/Shanghai"
    if meta.get("timezone") and meta["timezone"] != zone:
        problems.append(f"[metadata] lake time zone {meta['timezone']!r}, --timezone says {zone!r}")
    tz = ZoneInfo(zone)
    mask = meta.get("mask") or {}
    raw_dir = args.data_dir / "messages" / "raw"
    parquet = args.data_dir / "parquet"

    exp = expected_rows(raw_dir, tz, mask)
    stats = exp.stats
    print(f"input: {stats['files']} file(s), {stats['lines']} line(s), {len(exp.messages)} expected "
          f"message(s), {len(exp.contacts)} contact record(s), {len(exp.events)} event(s)"
          f" [zone {zone}, mask {','.join(k for k, v in sorted(mask.items()) if v) or 'none'}]")
    for k in sorted(k for k in stats if k not in ("files", "lines") and stats[k]):
        print(f"  {k}: {stats[k]}")
    if args.expect_count is not None and len(exp.messages) != args.expect_count:
        problems.append(f"[input] oracle expects {len(exp.messages)} rows, --expect-count says {args.expect_count}")

    required = set(REQUIRED_COLUMNS)
    if meta.get("schema_version", 1) >= 2:
        required |= set(COMPARED_V2)
    check_messages(parquet / "messages", exp.messages, required, problems)
    check_side_table("contacts", parquet / "contacts", exp.contacts, exp.clear, mask, problems)
    check_side_table("events", parquet / "events", exp.events, exp.clear, mask, problems)

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
