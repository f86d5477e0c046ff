#!/usr/bin/env python3
"""Polars peer of `wxlake ingest` for benches/compare.sh.

Usage: polars_ingest.py RAW_DIR OUT_DIR [--incremental]

Reads RAW_DIR/*.jsonl (in name order) and writes Snappy Parquet into
OUT_DIR/year=YYYY/month=MM/day=DD/part-<run id>-<n>.parquet (local date of
create_time in Asia/Shanghai, partition columns only in the path), one row per
msg_id, the first copy winning (unique(keep='first', maintain_order=True)).
With --incremental, OUT_DIR already holds a lake: the msg_ids of the partitions
the new rows fall in are read and those rows dropped (anti join); existing files
are not touched.

How it reads: pl.read_ndjson cannot skip a malformed line (even with
ignore_errors it fails the whole file), so the lines are read as strings first
(scan_csv with no quoting and a delimiter that cannot occur in JSON,
utf8-lossy), lines that are not one parseable object with a msg_id are dropped
(str.json_path_match('$.msg_id') is null), and the remaining lines are written
back into one in-memory NDJSON buffer (write_csv, no quoting) and decoded with
read_ndjson (known fields as String, unknown keys inferred) in one go. Row order is kept throughout, so the first copy wins.

Fidelity (see benches/README.md): a line with invalid UTF-8 is recognised by the
U+FFFD that lossy decoding puts in it (so a line that really contains U+FFFD
is dropped too); a line that fails to parse only because of lone surrogate
escapes is repaired (U+FFFD, pairs kept); msg_id is the exact text of a string
or an integer of any size (read_ndjson into String keeps the digits);
create_time an integer or digit string, >= 1e11 is milliseconds; msg_type
within Int32 else null; a non-string value of a string field becomes its text
(wxlake: null, original kept in extra_fields); source objects are JSON text
with spaces after ':' and ','; extra_fields is json_encode of the struct of all
unknown keys seen in the run, so a row lists every unknown key (null when it had
none of them, then the column is null). A line with a duplicate key is accepted.
"""
import io
import json
import sys
import time
import uuid

import polars as pl

import peer_cli

TZ = "Asia/Shanghai"
STRING_FIELDS = ("from_username", "to_username", "chatroom", "chatroom_sender", "content")
KNOWN = ("msg_id", "create_time", "msg_type", *STRING_FIELDS, "source")
MAX_SECS = 253402300799 - 86400
SURROGATE = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"


def repair(col: pl.Expr) -> pl.Expr:
    """Lone surrogate escapes -> U+FFFD; valid pairs are protected and restored."""
    pair = r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
    return (
        col.str.replace_all(pair, "\x01${1}\x02${2}")
        .str.replace_all(SURROGATE, "\ufffd")
        .str.replace_all("\x01([0-9a-fA-F]{4})\x02([0-9a-fA-F]{4})", "\\u${1}\\u${2}")
    )


def read_lines(files) -> pl.DataFrame:
    lf = pl.scan_csv(
        [str(f) for f in files], has_header=False, separator="\x1f", quote_char=None,
        schema={"line": pl.String}, encoding="utf8-lossy", truncate_ragged_lines=True,
        infer_schema=False,
    )
    # A blank line or a trailing CR needs no care: the first does not parse,
    # the second is JSON whitespace.
    df = (
        lf.filter(pl.col("line").is_not_null() & ~pl.col("line").str.contains("\ufffd", literal=True))
        .with_columns(pl.col("line").str.json_path_match("$.msg_id").alias("mid"))
        .collect()
    )
    # The rare lines that did not parse: try again without lone surrogates.
    bad = df["mid"].is_null() & df["line"].str.contains(SURROGATE)
    if bad.any():
        df = df.with_columns(
            pl.when(bad).then(repair(pl.col("line"))).otherwise(pl.col("line")).alias("line")
        ).with_columns(
            pl.when(bad).then(pl.col("line").str.json_path_match("$.msg_id")).otherwise(pl.col("mid")).alias("mid")
        )
    return df.filter(pl.col("mid").is_not_null() & (pl.col("mid") != "")).select("line")


def to_ndjson(lines: pl.DataFrame) -> io.BytesIO:
    """The kept lines as one NDJSON buffer (write_csv of one column, no quoting).

    schema_overrides fails on a key that no line has: a first line with every
    known key (dropped again after decoding) makes sure they all exist."""
    buf = io.BytesIO()
    buf.write((json.dumps({f: "" for f in KNOWN}) + "\n").encode())
    lines.write_csv(buf, include_header=False, quote_style="never")
    buf.seek(0)
    return buf


def decode(buf: io.BytesIO) -> pl.DataFrame:
    df = pl.read_ndjson(
        buf, schema_overrides={f: pl.String for f in KNOWN}, infer_schema_length=None, ignore_errors=True,
    ).slice(1)
    extras = [c for c in df.columns if c not in KNOWN]
    digits = lambda c: pl.when(pl.col(c).str.contains(r"^[0-9]+$")).then(pl.col(c))  # noqa: E731
    ct = digits("create_time").cast(pl.Int64, strict=False)
    ct = pl.when(ct >= 100_000_000_000).then(ct // 1000).otherwise(ct)
    if extras:
        extra = pl.when(pl.any_horizontal(pl.col(extras).is_not_null())).then(
            pl.struct(extras).struct.json_encode())
    else:
        extra = pl.lit(None, pl.String)
    df = df.select(
        pl.col("msg_id"),
        ct.alias("create_time"),
        pl.when(pl.col("msg_type").str.contains(r"^-?[0-9]+$"))
        .then(pl.col("msg_type")).cast(pl.Int32, strict=False).alias("msg_type"),
        *[pl.col(f) for f in STRING_FIELDS],
        pl.col("source"),
        extra.alias("extra_fields"),
    ).filter(pl.col("msg_id").is_not_null() & (pl.col("msg_id") != "")
             & (pl.col("create_time") > 0) & (pl.col("create_time") <= MAX_SECS))
    local = pl.from_epoch(pl.col("create_time"), time_unit="s").dt.replace_time_zone("UTC").dt.convert_time_zone(TZ)
    return df.with_columns(
        local.dt.strftime("%Y").alias("year"),
        local.dt.strftime("%m").alias("month"),
        local.dt.strftime("%d").alias("day"),
    )


def main(argv):
    files, out, incremental = peer_cli.parse(argv, __doc__)
    t0 = time.monotonic()
    lines = read_lines(files)
    buf = to_ndjson(lines)
    del lines
    df = decode(buf)
    del buf
    df = df.unique(subset="msg_id", keep="first", maintain_order=True)
    if incremental:
        parts = df.select("year", "month", "day").unique().rows()
        existing = [str(p) for y, m, d in parts
                    for p in sorted((out / f"year={y}" / f"month={m}" / f"day={d}").glob("*.parquet"))]
        if existing:
            ids = pl.scan_parquet(existing).select("msg_id").unique().collect()
            df = df.join(ids, on="msg_id", how="anti", maintain_order="left")
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    n_files = 0
    for (y, m, d), part in sorted(df.partition_by(["year", "month", "day"], as_dict=True,
                                                  include_key=False, maintain_order=True).items()):
        p = out / f"year={y}" / f"month={m}" / f"day={d}"
        p.mkdir(parents=True, exist_ok=True)
        part.write_parquet(p / f"part-{run_id}-{n_files}.parquet", compression="snappy")
        n_files += 1
    print(f"polars_ingest: {len(files)} file(s), {df.height} row(s) in {n_files} file(s) "
          f"written to {out} in {time.monotonic() - t0:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
