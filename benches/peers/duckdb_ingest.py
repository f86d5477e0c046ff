#!/usr/bin/env python3
"""DuckDB peer of `wxlake ingest` for benches/compare.sh.

Usage: duckdb_ingest.py RAW_DIR OUT_DIR [--incremental]

Reads RAW_DIR/*.jsonl (in name order) and writes Snappy Parquet into
OUT_DIR/year=YYYY/month=MM/day=DD/ (local date of create_time in Asia/Shanghai,
partition columns only in the path), one row per msg_id, the first copy winning.
With --incremental, OUT_DIR already holds a lake: the msg_ids of the partitions
the new rows fall in are read and the rows already there are dropped; new files
get a unique name, existing files are never touched.

How it reads: every line as one VARCHAR via read_csv (no quoting, a delimiter
that cannot occur in JSON), then DuckDB's JSON functions. Not read_json: its
ignore_errors turns bad lines into all-NULL rows, cannot repair a lone
surrogate escape, and does not strip a UTF-8 BOM, whereas the text route keeps
msg_id as the exact digits of any JSON integer (json_extract_string returns the
number's text; above 2^64 too) and lets each field be checked by JSON type.
Order: the lines go into a temp table (insertion order is preserved, so rowid is
(file, line) order), and dedup keeps row_number() over (partition by msg_id
order by rowid) = 1.

Fidelity to the wxlake contract (see benches/README.md): invalid UTF-8 lines
are dropped by the CSV reader, lines that are not one JSON object are rejected
(json_valid + json_type); a line that is invalid only because of lone surrogate
escapes is repaired (each lone surrogate becomes U+FFFD, pairs are kept);
msg_id must be a non-empty string or an integer; create_time an integer or a
digit string, >= 1e11 is milliseconds; msg_type an integer or digit string
within Int32, else NULL; string fields only from JSON strings; source as is
when a string, else its JSON text; extra_fields = the object minus the known
keys (json_merge_patch), with the original value of a known field whose type
was unusable. Not replicated: lines with a duplicate key are accepted (the
first value wins), numbers inside extra_fields are re-serialized by DuckDB.
"""
import shutil
import sys
import tempfile
import time
import uuid

import duckdb

import peer_cli

TZ = "Asia/Shanghai"
STRING_FIELDS = ("from_username", "to_username", "chatroom", "chatroom_sender", "content")
FIELDS = ("msg_id", "create_time", "msg_type", *STRING_FIELDS, "source")
# Last local second representable as a year-9999 date (with margin for the zone).
MAX_SECS = 253402300799 - 86400


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def parse_sql(files):
    paths = "[" + ", ".join(sql_str(str(f)) for f in files) + "]"
    idx = {f: i + 1 for i, f in enumerate(FIELDS)}  # 1-based list positions
    t = lambda f: f"t[{idx[f]}]"  # noqa: E731 - JSON type of field f
    s = lambda f: f"s[{idx[f]}]"  # noqa: E731 - field f as text
    json_paths = "[" + ", ".join(f"'$.{f}'" for f in FIELDS) + "]"
    # Repair only lines that fail to parse and hold a \uD800-\uDFFF escape:
    # protect valid pairs, turn the rest into U+FFFD, restore the pairs.
    surrogate = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
    repaired = (
        "regexp_replace(regexp_replace(regexp_replace(line, "
        r"'\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})', "
        r"chr(1) || '\1' || chr(2) || '\2', 'g'), "
        f"'{surrogate}', '\ufffd', 'g'), "
        r"chr(1) || '([0-9a-fA-F]{4})' || chr(2) || '([0-9a-fA-F]{4})', '\\u\1\\u\2', 'g')"
    )
    known_null = "{" + ", ".join(f'"{f}": null' for f in FIELDS) + "}"
    is_int = lambda f: f"{t(f)} IN ('BIGINT', 'UBIGINT')"  # noqa: E731
    digits = lambda f: f"({t(f)} = 'VARCHAR' AND regexp_full_match({s(f)}, '[0-9]+'))"  # noqa: E731
    type_conflict = {
        "msg_type": f"({t('msg_type')} <> 'NULL' AND msg_type IS NULL)",
        **{f: f"({t(f)} NOT IN ('VARCHAR', 'NULL'))" for f in STRING_FIELDS},
    }
    any_conflict = " OR ".join(f"coalesce({c}, false)" for c in type_conflict.values())
    # A merge patch with the original value of each conflicting field (NULL
    # removes nothing that is still there, since the known keys are gone).
    conflict_patch = "json_object(" + ", ".join(
        f"'{f}', CASE WHEN {c} THEN json_extract(doc, '$.{f}') END" for f, c in type_conflict.items()
    ) + ")"
    return f"""
    CREATE TEMP TABLE parsed AS
    WITH raw AS (
        SELECT line FROM read_csv({paths}, columns = {{'line': 'VARCHAR'}}, header = false,
            auto_detect = false, delim = chr(31), quote = '', escape = '', new_line = '\\n',
            ignore_errors = true, strict_mode = false, null_padding = true,
            max_line_size = 1073741824)
    ),
    docs AS (
        SELECT CASE
            WHEN json_valid(line) THEN line
            WHEN regexp_matches(line, '{surrogate}') AND json_valid({repaired}) THEN {repaired}
        END AS doc
        FROM raw
        WHERE line IS NOT NULL  -- blank lines are not valid JSON: dropped by json_valid
    ),
    objs AS (
        SELECT doc, json_type(doc, {json_paths}) AS t, json_extract_string(doc, {json_paths}) AS s
        FROM docs WHERE doc IS NOT NULL AND json_type(doc) = 'OBJECT'
    ),
    typed AS (
        SELECT doc, t, s,
            CASE WHEN {t('msg_id')} IN ('BIGINT', 'UBIGINT')
                      OR ({t('msg_id')} = 'DOUBLE' AND regexp_full_match({s('msg_id')}, '-?[0-9]+'))
                      OR ({t('msg_id')} = 'VARCHAR' AND {s('msg_id')} <> '')
                 THEN {s('msg_id')} END AS msg_id,
            CASE WHEN {is_int('create_time')} OR {digits('create_time')}
                 THEN TRY_CAST({s('create_time')} AS BIGINT) END AS ct_raw,
            CASE WHEN {is_int('msg_type')} OR {digits('msg_type')}
                 THEN TRY_CAST({s('msg_type')} AS INTEGER) END AS msg_type
        FROM objs
    ),
    rows AS (
        SELECT *, CASE WHEN ct_raw >= 100000000000 THEN ct_raw // 1000 ELSE ct_raw END AS create_time
        FROM typed WHERE msg_id IS NOT NULL AND ct_raw IS NOT NULL
    )
    SELECT
        msg_id,
        create_time,
        msg_type,
        {", ".join(f"CASE WHEN {t(f)} = 'VARCHAR' THEN {s(f)} END AS {f}" for f in STRING_FIELDS)},
        CASE WHEN {t('source')} = 'NULL' THEN NULL ELSE {s('source')} END AS source,
        nullif(CASE WHEN {any_conflict}
                    THEN json_merge_patch(json_merge_patch(doc, '{known_null}'), {conflict_patch})
                    ELSE json_merge_patch(doc, '{known_null}') END::VARCHAR, '{{}}') AS extra_fields,
        strftime(timezone('{TZ}', to_timestamp(create_time)), '%Y') AS year,
        strftime(timezone('{TZ}', to_timestamp(create_time)), '%m') AS month,
        strftime(timezone('{TZ}', to_timestamp(create_time)), '%d') AS day
    FROM rows
    WHERE create_time > 0 AND create_time <= {MAX_SECS}
    """


def main(argv):
    files, out, incremental = peer_cli.parse(argv, __doc__)
    t0 = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".duckdb-tmp-", dir=out.parent)
    con = duckdb.connect(config={"temp_directory": tmp, "preserve_insertion_order": True})
    try:
        con.execute(parse_sql(files))
        source = "parsed"
        if incremental:
            parts = con.execute("SELECT DISTINCT year, month, day FROM parsed").fetchall()
            existing = [str(p) for y, m, d in parts
                        for p in sorted((out / f"year={y}" / f"month={m}" / f"day={d}").glob("*.parquet"))]
            if existing:
                con.execute("CREATE TEMP TABLE existing AS SELECT DISTINCT msg_id FROM read_parquet(["
                            + ", ".join(sql_str(p) for p in existing) + "])")
                source = "(SELECT p.rowid AS rid, p.* FROM parsed p ANTI JOIN existing e ON p.msg_id = e.msg_id)"
        order = "rid" if source != "parsed" else "rowid"
        cols = "msg_id, create_time, msg_type, " + ", ".join(STRING_FIELDS) + ", source, extra_fields, year, month, day"
        run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        n = con.execute(f"""
            COPY (SELECT {cols} FROM {source}
                  QUALIFY row_number() OVER (PARTITION BY msg_id ORDER BY {order}) = 1)
            TO {sql_str(str(out))} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (year, month, day),
                FILENAME_PATTERN 'part-{run_id}-{{i}}', OVERWRITE_OR_IGNORE true)
        """).fetchone()[0]
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"duckdb_ingest: {len(files)} file(s), {n} row(s) written to {out} in {time.monotonic() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
