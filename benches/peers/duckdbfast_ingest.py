#!/usr/bin/env python3
"""DuckDB at its best: one read_json, one COPY (issue 14's fast formulation).

Usage: duckdbfast_ingest.py RAW_DIR OUT_DIR [--incremental]

The fastest honest DuckDB route we know for this job: read_json over every file at once with a
fixed column list, ignore_errors and filename=true; the local day by integer arithmetic on
create_time + 28800 (Asia/Shanghai has had no DST since 1991): a DATE, no ICU time zone conversion,
no strftime, no temp table; the first copy of a msg_id in file-name order, `QUALIFY row_number()
OVER (PARTITION BY msg_id ORDER BY filename) = 1`, the ORDER BY left out when there is one file
(it doubles the time of a 1,000,000-line day, and DuckDB promises no line order within a file
anyway: a duplicate inside one file keeps either copy, same rows, maybe another copy's fields);
one COPY ... PARTITION_BY (year, month, day) to Snappy Parquet. Millisecond create_times are divided by 1000,
as the contract says. Not replicated (as in duckdbjson_ingest.py): unknown fields (extra_fields is
NULL), type conflicts, surrogate repair, the quarantine; a malformed line becomes an all-NULL row
that is filtered out. With --incremental, ids already stored in the days touched are skipped.
"""
import shutil
import sys
import tempfile
import time
import uuid

import duckdb

import peer_cli

TEXT = peer_cli.TEXT
OFFSET = 8 * 3600  # Asia/Shanghai, UTC+8 all year
# The longest line accepted: wxlake's own default (--max-line-bytes 64 MiB). DuckDB sizes its read
# buffers by it: 1 GiB (duckdbjson_ingest.py) costs 0.6 s more on big60, its 16 MiB default would
# reject lines wxlake takes.
MAX_LINE = 64 << 20
q = peer_cli.sql_str


def main(argv):
    files, out, incremental = peer_cli.parse(argv, __doc__)
    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".duckdb-tmp-", dir=out.parent)
    con = duckdb.connect(config={"temp_directory": tmp, "preserve_insertion_order": False})
    try:
        columns = peer_cli.JSON_COLUMNS
        paths = "[" + ", ".join(q(str(f)) for f in files) + "]"
        seconds = "CASE WHEN create_time >= 100000000000 THEN create_time // 1000 ELSE create_time END"
        rows = f"""
            SELECT msg_id, {seconds} AS create_time, msg_type, {", ".join(TEXT)}, filename,
                   DATE '1970-01-01' + CAST(({seconds} + {OFFSET}) // 86400 AS INTEGER) AS local_day
            FROM read_json({paths}, format = 'newline_delimited', ignore_errors = true,
                           columns = {columns}, filename = true, maximum_object_size = {MAX_LINE})
            WHERE msg_id IS NOT NULL AND msg_id <> '' AND create_time > 0
        """
        source = f"({rows})"
        if incremental:
            days = con.execute(
                f"SELECT DISTINCT strftime(local_day, 'year=%Y/month=%m/day=%d') FROM {source}").fetchall()
            existing = [str(p) for (d,) in days for p in sorted((out / d).glob("*.parquet"))]
            if existing:
                source = (f"(SELECT * FROM {source} WHERE msg_id NOT IN "
                          f"(SELECT msg_id FROM read_parquet([{', '.join(q(p) for p in existing)}])))")
        run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        first = "PARTITION BY msg_id ORDER BY filename" if len(files) > 1 else "PARTITION BY msg_id"
        n = con.execute(f"""
            COPY (
                SELECT msg_id, create_time, msg_type, {", ".join(TEXT)}, NULL::VARCHAR AS extra_fields,
                       year(local_day) AS year, lpad(month(local_day)::VARCHAR, 2, '0') AS month,
                       lpad(day(local_day)::VARCHAR, 2, '0') AS day
                FROM {source}
                QUALIFY row_number() OVER ({first}) = 1
            ) TO {q(str(out))} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (year, month, day),
                FILENAME_PATTERN 'part-{run_id}-{{i}}', OVERWRITE_OR_IGNORE true)
        """).fetchone()[0]
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"duckdbfast_ingest: {len(files)} file(s), {n} row(s) written to {out} in {time.monotonic() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
