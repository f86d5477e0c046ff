#!/usr/bin/env python3
"""DuckDB peer the way the issue measured it: read_json -> dedup -> COPY PARTITION_BY.

Usage: duckdbjson_ingest.py RAW_DIR OUT_DIR [--incremental]

The fast, less faithful DuckDB route (duckdb_ingest.py is the faithful one): read_json with a
fixed column list and ignore_errors, msg_id read as VARCHAR (DuckDB keeps a JSON integer's digits),
create_time converted from milliseconds, dedup keeping the first copy in (file, line) order,
Snappy Parquet partitioned by the local date in Asia/Shanghai. Not replicated: unknown fields
(extra_fields is NULL), type conflicts, surrogate repair, the quarantine; a malformed line becomes
an all-NULL row that is then filtered out.
"""
import shutil
import sys
import tempfile
import time
import uuid

import duckdb

import peer_cli

TZ = "Asia/Shanghai"
TEXT = peer_cli.TEXT
q = peer_cli.sql_str


def main(argv):
    files, out, incremental = peer_cli.parse(argv, __doc__)
    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".duckdb-tmp-", dir=out.parent)
    con = duckdb.connect(config={"temp_directory": tmp, "preserve_insertion_order": True})
    try:
        columns = peer_cli.JSON_COLUMNS
        paths = "[" + ", ".join(q(str(f)) for f in files) + "]"
        local = f"timezone('{TZ}', to_timestamp(create_time))"
        con.execute(f"""
            CREATE TEMP TABLE parsed AS
            SELECT row_number() OVER () AS rid, msg_id,
                   CASE WHEN create_time >= 100000000000 THEN create_time // 1000 ELSE create_time END AS create_time,
                   msg_type, {", ".join(TEXT)}
            FROM read_json({paths}, format = 'newline_delimited', ignore_errors = true,
                           columns = {columns}, maximum_object_size = 1073741824)
            WHERE msg_id IS NOT NULL AND msg_id <> '' AND create_time > 0
        """)
        source = "parsed"
        if incremental:
            days = con.execute(f"SELECT DISTINCT strftime({local}, 'year=%Y/month=%m/day=%d') FROM parsed").fetchall()
            existing = [str(p) for (d,) in days for p in sorted((out / d).glob("*.parquet"))]
            if existing:
                con.execute("CREATE TEMP TABLE existing AS SELECT DISTINCT msg_id FROM read_parquet(["
                            + ", ".join(q(p) for p in existing) + "])")
                source = "(SELECT p.* FROM parsed p ANTI JOIN existing e ON p.msg_id = e.msg_id)"
        run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        n = con.execute(f"""
            COPY (
                SELECT msg_id, create_time, msg_type, {", ".join(TEXT)}, NULL::VARCHAR AS extra_fields,
                       strftime({local}, '%Y') AS year, strftime({local}, '%m') AS month,
                       strftime({local}, '%d') AS day
                FROM {source}
                QUALIFY row_number() OVER (PARTITION BY msg_id ORDER BY rid) = 1
            ) TO {q(str(out))} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (year, month, day),
                FILENAME_PATTERN 'part-{run_id}-{{i}}', OVERWRITE_OR_IGNORE true)
        """).fetchone()[0]
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"duckdbjson_ingest: {len(files)} file(s), {n} row(s) written to {out} in {time.monotonic() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
