#!/usr/bin/env python3
"""Independent correctness check of `wxlake query` against DuckDB.

Usage: check_query.py WXLAKE_BIN DATA_DIR

Picks query parameters from the lake itself (deterministically: the most
frequent chatroom, a frequent sender, message types, a few msg_ids, a common
ASCII, CJK and emoji substring of content, the first, middle and last partition
days, date-time bounds at partition edges and inside a day), runs every query
through `WXLAKE_BIN --data-dir DATA_DIR query ...` and through DuckDB
(read_parquet over DATA_DIR/parquet/messages with hive_partitioning), and
compares the msg_id sequences exactly, order included (or the numbers, for
--count). The time zone of the date bounds is the lake's, read from
DATA_DIR/metadata/lake.json. Prints one line per query; exit 0 when all match,
1 otherwise. Uses only duckdb and the standard library.

The query contract checked here:
  query --start S [--end E] [filters] [--order asc|desc] [--limit N]
        (--format csv --columns msg_id | --count)
  S, E: YYYY-MM-DD, YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS, local time of the
  lake. Rows with create_time >= S; E is inclusive to its precision (a date:
  the whole day, THH:MM: the whole minute, THH:MM:SS: that second). Without
  --end, the end of S's day. Filters AND together, a repeated flag ORs within
  itself: --chatroom (chatroom =), --from (from_username = OR chatroom_sender =),
  --type (msg_type =), --msg-id (msg_id =), --contains (substring of content;
  --ignore-case compares lower(content) with lower(TEXT)). Order: create_time,
  then msg_id as a byte string; desc reverses both.
"""
import argparse
import csv
import datetime as dt
import io
import json
import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

PARTITION_DIR = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})")
BOUND = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?")
UNKNOWN_CHATROOM = "wxlake-check-no-such-room@chatroom"
UNKNOWN_MSG_ID = "wxlake-check-no-such-msg-id"
CONTENT_SAMPLE = 20000  # rows of content scanned to pick substrings
TIMEOUT = 300  # seconds per wxlake run
MAX_STDERR = 2000


class Lake:
    """The lake under test: partition days, time zone and a DuckDB connection."""

    def __init__(self, data_dir: Path):
        meta = json.loads((data_dir / "metadata" / "lake.json").read_text(encoding="utf-8"))
        zone = meta.get("timezone")
        if not isinstance(zone, str) or not zone:
            raise SystemExit(f"check_query: no time zone in {data_dir}/metadata/lake.json")
        self.zone = zone
        self.tz = ZoneInfo(zone)
        lake = data_dir / "parquet" / "messages"
        days = set()
        for path in lake.rglob("*.parquet"):
            m = PARTITION_DIR.search(path.relative_to(lake).as_posix())
            if m:
                days.add(dt.date(*map(int, m.groups())))
        if not days:
            raise SystemExit(f"check_query: no partitions under {lake}")
        self.days = sorted(days)
        self.con = duckdb.connect()
        # The path is a SQL literal (as in check_lake.py: a table function takes no
        # subquery); every filter value is a query parameter.
        glob = str(lake / "**" / "*.parquet").replace("'", "''")
        self.src = f"read_parquet('{glob}', hive_partitioning=true)"

    def rows(self, sql, params=()):
        return self.con.execute(sql.replace("{src}", self.src), list(params)).fetchall()

    def instant(self, text):
        """Unix seconds of a local YYYY-MM-DD[THH:MM[:SS]] and its precision in seconds.

        The precision of a bare date is None: its end is the next local midnight."""
        m = BOUND.fullmatch(text)
        if not m:
            raise ValueError(f"bad bound {text!r}")
        y, mo, d, h, mi, s = m.groups()
        local = dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                            tzinfo=self.tz)
        step = None if h is None else (60 if s is None else 1)
        return int(local.timestamp()), step

    def midnight(self, day: dt.date):
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp())

    def bounds(self, start, end):
        """[lo, hi) in unix seconds for --start START [--end END]."""
        lo, _ = self.instant(start)
        if end is None:
            day = dt.date.fromisoformat(start[:10])
            return lo, self.midnight(day + dt.timedelta(days=1))
        e, step = self.instant(end)
        if step is None:
            day = dt.date.fromisoformat(end[:10])
            return lo, self.midnight(day + dt.timedelta(days=1))
        return lo, e + step


class Query:
    def __init__(self, name, start, end=None, chatroom=(), sender=(), msg_type=(), msg_id=(),
                 contains=(), ignore_case=False, order="asc", limit=None, count=False,
                 expect_empty=False):
        """expect_empty: True when 0 rows are intended, False when some are, None: either."""
        self.name = name
        self.start, self.end = start, end
        self.chatroom, self.sender, self.msg_type = list(chatroom), list(sender), list(msg_type)
        self.msg_id, self.contains = list(msg_id), list(contains)
        self.ignore_case, self.order, self.limit = ignore_case, order, limit
        self.count, self.expect_empty = count, expect_empty

    def cli_args(self):
        args = ["query", "--start", self.start]
        if self.end is not None:
            args += ["--end", self.end]
        for flag, values in (("--chatroom", self.chatroom), ("--from", self.sender),
                             ("--type", self.msg_type), ("--msg-id", self.msg_id),
                             ("--contains", self.contains)):
            for v in values:
                args += [flag, str(v)]
        if self.ignore_case:
            args.append("--ignore-case")
        if self.order != "asc":
            args += ["--order", self.order]
        if self.limit is not None:
            args += ["--limit", str(self.limit)]
        if self.count:
            args.append("--count")
        else:
            args += ["--format", "csv", "--columns", "msg_id"]
        return args

    def sql(self, lake: Lake):
        lo, hi = lake.bounds(self.start, self.end)
        where, params = ["create_time >= ?", "create_time < ?"], [lo, hi]

        def any_of(template, values, per_value):
            if values:
                where.append("(" + " OR ".join([template] * len(values)) + ")")
                for v in values:
                    params.extend([v] * per_value)

        any_of("chatroom = ?", self.chatroom, 1)
        any_of("(from_username = ? OR chatroom_sender = ?)", self.sender, 2)
        any_of("msg_type = ?", [int(t) for t in self.msg_type], 1)
        any_of("msg_id = ?", self.msg_id, 1)
        if self.ignore_case:
            any_of("contains(lower(content), lower(?))", self.contains, 1)
        else:
            any_of("contains(content, ?)", self.contains, 1)
        cond = " AND ".join(where)
        if self.count:
            return f"SELECT count(*) FROM {{src}} WHERE {cond}", params
        d = " DESC" if self.order == "desc" else ""
        sql = f"SELECT msg_id FROM {{src}} WHERE {cond} ORDER BY create_time{d}, msg_id{d}"
        if self.limit is not None:
            sql += " LIMIT ?"
            params.append(int(self.limit))
        return sql, params


def run_duckdb(lake: Lake, q: Query):
    sql, params = q.sql(lake)
    rows = lake.rows(sql, params)
    if q.count:
        return int(rows[0][0])
    return [r[0] for r in rows]


def run_wxlake(binary, data_dir, q: Query):
    """(result, error): the msg_id list or count printed by wxlake, or an error text."""
    cmd = [binary, "--data-dir", str(data_dir), *q.cli_args()]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"cannot run: {type(e).__name__}: {e}"
    stderr = p.stderr.decode("utf-8", "replace")[-MAX_STDERR:]
    if p.returncode != 0:
        return None, f"exit status {p.returncode}; stderr:\n{stderr}"
    try:
        out = p.stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"stdout is not UTF-8: {e}"
    if q.count:
        if not re.fullmatch(r"[0-9]+\n", out):
            return None, f"--count output is not one number and a newline: {out[:200]!r}"
        return int(out), None
    records = list(csv.reader(io.StringIO(out, newline="")))
    if not records or records[0] != ["msg_id"]:
        return None, f"CSV header is not 'msg_id': {out[:200]!r}"
    bad = [(i, r) for i, r in enumerate(records[1:]) if len(r) != 1]
    if bad:
        i, r = bad[0]
        return None, f"CSV record {i} has {len(r)} fields, expected 1: {r!r}"
    return [r[0] for r in records[1:]], None


def describe_difference(got, want):
    if isinstance(want, int):
        return f"wxlake counted {got}, DuckDB {want}"
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"first difference at position {i}: wxlake {g!r}, DuckDB {w!r} " \
                   f"(wxlake {len(got)} rows, DuckDB {len(want)})"
    i = min(len(got), len(want))
    extra = f"wxlake {got[i]!r}, DuckDB <end>" if len(got) > i else f"wxlake <end>, DuckDB {want[i]!r}"
    return f"first difference at position {i}: {extra} (wxlake {len(got)} rows, DuckDB {len(want)})"


# ---------------------------------------------------------------- parameters

def top(lake: Lake, column, n=1, where="TRUE", params=()):
    """The n most frequent non-null, non-empty values of column (ties: smallest value)."""
    sql = (f'SELECT "{column}", count(*) AS c FROM {{src}} '
           f'WHERE "{column}" IS NOT NULL AND CAST("{column}" AS VARCHAR) <> \'\' AND ({where}) '
           f'GROUP BY 1 ORDER BY c DESC, 1 LIMIT {int(n)}')
    return [r[0] for r in lake.rows(sql, params)]


def pick_senders(lake: Lake, n=2):
    """Users matched by --from: most rows over from_username OR chatroom_sender,
    preferring users that appear in both columns (both branches of the OR matter)."""
    sql = """
        WITH u AS (
            SELECT from_username AS who, 1 AS f, 0 AS s FROM {src} WHERE from_username IS NOT NULL
            UNION ALL
            SELECT chatroom_sender, 0, 1 FROM {src}
            WHERE chatroom_sender IS NOT NULL
              AND chatroom_sender IS DISTINCT FROM from_username)
        SELECT who FROM u WHERE who <> ''
        GROUP BY who ORDER BY (sum(f) > 0 AND sum(s) > 0) DESC, count(*) DESC, who LIMIT ?"""
    return [r[0] for r in lake.rows(sql, [n])]


def pick_substrings(lake: Lake):
    """(ascii word, mixed-case form for --ignore-case, CJK bigram, emoji, word with '_')."""
    contents = [r[0] for r in lake.rows(
        "SELECT content FROM {src} WHERE content IS NOT NULL "
        "ORDER BY create_time, msg_id LIMIT ?", [CONTENT_SAMPLE])]
    exact, folded, cjk, emoji, under = Counter(), Counter(), Counter(), Counter(), Counter()
    for c in contents:
        words = set(re.findall(r"[A-Za-z]{4,}", c))
        exact.update(words)
        folded.update({w.lower() for w in words})
        cjk.update(set(re.findall(r"(?=([\u4e00-\u9fff]{2}))", c)))
        emoji.update({ch for ch in c if ord(ch) >= 0x1F000})
        under.update(set(re.findall(r"[A-Za-z]{2,}_", c)))

    def best(counter, keep=lambda k: True):
        ranked = sorted((k for k in counter if keep(k)), key=lambda k: (-counter[k], k))
        return ranked[0] if ranked else None

    # A lowercase word that also occurs in another case, so --ignore-case finds more.
    word = best(folded, lambda w: 0 < exact[w] < folded[w]) or best(exact)
    ci_form = None
    if word is not None:
        ci_form = word.upper() if word.upper() != word else word.lower()
    return word, ci_form, best(cjk), best(emoji), best(under)


def build_queries(lake: Lake):
    days = lake.days
    first, mid, last = days[0], days[len(days) // 2], days[-1]
    prev = mid - dt.timedelta(days=1)
    nxt = mid + dt.timedelta(days=1)
    iso = dt.date.isoformat
    all_days = dict(start=iso(first), end=iso(last))

    rooms = top(lake, "chatroom", 2)
    room = rooms[0] if rooms else UNKNOWN_CHATROOM
    room_sender = (top(lake, "chatroom_sender", 1, "chatroom = ?", [room]) or [None])[0]
    senders = pick_senders(lake, 2)
    types = top(lake, "msg_type", 2)
    word, ci_form, cjk, emoji, under = pick_substrings(lake)

    # A row in the middle of the middle day: its exact second and minute.
    lo, hi = lake.midnight(mid), lake.midnight(nxt)
    row = lake.rows("SELECT msg_id, create_time FROM {src} WHERE create_time >= ? AND create_time < ? "
                    "ORDER BY create_time, msg_id", [lo, hi])
    mid_row = row[len(row) // 2] if row else None
    # msg_ids from the first, middle and last days (by time order inside each day).
    def ids_of(day, k=1):
        r = lake.rows("SELECT msg_id FROM {src} WHERE create_time >= ? AND create_time < ? "
                      "ORDER BY create_time, msg_id",
                      [lake.midnight(day), lake.midnight(day + dt.timedelta(days=1))])
        return [r[i * len(r) // (k + 1)][0] for i in range(1, k + 1)] if r else []
    some_ids = ids_of(first) + ids_of(mid, 2) + ids_of(last)
    # The longest and the shortest msg_id (different digit counts sort differently as text).
    extremes = [r[0] for r in lake.rows(
        "(SELECT msg_id FROM {src} ORDER BY length(msg_id) DESC, msg_id LIMIT 1) UNION ALL "
        "(SELECT msg_id FROM {src} ORDER BY length(msg_id), msg_id LIMIT 1)")]
    # Seconds holding more than one row: the msg_id tie-break decides their order.
    ties = lake.rows("SELECT create_time FROM {src} GROUP BY 1 HAVING count(*) > 1 "
                     "ORDER BY count(*) DESC, 1 LIMIT 1")

    def local(ts, fmt="%Y-%m-%dT%H:%M:%S"):
        return dt.datetime.fromtimestamp(ts, lake.tz).strftime(fmt)

    params = {
        "time zone": lake.zone, "days": f"{iso(first)} .. {iso(last)} ({len(days)} partitions)",
        "middle day": iso(mid), "chatrooms": rooms, "sender in top chatroom": room_sender,
        "senders": senders, "msg_types": types, "msg_ids": some_ids + extremes,
        "ascii word": word, "ignore-case form": ci_form, "cjk": cjk, "emoji": emoji,
        "underscore": under, "tie second": local(ties[0][0]) if ties else None,
    }

    Q = Query
    qs = [
        # time ranges
        Q("day_first_no_end", iso(first)),
        Q("day_middle", iso(mid), iso(mid)),
        Q("all_days", **all_days),
        Q("all_days_count", **all_days, count=True),
        Q("three_days", iso(prev), iso(nxt)),
        Q("edge_2s_235959_000000", f"{iso(prev)}T23:59:59", f"{iso(mid)}T00:00:00"),
        Q("edge_minutes_2359_0000", f"{iso(prev)}T23:59", f"{iso(mid)}T00:00"),
        Q("day_by_seconds", f"{iso(mid)}T00:00:00", f"{iso(mid)}T23:59:59"),
        Q("prev_day_to_235959", iso(prev), f"{iso(prev)}T23:59:59"),
        Q("midnight_to_next_day", f"{iso(mid)}T00:00:00", iso(nxt)),
        Q("inside_day", f"{iso(mid)}T09:30", f"{iso(mid)}T14:15:30"),
        Q("from_noon_no_end", f"{iso(mid)}T12:00"),
        Q("no_data_before", iso(first - dt.timedelta(days=30)), iso(first - dt.timedelta(days=20)),
          expect_empty=True),
        Q("no_data_after_count", iso(last + dt.timedelta(days=1)), iso(last + dt.timedelta(days=3)),
          count=True, expect_empty=True),
    ]
    if mid_row:
        sec = local(mid_row[1])
        qs += [Q("one_second", sec, sec), Q("one_minute", sec[:16], sec[:16])]
    if ties:
        sec = local(ties[0][0])
        qs += [Q("tie_second_asc", sec, sec), Q("tie_second_desc", sec, sec, order="desc")]
    # each filter alone, OR within a flag
    qs += [
        Q("chatroom", **all_days, chatroom=[room]),
        Q("chatroom_day", iso(mid), chatroom=[room]),
        Q("chatroom_or", **all_days, chatroom=rooms),
        Q("chatroom_unknown", **all_days, chatroom=[UNKNOWN_CHATROOM], expect_empty=True),
        Q("from", **all_days, sender=senders[:1]),
        Q("from_or", **all_days, sender=senders),
        Q("type", iso(mid), msg_type=types[:1]),
        Q("type_or", **all_days, msg_type=types),
        Q("msg_id_or", **all_days, msg_id=some_ids + extremes),
        Q("msg_id_other_day", iso(last), msg_id=ids_of(first)[:1],
          expect_empty=first != last),
        Q("msg_id_unknown", **all_days, msg_id=[UNKNOWN_MSG_ID], expect_empty=True),
    ]
    if word:
        qs += [
            Q("contains_ascii", **all_days, contains=[word]),
            Q("contains_ascii_ignore_case", **all_days, contains=[ci_form], ignore_case=True),
            # LIKE wildcards must be literal characters.
            Q("contains_percent_literal", **all_days, contains=[word + "%"], expect_empty=None),
            Q("contains_percent_ignore_case", **all_days, contains=["%" + ci_form],
              ignore_case=True, expect_empty=None),
        ]
    if under:
        qs.append(Q("contains_underscore", iso(mid), contains=[under]))
    if cjk:
        qs.append(Q("contains_cjk", iso(mid), iso(nxt), contains=[cjk]))
    if emoji:
        qs.append(Q("contains_emoji", **all_days, contains=[emoji]))
    if word and cjk:
        qs.append(Q("contains_or_cjk_ascii", iso(mid), contains=[cjk, word]))
    # combinations, order, limit, count
    qs += [
        Q("chatroom_and_from", **all_days, chatroom=[room], sender=[room_sender or senders[0]]),
        Q("chatroom_type_cjk", **all_days, chatroom=[room], msg_type=types[:1],
          contains=[cjk or word] if cjk or word else []),
        Q("from_type_or", **all_days, sender=senders[:1], msg_type=types),
        Q("all_days_desc", **all_days, order="desc"),
        Q("chatroom_desc_limit", **all_days, chatroom=[room], order="desc", limit=10),
        Q("all_days_limit", **all_days, limit=7),
        Q("chatroom_day_limit_over", iso(mid), chatroom=[room], limit=100000),
        Q("count_chatroom_cjk", **all_days, chatroom=[room],
          contains=[cjk or word] if cjk or word else [], count=True),
        Q("count_unknown_chatroom", **all_days, chatroom=[UNKNOWN_CHATROOM], count=True,
          expect_empty=True),
    ]
    if word:
        qs.append(Q("inside_day_desc_ignore_case", f"{iso(mid)}T09:30", f"{iso(mid)}T23:59:59",
                    contains=[ci_form], ignore_case=True, order="desc"))
    return params, qs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wxlake_bin")
    ap.add_argument("data_dir", type=Path)
    args = ap.parse_args()

    lake = Lake(args.data_dir)
    params, queries = build_queries(lake)
    for k, v in params.items():
        print(f"  {k}: {v}")

    failures, width = [], max(len(q.name) for q in queries)
    for q in queries:
        want = run_duckdb(lake, q)
        n = want if q.count else len(want)
        got, error = run_wxlake(args.wxlake_bin, args.data_dir, q)
        note = ""  # the picked parameters did not give the intended kind of result
        if q.expect_empty is not None and (n == 0) != q.expect_empty:
            note = "  (note: 0 rows not intended)" if n == 0 else "  (note: expected no rows)"
        if error is not None:
            status, detail = "ERROR", error
        elif got != want:
            status, detail = "MISMATCH", describe_difference(got, want)
        else:
            status, detail = "OK", None
        print(f"{q.name:<{width}} {n:>6} {'count' if q.count else 'rows '} {status}{note}")
        if detail is not None:
            failures.append(q.name)
            print("    " + shlex.join([args.wxlake_bin, "--data-dir", str(args.data_dir),
                                       *q.cli_args()]))
            for line in detail.splitlines():
                print("    " + line)

    if failures:
        print(f"FAIL: {len(failures)} of {len(queries)} queries differ: {', '.join(failures)}")
        return 1
    print(f"OK: {len(queries)} queries, wxlake query matches DuckDB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
