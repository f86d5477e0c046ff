"""The query every peer of benches/query_compare.sh runs, and its command line.

A query file is one JSON object:

    {"name": "a", "start": "2025-06-15", "end": "2025-06-15",
     "chatroom": "57960696151@chatroom", "sender": null}

`start`/`end`: local dates (inclusive) of the lake's day partitions; `chatroom`:
rows whose chatroom equals it; `sender`: rows whose from_username or
chatroom_sender equals it (null: no such filter). Results hold the lake's
columns (COLUMNS, no partition columns), ordered by create_time, then msg_id.

Only the standard library is imported here: the peers' start-up is timed.
"""
import datetime as dt
import json
import sys
from pathlib import Path

COLUMNS = ("msg_id", "create_time", "msg_type", "from_username", "to_username", "chatroom",
           "chatroom_sender", "content", "source", "extra_fields", "guid", "notify_type")
ORDER = ("create_time", "msg_id")


def parse(argv, doc):
    """LAKE_DIR QUERY_JSON OUT_CSV -> (lake, query, out); OUT_CSV '-' is stdout (out = None).

    LAKE_DIR is the directory holding year=YYYY/... (DATA_DIR/parquet/messages).
    Exits 64 with the usage on bad input."""
    if len(argv) != 3 or any(a.startswith("--") for a in argv):
        print(doc.split("\n\n")[1], file=sys.stderr)
        sys.exit(64)
    lake, qfile, out = Path(argv[0]), Path(argv[1]), argv[2]
    if not lake.is_dir():
        print(f"not a directory: {lake}", file=sys.stderr)
        sys.exit(64)
    return lake, load(qfile), None if out == "-" else Path(out)


def load(path):
    return load_obj(json.loads(Path(path).read_text()))


def load_obj(q):
    q["start_date"] = dt.date.fromisoformat(q["start"])
    q["end_date"] = dt.date.fromisoformat(q.get("end") or q["start"])
    if q["end_date"] < q["start_date"]:
        raise SystemExit(f"query: end {q['end']} is before start {q['start']}")
    q.setdefault("chatroom", None)
    q.setdefault("sender", None)
    return q


def segments(q):
    """The date range as [(year, month, first_day, last_day, whole_month)], one per month."""
    out = []
    d = q["start_date"]
    while d <= q["end_date"]:
        nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last = min(q["end_date"], nxt - dt.timedelta(days=1))
        out.append((d.year, d.month, d.day, last.day, d.day == 1 and last == nxt - dt.timedelta(days=1)))
        d = nxt
    return out


def _lit(s):
    return "'" + s.replace("'", "''") + "'"


def duckdb_where(q):
    """The WHERE condition of the DuckDB query: the hive columns, then chatroom / sender.

    The hive values are compared as the zero-padded text of the directory names:
    DuckDB infers month/day as VARCHAR ('06' is not turned into 6) and year as
    BIGINT; a text literal works against both."""
    parts = []
    for y, m, d0, d1, whole in segments(q):
        p = f"year = '{y:04d}' AND month = '{m:02d}'"
        if not whole:
            p += f" AND day = '{d0:02d}'" if d0 == d1 else f" AND day BETWEEN '{d0:02d}' AND '{d1:02d}'"
        parts.append(f"({p})")
    where = [parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"]
    if q["chatroom"] is not None:
        where.append(f"chatroom = {_lit(q['chatroom'])}")
    if q["sender"] is not None:
        s = _lit(q["sender"])
        where.append(f"(from_username = {s} OR chatroom_sender = {s})")
    return " AND ".join(where)


def duckdb_source(lake):
    return f"read_parquet({_lit(str(Path(lake) / '**' / '*.parquet'))}, hive_partitioning = true)"


def duckdb_sql(lake, q):
    """The DuckDB query (the issue's reference): read_parquet over the lake's glob with
    hive_partitioning, WHERE on the hive columns year/month/day plus the chatroom /
    sender predicate, ORDER BY create_time, msg_id."""
    return (f"SELECT {', '.join(COLUMNS)} FROM {duckdb_source(lake)} "
            f"WHERE {duckdb_where(q)} ORDER BY {', '.join(ORDER)}")


def duckdb_copy(lake, q, out):
    """COPY (query) TO out as CSV with a header; out None is /dev/stdout."""
    target = _lit(str(out) if out is not None else "/dev/stdout")
    return f"COPY ({duckdb_sql(lake, q)}) TO {target} (FORMAT csv, HEADER)"


if __name__ == "__main__":
    # query_spec.py sql LAKE_DIR QUERY_JSON [OUT_CSV]: print the DuckDB SQL
    # (with OUT_CSV: the COPY statement writing it), for the DuckDB CLI peer.
    if len(sys.argv) in (4, 5) and sys.argv[1] == "sql":
        q = load(sys.argv[3])
        print(duckdb_sql(sys.argv[2], q) if len(sys.argv) == 4 else duckdb_copy(sys.argv[2], q, sys.argv[4]))
    else:
        print("usage: query_spec.py sql LAKE_DIR QUERY_JSON [OUT_CSV]", file=sys.stderr)
        sys.exit(64)
