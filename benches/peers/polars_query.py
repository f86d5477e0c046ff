#!/usr/bin/env python3
"""Polars peer of `wxlake query` for benches/query_compare.sh.

Usage: polars_query.py LAKE_DIR QUERY_JSON OUT_CSV

LAKE_DIR is the lake's messages directory (DATA_DIR/parquet/messages), QUERY_JSON
a query file (see query_spec.py), OUT_CSV the CSV to write or - for stdout.

pl.scan_parquet('LAKE_DIR/**/*.parquet', hive_partitioning=True) (year/month/day
inferred as Int64), filter on the partition columns (pruned from the paths) and
the chatroom / sender predicate, select the lake's columns, sort by create_time
then msg_id, collect, write_csv (header, nulls as empty fields).
"""
import sys

import polars as pl

import query_spec


def partition_filter(q):
    f = None
    for y, m, d0, d1, whole in query_spec.segments(q):
        p = (pl.col("year") == y) & (pl.col("month") == m)
        if not whole:
            p = p & (pl.col("day") == d0) if d0 == d1 else p & pl.col("day").is_between(d0, d1)
        f = p if f is None else f | p
    return f


def main(argv):
    lake, q, out = query_spec.parse(argv, __doc__)
    lf = pl.scan_parquet(str(lake / "**" / "*.parquet"), hive_partitioning=True)
    flt = partition_filter(q)
    if q["chatroom"] is not None:
        flt = flt & (pl.col("chatroom") == q["chatroom"])
    if q["sender"] is not None:
        flt = flt & ((pl.col("from_username") == q["sender"]) | (pl.col("chatroom_sender") == q["sender"]))
    df = lf.filter(flt).select(query_spec.COLUMNS).sort(list(query_spec.ORDER)).collect()
    df.write_csv(out if out is not None else sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
