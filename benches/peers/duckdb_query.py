#!/usr/bin/env python3
"""DuckDB (Python) peer of `wxlake query` for benches/query_compare.sh.

Usage: duckdb_query.py LAKE_DIR QUERY_JSON OUT_CSV

LAKE_DIR is the lake's messages directory (DATA_DIR/parquet/messages), QUERY_JSON
a query file (see query_spec.py), OUT_CSV the CSV to write or - for stdout.

One statement, the same SQL as the DuckDB CLI peer (query_spec.duckdb_sql):
COPY (SELECT the lake's columns FROM read_parquet('LAKE_DIR/**/*.parquet',
hive_partitioning = true) WHERE <hive year/month/day> AND <chatroom | sender>
ORDER BY create_time, msg_id) TO OUT_CSV (FORMAT csv, HEADER); stdout is
written as /dev/stdout. DuckDB prunes the partitions from the WHERE clause.
"""
import sys

import duckdb

import query_spec


def main(argv):
    lake, q, out = query_spec.parse(argv, __doc__)
    con = duckdb.connect()
    con.execute(query_spec.duckdb_copy(lake, q, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
