#!/usr/bin/env python3
"""pyarrow peer of `wxlake query` for benches/query_compare.sh.

Usage: pyarrow_query.py LAKE_DIR QUERY_JSON OUT_CSV

LAKE_DIR is the lake's messages directory (DATA_DIR/parquet/messages), QUERY_JSON
a query file (see query_spec.py), OUT_CSV the CSV to write or - for stdout.

pyarrow.dataset over LAKE_DIR with partitioning='hive' (year/month/day inferred
as int32), to_table(columns=..., filter=...) with the partition filter (which
prunes the directories) and the chatroom / sender predicate (pushed into the
scan), sort_by create_time then msg_id, pyarrow.csv.write_csv (header, nulls
as empty fields).
"""
import sys

import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.dataset as ds

import query_spec


def partition_filter(q):
    f = None
    for y, m, d0, d1, whole in query_spec.segments(q):
        p = (ds.field("year") == y) & (ds.field("month") == m)
        if not whole:
            p = p & (ds.field("day") == d0) if d0 == d1 else p & (ds.field("day") >= d0) & (ds.field("day") <= d1)
        f = p if f is None else f | p
    return f


def main(argv):
    lake, q, out = query_spec.parse(argv, __doc__)
    dataset = ds.dataset(lake, format="parquet", partitioning="hive")
    flt = partition_filter(q)
    if q["chatroom"] is not None:
        flt = flt & (ds.field("chatroom") == q["chatroom"])
    if q["sender"] is not None:
        flt = flt & ((ds.field("from_username") == q["sender"]) | (ds.field("chatroom_sender") == q["sender"]))
    table = dataset.to_table(columns=list(query_spec.COLUMNS), filter=flt)
    table = table.take(pc.sort_indices(table, sort_keys=[(c, "ascending") for c in query_spec.ORDER]))
    pcsv.write_csv(table, out if out is not None else sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
