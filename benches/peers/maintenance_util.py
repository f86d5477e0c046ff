#!/usr/bin/env python3
"""Helpers of benches/maintenance.sh (not a peer). Standard library only, but for parquet-rows
(and runstat of a query), which read a footer with pyarrow from the bench venv.

  maintenance_util.py lakestat LAKE_DIR
        one JSON line about a lake (DIR/year=YYYY/month=MM/day=DD/*.parquet):
        partitions, files, bytes, first/last day, files per partition (min,
        median, max) and the largest partition by bytes
  maintenance_util.py dsinfo DATA_DIR --wxlake BIN --params P [--pieces N] [--today D]
        one JSON object about a data set: lakestat of DATA_DIR/parquet/messages,
        its rows and the largest partition's rows (`wxlake query --count`), the
        raw JSONL bytes and lines, the age of the newest partition on day D
  maintenance_util.py parquet-rows FILE
        the row count in a Parquet file's footer (pyarrow's reader)
  maintenance_util.py runstat KIND [options]
        one JSON line about a timed run (KIND: compact, query, archive, zstd):
        rows, files and bytes before/after, and the problems found
  maintenance_util.py report TSV [options]
        the markdown tables and the JSON results
"""
import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_common import cpu_model, fmt_mb, fmt_rate, fmt_seconds, git  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PART_RE = re.compile(r"^year=(\d{4})/month=(\d{2})/day=(\d{2})$")
# compaction may take this many times the baseline's wall time (the bound)
COMPACT_VS_BASELINE_MAX = 1.5


# ---------------------------------------------------------------- lake statistics


def lake_partitions(lake):
    """{partition "year=../month=../day=..": [(file name, bytes), ...]} of the data files."""
    lake = Path(lake)
    parts = {}
    if not lake.is_dir():
        return parts
    for ydir in sorted(lake.iterdir()):
        if not ydir.is_dir():
            continue
        for mdir in sorted(ydir.iterdir()):
            if not mdir.is_dir():
                continue
            for ddir in sorted(mdir.iterdir()):
                if not ddir.is_dir():
                    continue
                rel = f"{ydir.name}/{mdir.name}/{ddir.name}"
                files = [(f.name, f.stat().st_size) for f in sorted(ddir.iterdir())
                         if f.is_file() and f.name.endswith(".parquet")]
                if files:
                    parts[rel] = files
    return parts


def part_day(rel):
    m = PART_RE.match(rel)
    return f"{m[1]}-{m[2]}-{m[3]}" if m else None


def lakestat(lake):
    parts = lake_partitions(lake)
    counts = [len(v) for v in parts.values()]
    sizes = {k: sum(s for _, s in v) for k, v in parts.items()}
    largest = max(sizes, key=lambda k: (sizes[k], k)) if sizes else None
    days = sorted(d for d in (part_day(k) for k in parts) if d)
    return {
        "partitions": len(parts),
        "files": sum(counts),
        "bytes": sum(sizes.values()),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "files_per_partition": {"min": min(counts), "median": statistics.median(counts), "max": max(counts)}
        if counts else None,
        "largest": {"partition": largest, "day": part_day(largest), "bytes": sizes[largest],
                    "files": len(parts[largest])} if largest else None,
        "bad_paths": sorted(k for k in parts if not PART_RE.match(k)),
    }


ALL_DAYS = ("1970-01-02", "2099-12-31")  # --start/--end of a count over the whole lake


def wxlake_count(wxlake, data_dir, start, end):
    out = subprocess.run([wxlake, "--data-dir", str(data_dir), "query", "--start", start, "--end", end, "--count"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def dsinfo(a):
    d = Path(a.data_dir)
    ls = lakestat(d / "parquet" / "messages")
    raw = sorted((d / "messages" / "raw").glob("*.jsonl"))
    lines = 0
    for f in raw:
        with open(f, "rb") as fh:
            lines += sum(1 for _ in fh)
    info = {
        "params": a.params, "data_dir": str(d), "lake": ls,
        "rows": wxlake_count(a.wxlake, d, *ALL_DAYS),
        "largest_rows": wxlake_count(a.wxlake, d, ls["largest"]["day"], ls["largest"]["day"])
        if ls["largest"] else None,
        "raw_files": len(raw), "raw_bytes": sum(f.stat().st_size for f in raw), "raw_lines": lines,
    }
    if a.pieces:
        info["pieces"] = int(a.pieces)
    if a.today and ls["last_day"]:
        info["today"] = a.today
        info["newest_age_days"] = (dt.date.fromisoformat(a.today) - dt.date.fromisoformat(ls["last_day"])).days
    print(json.dumps(info, indent=2))


# ---------------------------------------------------------------- Parquet footer


def parquet_rows(path):
    """The row count a Parquet file's footer records (pyarrow: the bench venv's)."""
    import pyarrow.parquet as pq  # only here: the other commands need no venv

    return pq.read_metadata(path).num_rows


# ---------------------------------------------------------------- one run


def _load_summary(path):
    try:
        text = Path(path).read_text().strip()
        return json.loads(text.splitlines()[-1]) if text else None
    except (OSError, ValueError, IndexError):
        return None


def runstat(a):
    problems = []
    out = {"kind": a.kind}
    exp_rows = int(a.expected_rows) if a.expected_rows else None
    exp_count = int(a.expected_count) if a.expected_count else None
    if a.count is not None and a.count != "":
        try:
            out["lake_count_after"] = int(a.count)
        except ValueError:
            out["lake_count_after"] = None
            problems.append(f"`query --count` failed after the run: {a.count[:80]}")
        if exp_count is not None and out["lake_count_after"] is not None and out["lake_count_after"] != exp_count:
            problems.append(f"ROW COUNT CHANGED: `query --count` says {out['lake_count_after']:,}, "
                            f"{exp_count:,} before")
    lake_after = lakestat(a.lake) if a.lake else None
    if lake_after is not None:
        out["lake_after"] = {k: lake_after[k] for k in ("partitions", "files", "bytes", "files_per_partition")}
        if lake_after["bad_paths"]:
            problems.append("files outside year=/month=/day=: " + ", ".join(lake_after["bad_paths"][:3]))

    if a.kind in ("compact", "archive"):
        s = _load_summary(a.summary)
        if s is None:
            problems.append("no JSON summary on stdout")
        elif a.kind == "compact":
            # bytes and rows of the partitions rewritten (what was read and written); files and the
            # row total over every partition scanned (a partition of one file is not rewritten)
            ps = s["partitions"]
            out.update(rows=sum(p["rows"] for p in ps), rows_scanned=s["rows"], files_before=s["files_before"],
                       files_after=s["files_after"], bytes_in=sum(p["bytes_before"] for p in ps),
                       bytes_out=sum(p["bytes_after"] for p in ps), partitions=len(ps),
                       partitions_scanned=s["partitions_scanned"], duplicates_removed=s["duplicates_removed"],
                       elapsed_ms=s.get("elapsed_ms"))
            if exp_rows is not None and s["rows"] != exp_rows:
                problems.append(f"compact says {s['rows']:,} rows, expected {exp_rows:,}")
            if s["files_after"] != s["partitions_scanned"]:
                problems.append(f"{s['files_after']} files after for {s['partitions_scanned']} partitions (expected "
                                "one file each at the default 128 MiB target)")
            if lake_after is not None and a.expect_files_after and lake_after["files"] != int(a.expect_files_after):
                problems.append(f"{lake_after['files']} files in the lake after, expected {a.expect_files_after}")
        else:
            ps = s["partitions"]
            out.update(rows=sum(p["rows"] for p in ps), files_before=sum(p["files_before"] for p in ps),
                       files_after=sum(p["files_after"] for p in ps), bytes_in=sum(p["bytes_before"] for p in ps),
                       bytes_out=sum(p["bytes_after"] for p in ps), partitions=len(ps),
                       duplicates_removed=sum(p["duplicates_removed"] for p in ps),
                       codecs=sorted({p["codec"] for p in ps}),
                       tiers={t["tier"]: {k: t[k] for k in ("partitions", "files", "rows", "bytes", "rewritten")}
                              for t in s["tiers"]},
                       raw_jsonl_bytes=s.get("raw_jsonl_bytes"), lake_bytes=s.get("lake_bytes"),
                       compression_ratio=s.get("compression_ratio"), raw_archived=len(s.get("raw_archived", [])),
                       elapsed_ms=s.get("elapsed_ms"))
            out["jsonl_bytes"] = s.get("raw_jsonl_bytes")
            if exp_rows is not None and out["rows"] != exp_rows:
                problems.append(f"archive rewrote {out['rows']:,} rows, expected {exp_rows:,}")
            if a.tier:
                wrong = [p["partition"] for p in ps if p["tier"] != a.tier]
                if wrong:
                    problems.append(f"{len(wrong)} partition(s) not {a.tier}: {', '.join(wrong[:3])}")
                t = next((t for t in s["tiers"] if t["tier"] == a.tier), None)
                if a.partitions and (t is None or t["partitions"] != int(a.partitions)):
                    problems.append(f"{t and t['partitions']} partitions in tier {a.tier}, expected {a.partitions}")
            if a.partitions and len(ps) != int(a.partitions):
                problems.append(f"{len(ps)} partitions rewritten, expected {a.partitions}")
            if out["raw_archived"]:
                problems.append(f"{out['raw_archived']} raw file(s) archived (should be none)")
    elif a.kind == "query":
        try:
            rows = parquet_rows(a.out)
        except (OSError, ValueError) as e:
            rows = None
            problems.append(f"cannot read the output's footer: {e}")
        out.update(rows=rows, bytes_in=int(a.in_bytes), bytes_out=os.path.getsize(a.out) if rows is not None else None,
                   files_before=int(a.in_files) if a.in_files else None, files_after=1)
        if exp_rows is not None and rows is not None and rows != exp_rows:
            problems.append(f"ROW COUNT MISMATCH: the output has {rows:,} rows, expected {exp_rows:,}")
    elif a.kind == "zstd":
        size = os.path.getsize(a.out)
        out.update(rows=exp_rows, bytes_in=int(a.in_bytes), bytes_out=size, jsonl_bytes=int(a.in_bytes))
    out["problems"] = problems
    print(json.dumps(out))


# ---------------------------------------------------------------- report


# variant -> (workload, label); order of the tables
VARIANTS = {
    "compact": ("compact", "compact, the month"),
    "baseline": ("compact", "baseline: query → one Parquet file"),
    "compact1": ("compact", "compact, the largest partition alone"),
    "compact_shm": ("compact", "compact, the month, lake on tmpfs"),
    "baseline_shm": ("compact", "baseline, lake on tmpfs"),
    "cold": ("archive", "archive, cold: zstd 19 (default tiers)"),
    "warm": ("archive", "archive, warm: zstd 3 (`--warm-after 1d --cold-after 100000d`)"),
    "zstd19": ("archive", "reference: `zstd -19 -T1`, one raw JSONL day"),
    "zstd3": ("archive", "reference: `zstd -3 -T1`, one raw JSONL day"),
}


def _summarize(runs):
    out = {}
    for v in VARIANTS:
        rs = [r for r in runs if r["variant"] == v]
        if not rs:
            continue
        ok = [r for r in rs if r["exit"] == 0 and r["wall_s"] is not None]
        walls = [r["wall_s"] for r in ok]
        problems = []
        failed = [r for r in rs if r["exit"] != 0]
        if failed:
            problems.append(f"FAILED: exit {failed[0]['exit']} in {len(failed)} of {len(rs)} run(s)"
                            + (f" ({failed[0]['stat'].get('error')})" if failed[0]["stat"].get("error") else ""))
        for r in ok:
            for p in r["stat"].get("problems", []):
                if p not in problems:
                    problems.append(p)
        med = statistics.median(walls) if walls else None
        last = ok[-1]["stat"] if ok else {}
        bi, bo = last.get("bytes_in"), last.get("bytes_out")
        s = {
            "variant": v, "workload": VARIANTS[v][0], "label": VARIANTS[v][1], "command": rs[-1]["command"],
            "runs": len(rs), "ok_runs": len(ok), "median_wall_s": med,
            "median_time_e_s": statistics.median(r["time_e_s"] for r in ok) if ok else None,
            "min_wall_s": min(walls) if walls else None, "max_wall_s": max(walls) if walls else None,
            "median_cpu_s": statistics.median(r["cpu_s"] for r in ok)
            if ok and all(r["cpu_s"] is not None for r in ok) else None,
            "peak_rss_mb": max(r["max_rss_kb"] for r in ok) / 1024 if ok else None,
            "rows": last.get("rows"), "files_before": last.get("files_before"), "files_after": last.get("files_after"),
            "bytes_in": bi, "bytes_out": bo, "jsonl_bytes": last.get("jsonl_bytes"),
            "mb_per_s": (bi + bo) / 1e6 / med if med and bi is not None and bo is not None else None,
            "rows_per_s": last["rows"] / med if med and last.get("rows") is not None else None,
            "jsonl_mb_per_s": last["jsonl_bytes"] / 1e6 / med if med and last.get("jsonl_bytes") else None,
            "size_ratio": bo / bi if bi and bo is not None else None,
            "tiers": last.get("tiers"), "codecs": last.get("codecs"), "compression_ratio": last.get("compression_ratio"),
            "problems": problems, "max_load_after": max(r["loadavg_1m_after"] for r in rs),
        }
        out[v] = s
    return out


def _check(s):
    return "**" + "; ".join(p.replace("|", "\\|") for p in s["problems"]) + "**" if s["problems"] else "ok"


def cmd_report(a):
    runs = []
    for line in Path(a.tsv).read_text().splitlines():
        if not line.strip():
            continue
        variant, run, hr, wall, cpu, rss, rc, load, command, stat = line.split("\t", 9)
        try:
            wall_s, time_e_s = float(hr), float(wall)
        except ValueError:
            wall_s = time_e_s = None
        runs.append({"variant": variant, "run": int(run), "wall_s": wall_s, "time_e_s": time_e_s,
                     "cpu_s": float(cpu) if cpu else None,
                     "max_rss_kb": int(rss) if rss.isdigit() else None, "exit": int(rc),
                     "loadavg_1m_after": float(load), "command": command, "stat": json.loads(stat)})
    summary = _summarize(runs)
    data = {}
    for name, path in (("month", a.month_info), ("year", a.year_info)):
        if path and Path(path).is_file():
            data[name] = json.loads(Path(path).read_text())
    rev = git("rev-parse", "--short", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpu": cpu_model(), "cores": os.cpu_count(),
        "git": f"{rev}{'+dirty' if dirty else ''}" if rev else None,
        "wxlake_bin": a.wxlake_bin, "wxlake_bin_mtime": a.wxlake_mtime, "wxlake_sha256_16": a.wxlake_sha,
        "zstd": a.zstd_version, "runs": int(a.runs), "python": platform.python_version(),
        "load_before": float(a.load_before), "time_overhead_s": float(a.time_overhead),
        "timing": "wall: bash $EPOCHREALTIME around `/usr/bin/time -f '%e %M %U %S' CMD` (s; %e, 10 ms resolution, "
                  "is kept as time_e_s); CPU: %U + %S (s); max RSS: %M (KB) of the process; warm page cache; state "
                  "restored with cp -a before each run",
    }
    derived = {}

    md = ["# wxlake maintenance: compact and archive", ""]
    md.append(f"{meta['date']} · {meta['cpu']} · {meta['cores']} cores · wxlake `{meta['wxlake_bin']}` "
              f"(built {meta['wxlake_bin_mtime']}, sha256 {meta['wxlake_sha256_16']}…, repo {meta['git']}) · "
              f"RUNS={a.runs} · {meta['zstd'] or 'no zstd CLI'} · load average {meta['load_before']:.2f} at the start")
    md.append("")
    md.append(f"Wall = median over the runs of whole-process wall time (bash's `$EPOCHREALTIME` around "
              f"`/usr/bin/time`; `/usr/bin/time true` takes {meta['time_overhead_s'] * 1000:.1f} ms); CPU = median "
              "user + system time (`%U + %S`), more than the wall when two threads work; peak RSS = the "
              "largest max RSS of any run. Before every run the lake is restored from a pristine copy (`cp -a` of "
              "`parquet/` and `metadata/`, raw files hard-linked), then `sync`; the page cache is warm. "
              "MB = 10^6 bytes; MB/s = (bytes read + bytes written) / median wall; rows/s = rows / median wall.")
    md.append("")
    high = max((r["loadavg_1m_after"] for r in runs), default=0)
    if meta["load_before"] > 0.5 or high > 1.5:
        md.append(f"**Warning: the machine was busy** (load average {meta['load_before']:.2f} at the start, up to "
                  f"{high:.2f} after a run, on {meta['cores']} cores): the wall times are inflated by an unknown "
                  "amount.")
        md.append("")

    if any(s["workload"] == "compact" for s in summary.values()):
        m = data.get("month", {})
        ls = m.get("lake", {})
        fpp = ls.get("files_per_partition") or {}
        lg = ls.get("largest") or {}
        md.append("## compact: a month of fragmented partitions")
        md.append("")
        if m:
            md.append(f"Lake: `generate {m.get('params')}`, each day's lines split into {m.get('pieces')} pieces "
                      f"(round-robin; lines stamped on another day all in the first piece) and ingested "
                      f"{m.get('pieces')} times: {ls.get('partitions')} partitions "
                      f"({ls.get('first_day')}..{ls.get('last_day')}), {ls.get('files'):,} Snappy Parquet files "
                      f"(per partition: min {fpp.get('min')}, median {fpp.get('median')}, max {fpp.get('max')}), "
                      f"{fmt_mb(ls.get('bytes'))} MB, {m.get('rows'):,} rows. Largest partition: `{lg.get('partition')}`, "
                      f"{fmt_mb(lg.get('bytes'))} MB in {lg.get('files')} files, {m.get('largest_rows'):,} rows.")
            md.append("")
        md.append("| variant | median wall s | min–max s | CPU s | peak RSS MB | files before → after | "
                  "MB read → written | MB/s | rows | rows/s | check |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for v in ("compact", "baseline", "compact1", "compact_shm", "baseline_shm"):
            s = summary.get(v)
            if not s:
                continue
            rng = "—" if s["min_wall_s"] is None else f"{fmt_seconds(s['min_wall_s'])}–{fmt_seconds(s['max_wall_s'])}"
            rss = "—" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:.0f}"
            fb = "—" if s["files_before"] is None else f"{s['files_before']:,}"
            fa = "—" if s["files_after"] is None else f"{s['files_after']:,}"
            rows = "—" if s["rows"] is None else f"{s['rows']:,}"
            rps = "—" if s["rows_per_s"] is None else f"{s['rows_per_s']:,.0f}"
            md.append(f"| {s['label']} | {fmt_seconds(s['median_wall_s'])} | {rng} | {fmt_seconds(s['median_cpu_s'])} | "
                      f"{rss} | {fb} → {fa} | "
                      f"{fmt_mb(s['bytes_in'])} → {fmt_mb(s['bytes_out'])} | {fmt_rate(s['mb_per_s'])} | {rows} | {rps} | "
                      f"{_check(s)} |")
        md.append("")
        md.append("Commands (`D` = a restored copy of the lake):")
        md.append("")
        for v in ("compact", "baseline", "compact1", "compact_shm", "baseline_shm"):
            if v in summary and not v.endswith("_shm"):
                md.append(f"- {summary[v]['label']}: `{summary[v]['command']}`")
        if "compact_shm" in summary or "baseline_shm" in summary:
            md.append("- the `*_shm` variants: the same commands with the restored copy on tmpfs (`SHM_DIR`)")
        md.append("")
        c, b, c1 = summary.get("compact"), summary.get("baseline"), summary.get("compact1")
        cs, bs = summary.get("compact_shm"), summary.get("baseline_shm")
        notes = []
        if c and b and c["median_wall_s"] and b["median_wall_s"]:
            r = c["median_wall_s"] / b["median_wall_s"]
            derived["compact_vs_baseline"] = r
            verdict = ("within" if r <= COMPACT_VS_BASELINE_MAX else "**ABOVE**")
            txt = (f"compact / baseline wall = **{r:.2f}×** ({verdict} the {COMPACT_VS_BASELINE_MAX}× bound)")
            if c["median_cpu_s"] and b["median_cpu_s"]:
                derived["compact_vs_baseline_cpu"] = c["median_cpu_s"] / b["median_cpu_s"]
                txt += f"; CPU time {c['median_cpu_s'] / b['median_cpu_s']:.2f}×"
            if cs and bs and cs["median_wall_s"] and bs["median_wall_s"]:
                rs = cs["median_wall_s"] / bs["median_wall_s"]
                derived["compact_vs_baseline_shm"] = rs
                txt += (f"; on tmpfs {rs:.2f}× ({'within' if rs <= COMPACT_VS_BASELINE_MAX else '**ABOVE**'} the bound)"
                        f", compact on disk / on tmpfs = {c['median_wall_s'] / cs['median_wall_s']:.1f}×")
            threads = []
            for x, name in ((c, "compact"), (b, "the baseline")):
                if x["median_cpu_s"] is not None:
                    threads.append(f"{name} CPU / wall = {x['median_cpu_s'] / x['median_wall_s']:.2f}")
            notes.append(txt + ". The baseline reads every row of the same partitions once and writes one Snappy "
                         "file; compact also dedups by msg_id, sorts each partition by (chatroom, create_time), "
                         "reads the new files' msg_ids back to check them, and per partition fsyncs the new file, "
                         "the directories and a journal, swaps them in and deletes the old files. "
                         + ("; ".join(threads) + " (above 1: more than one thread busy; below 1: waiting, "
                            "mostly for the disk's fsync and unlink)." if threads else ""))
        if c and c["peak_rss_mb"] is not None:
            txt = f"peak RSS: the month {c['peak_rss_mb']:.0f} MB"
            if c1 and c1["peak_rss_mb"] is not None:
                r1 = c["peak_rss_mb"] / c1["peak_rss_mb"]
                derived["rss_month_vs_one_partition"] = r1
                txt += (f", the largest partition alone {c1['peak_rss_mb']:.0f} MB (month / one = {r1:.2f}×: "
                        + ("it does not grow with the number of partitions)" if r1 < 1.3
                           else "compact rewrites one partition per core at once (at most 4), so "
                           "memory is bounded by that many partitions)" if r1 < 2.2
                           else "**it grows with the number of partitions**)"))
            if lg.get("bytes"):
                derived["rss_vs_largest_partition_bytes"] = c["peak_rss_mb"] * 1024 * 1024 / lg["bytes"]
                txt += (f"; the largest partition is {fmt_mb(lg['bytes'])} MB of Parquet (the month's peak RSS is "
                        f"{c['peak_rss_mb'] * 1024 * 1024 / lg['bytes']:.0f}× that: the process itself, and the "
                        "partition decoded into Arrow arrays, sorted and re-encoded), the whole month "
                        f"{fmt_mb(ls.get('bytes'))} MB")
            if b and b["peak_rss_mb"] is not None:
                txt += f"; the baseline query {b['peak_rss_mb']:.0f} MB"
            notes.append(txt + ".")
        for n in notes:
            md.append(f"- {n}")
        md.append("")

    if any(s["workload"] == "archive" for s in summary.values()):
        y = data.get("year", {})
        ls = y.get("lake", {})
        lg = ls.get("largest") or {}
        md.append("## archive: recompress by age")
        md.append("")
        if y:
            md.append(f"Lake: `generate {y.get('params')}` (the newest day is {y.get('newest_age_days')} days old on "
                      f"{y.get('today')}, so every partition is past the default `--cold-after 90d`), ingested once: "
                      f"{ls.get('partitions')} partitions, {ls.get('files'):,} Snappy files, {fmt_mb(ls.get('bytes'))} MB, "
                      f"{y.get('rows'):,} rows, from {fmt_mb(y.get('raw_bytes'))} MB of JSONL. Largest partition: "
                      f"`{lg.get('partition')}`, {fmt_mb(lg.get('bytes'))} MB. Every run uses `--raw-retention 100000d` "
                      "so that no raw file is archived: only the Parquet recompression is timed.")
            md.append("")
        md.append("| variant | median wall s | min–max s | CPU s | peak RSS MB | MB before → after | after / before | "
                  "MB/s | rows | rows/s | JSONL MB/s | check |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for v in ("cold", "warm", "zstd19", "zstd3"):
            s = summary.get(v)
            if not s:
                continue
            rng = "—" if s["min_wall_s"] is None else f"{fmt_seconds(s['min_wall_s'])}–{fmt_seconds(s['max_wall_s'])}"
            rss = "—" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:.0f}"
            ratio = "—" if s["size_ratio"] is None else f"{s['size_ratio']:.3f}"
            rows = "—" if s["rows"] is None else f"{s['rows']:,}"
            rps = "—" if s["rows_per_s"] is None else f"{s['rows_per_s']:,.0f}"
            md.append(f"| {s['label']} | {fmt_seconds(s['median_wall_s'])} | {rng} | {fmt_seconds(s['median_cpu_s'])} | {rss} | "
                      f"{fmt_mb(s['bytes_in'])} → {fmt_mb(s['bytes_out'])} | {ratio} | {fmt_rate(s['mb_per_s'])} | {rows} | "
                      f"{rps} | {fmt_rate(s['jsonl_mb_per_s'])} | {_check(s)} |")
        md.append("")
        md.append("Commands (`D` = a restored copy of the lake):")
        md.append("")
        for v in ("cold", "warm", "zstd19", "zstd3"):
            if v in summary:
                md.append(f"- {summary[v]['label']}: `{summary[v]['command']}`")
        md.append("")
        md.append("after / before = Parquet bytes after / before (zstd / Snappy) for archive, compressed / input "
                  "bytes for the zstd CLI. JSONL MB/s = the raw JSONL bytes behind the lake (`raw_jsonl_bytes` of "
                  "the summary) / median wall for archive, the input file / median wall for the zstd CLI: a "
                  "rough like-for-like speed of compressing the same data at the same level (the Parquet pages "
                  "zstd sees inside archive are smaller than the JSONL: dictionary-encoded, no keys).")
        md.append("")
        notes = []
        co, wa, z19 = summary.get("cold"), summary.get("warm"), summary.get("zstd19")
        if co and co["size_ratio"] is not None:
            derived["cold_zstd19_vs_snappy"] = co["size_ratio"]
            notes.append(f"zstd 19 / Snappy = **{co['size_ratio']:.3f}** "
                         + (f"(zstd 3 / Snappy = {wa['size_ratio']:.3f})" if wa and wa["size_ratio"] is not None else "")
                         + (f"; raw JSONL / lake after cold archive = {co['compression_ratio']:.1f}× "
                            "(`compression_ratio`)" if co.get("compression_ratio") else "") + ".")
        if co and co["median_wall_s"] and ls.get("partitions"):
            per = co["median_wall_s"] / ls["partitions"]
            derived["cold_s_per_partition"] = per
            notes.append(f"cold: {per:.2f} s per partition, so a year (365 partitions of this size) would take "
                         f"about {per * 365 / 60:.1f} min per run.")
            if wa and wa["median_wall_s"]:
                notes.append(f"cold / warm wall = {co['median_wall_s'] / wa['median_wall_s']:.1f}×: the time is "
                             "zstd's level 19, not reading and rewriting.")
        if co and z19 and co["jsonl_mb_per_s"] and z19["jsonl_mb_per_s"]:
            derived["cold_jsonl_rate_vs_zstd_cli"] = co["jsonl_mb_per_s"] / z19["jsonl_mb_per_s"]
            notes.append(f"JSONL MB/s, archive cold / `zstd -19 -T1` = "
                         f"{co['jsonl_mb_per_s'] / z19['jsonl_mb_per_s']:.2f}×.")
        if co and co["peak_rss_mb"] is not None and lg.get("bytes"):
            notes.append(f"peak RSS {co['peak_rss_mb']:.0f} MB (cold), "
                         + (f"{wa['peak_rss_mb']:.0f} MB (warm), " if wa and wa["peak_rss_mb"] is not None else "")
                         + f"against a largest partition of {fmt_mb(lg['bytes'])} MB and a lake of "
                         f"{fmt_mb(ls.get('bytes'))} MB.")
        for n in notes:
            md.append(f"- {n}")
        md.append("")

    text = "\n".join(md)
    Path(a.markdown).write_text(text)
    Path(a.json).write_text(json.dumps({"meta": meta, "data": data, "summary": list(summary.values()),
                                        "derived": derived, "runs": runs}, indent=2, ensure_ascii=False) + "\n")


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "lakestat" and len(rest) == 1:
        print(json.dumps(lakestat(rest[0])))
    elif cmd == "dsinfo":
        ap = argparse.ArgumentParser(prog="maintenance_util.py dsinfo")
        ap.add_argument("data_dir")
        ap.add_argument("--wxlake", required=True)
        ap.add_argument("--params", required=True)
        ap.add_argument("--pieces")
        ap.add_argument("--today")
        dsinfo(ap.parse_args(rest))
    elif cmd == "parquet-rows" and len(rest) == 1:
        print(parquet_rows(rest[0]))
    elif cmd == "runstat":
        ap = argparse.ArgumentParser(prog="maintenance_util.py runstat")
        ap.add_argument("kind", choices=("compact", "query", "archive", "zstd"))
        for opt in ("--summary", "--count", "--expected-count", "--expected-rows", "--lake", "--out", "--in-bytes",
                    "--in-files", "--tier", "--partitions", "--expect-files-after"):
            ap.add_argument(opt)
        runstat(ap.parse_args(rest))
    elif cmd == "report":
        ap = argparse.ArgumentParser(prog="maintenance_util.py report")
        ap.add_argument("tsv")
        for opt in ("--runs", "--wxlake-bin", "--wxlake-sha", "--wxlake-mtime", "--zstd-version", "--load-before",
                    "--time-overhead", "--markdown", "--json"):
            ap.add_argument(opt, required=True)
        ap.add_argument("--month-info")
        ap.add_argument("--year-info")
        cmd_report(ap.parse_args(rest))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
