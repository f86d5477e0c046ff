#!/usr/bin/env python3
"""Helpers of benches/compare.sh (not a peer).

  bench_util.py expected FILE...      rows the wxlake contract keeps from these raw
                                      files, in this order (the independent oracle
                                      of tests/interop/check_lake.py)
  bench_util.py stats LAKE            one JSON line about a lake directory, read
                                      with DuckDB: rows, distinct msg_ids, files,
                                      partitions, bytes, layout problems
  bench_util.py report TSV [options]  the markdown table and the JSON results
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
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_common import cpu_model, fmt_ratio, fmt_seconds, git  # noqa: E402

TZ = "Asia/Shanghai"
REPO = Path(__file__).resolve().parents[2]
FILE_PATH = re.compile(r"year=\d{4}/month=\d{2}/day=\d{2}/[^/]+\.parquet")
PARTS = ("year", "month", "day")
TOOLS = ("wxlake", "duckdbfast", "duckdbjson", "duckdb", "pyarrow", "polars")
LABEL = {"wxlake": "wxlake", "duckdbfast": "DuckDB (fast)", "duckdbjson": "DuckDB read_json", "duckdb": "DuckDB (faithful)", "pyarrow": "pyarrow", "polars": "Polars"}


# ---------------------------------------------------------------- expected


def cmd_expected(files):
    sys.path.insert(0, str(REPO / "tests" / "interop"))
    import check_lake  # noqa: E402 - the oracle's own line rules

    tz = ZoneInfo(TZ)
    seen = set()
    for path in files:
        data = Path(path).read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for raw in lines:
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw.decode("utf-8", "replace").strip():
                continue
            try:
                mid, _ = check_lake.parse_line(raw, tz)
            except check_lake.Reject:
                continue
            seen.add(mid)
    print(len(seen))


# ---------------------------------------------------------------- stats


def cmd_stats(lake):
    import duckdb
    import pyarrow.parquet as pq

    lake = Path(lake)
    files = sorted(p for p in lake.rglob("*") if p.is_file()) if lake.is_dir() else []
    out = {"rows": None, "distinct_ids": None, "files": 0, "partitions": 0, "bytes": 0, "problems": []}
    pq_files = []
    for p in files:
        rel = p.relative_to(lake).as_posix()
        out["bytes"] += p.stat().st_size
        if not FILE_PATH.fullmatch(rel):
            out["problems"].append(f"not year=YYYY/month=MM/day=DD/*.parquet: {rel}")
            continue
        pq_files.append(p)
    out["files"] = len(pq_files)
    out["partitions"] = len({p.parent for p in pq_files})
    if not pq_files:
        out["problems"].append("no parquet files")
        print(json.dumps(out))
        return
    inside = set()
    for p in pq_files:
        inside |= set(pq.read_schema(p).names) & set(PARTS)
    if inside:
        out["problems"].append(f"partition columns inside the files: {sorted(inside)}")
    glob = str(lake / "**" / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    rows, distinct, misplaced = con.execute(f"""
        SELECT count(*), count(DISTINCT msg_id),
               count(*) FILTER (WHERE strftime(timezone('{TZ}', to_timestamp(create_time)), '%Y-%m-%d')
                                      <> printf('%04d-%02d-%02d', year::INT, month::INT, day::INT))
        FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true)
    """).fetchone()
    out.update(rows=rows, distinct_ids=distinct)
    if distinct != rows:
        out["problems"].append(f"{rows - distinct} duplicate msg_id row(s)")
    if misplaced:
        out["problems"].append(f"{misplaced} row(s) in a partition other than their local date")
    print(json.dumps(out))


# ---------------------------------------------------------------- report


def _du(path):
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(root, n)).st_size
            except OSError:
                pass
    return total


def _paired_ratios(runs, workload, peer):
    """wxlake's wall / the peer's in each round (same run number): the tools take turns, so a
    drift of the machine's speed between rounds cancels out of these."""
    def walls(tool):
        return {r["run"]: r["wall_s"] for r in runs
                if r["workload"] == workload and r["tool"] == tool and r["exit"] == 0 and r["wall_s"]}
    wx, peer_walls = walls("wxlake"), walls(peer)
    return [wx[k] / peer_walls[k] for k in sorted(wx) if k in peer_walls]


def cmd_report(a):
    runs = []
    for line in Path(a.tsv).read_text().splitlines():
        if not line.strip():
            continue
        w, tool, run, wall, rss, rc, load, stats = line.split("\t", 7)
        try:
            wall_s = float(wall)
        except ValueError:
            wall_s = None
        runs.append({
            "workload": w, "tool": tool, "run": int(run), "wall_s": wall_s,
            "max_rss_kb": int(rss) if rss.isdigit() else None,
            "exit": int(rc), "loadavg_1m_after": float(load), "lake": json.loads(stats),
        })
    expected = {}
    for line in Path(a.expected).read_text().splitlines():
        w, _, n = line.partition("\t")
        expected[w] = int(n) if n.strip() else None

    order = [w for w in ("big60", "oneday", "short1m", "twoyear") if any(r["workload"] == w for r in runs)]
    summary = []
    for w in order:
        medians = {}
        for tool in [t for t in TOOLS if any(r["workload"] == w and r["tool"] == t for r in runs)]:
            rs = [r for r in runs if r["workload"] == w and r["tool"] == tool]
            ok = [r for r in rs if r["exit"] == 0 and r["wall_s"] is not None]
            walls = [r["wall_s"] for r in ok]
            last = rs[-1]["lake"]
            counts = {r["lake"].get("rows") for r in ok}
            problems = list(last.get("problems", []))
            if len(counts) > 1:
                problems.append(f"row counts differ between runs: {sorted(counts)}")
            if len(ok) < len(rs):
                problems.append(f"{len(rs) - len(ok)} run(s) failed")
            exp = expected.get(w)
            if exp is not None and last.get("rows") is not None and last["rows"] != exp:
                problems.append(f"{last['rows']} rows, expected {exp}")
            s = {
                "workload": w, "tool": tool, "runs": len(rs), "ok_runs": len(ok),
                "median_wall_s": statistics.median(walls) if walls else None,
                "min_wall_s": min(walls) if walls else None,
                "max_wall_s": max(walls) if walls else None,
                "peak_rss_mb": max(r["max_rss_kb"] for r in ok) / 1024 if ok else None,
                "rows": last.get("rows"), "expected_rows": exp,
                "files": last.get("files"), "partitions": last.get("partitions"),
                "lake_mb": last.get("bytes", 0) / 1e6, "problems": problems,
            }
            medians[tool] = s["median_wall_s"]
            summary.append(s)
        base = medians.get("wxlake")
        for s in summary:
            if s["workload"] == w:
                m = s["median_wall_s"]
                s["wall_vs_wxlake"] = m / base if m is not None and base else None

    data_sizes = {}
    for name in ("big60", "day61", "short1m", "twoyear"):
        p = Path(a.data) / name / "messages" / "raw"
        if p.is_dir():
            data_sizes[name] = _du(p)
    versions = {}
    for pkg in ("pyarrow", "duckdb", "polars"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    rev = git("rev-parse", "--short", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpu": cpu_model(), "cores": os.cpu_count(),
        "git": f"{rev}{'+dirty' if dirty else ''}" if rev else None,
        "wxlake_bin": a.wxlake_bin, "wxlake_bin_mtime": a.wxlake_mtime, "wxlake_sha256_16": a.wxlake_sha,
        "runs": a.runs, "tools": a.tools.split(), "python": platform.python_version(),
        "versions": versions, "raw_bytes": data_sizes,
        "timing": "/usr/bin/time -f '%e %M' (wall s, max RSS KB of the process); warm page cache",
    }

    md = ["# wxlake ingest vs peers", ""]
    md.append(f"{meta['date']} · {meta['cpu']} · {meta['cores']} cores · wxlake `{meta['wxlake_bin']}` "
              f"(built {meta['wxlake_bin_mtime']}, sha256 {meta['wxlake_sha256_16']}…, repo {meta['git']}) · RUNS={a.runs} · "
              + ", ".join(f"{k} {v}" for k, v in versions.items()) + f" · Python {meta['python']}")
    md.append("")
    md.append("Wall = median over the runs of whole-process wall time; peak RSS = the largest max RSS "
              "of any run; ratio = tool's median wall / wxlake's (> 1: slower than wxlake). "
              "Rows = rows in the lake after the last run, counted with DuckDB; expected = unique "
              "valid msg_ids by the tests/interop/check_lake.py contract.")
    md.append("")
    md.append("| workload | tool | median wall s | min–max s | peak RSS MB | wall vs wxlake | rows | expected | files | lake MB | check |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in summary:
        rng = "—" if s["min_wall_s"] is None else f"{fmt_seconds(s['min_wall_s'])}–{fmt_seconds(s['max_wall_s'])}"
        rss = "—" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:.0f}"
        rows = "—" if s["rows"] is None else f"{s['rows']:,}"
        exp = "—" if s["expected_rows"] is None else f"{s['expected_rows']:,}"
        check = "ok" if not s["problems"] else "**" + "; ".join(s["problems"]) + "**"
        md.append(f"| {s['workload']} | {LABEL[s['tool']]} | {fmt_seconds(s['median_wall_s'])} | {rng} | {rss} | "
                  f"{fmt_ratio(s['wall_vs_wxlake'])} | {rows} | {exp} | {s['files']} | {s['lake_mb']:.0f} | {check} |")
    md.append("")
    lines = []
    for w in order:
        wx = next((s for s in summary if s["workload"] == w and s["tool"] == "wxlake"), None)
        for peer in ("duckdbfast", "duckdbjson", "duckdb"):
            dk = next((s for s in summary if s["workload"] == w and s["tool"] == peer), None)
            if wx and dk and wx["median_wall_s"] and dk["median_wall_s"]:
                r = wx["median_wall_s"] / dk["median_wall_s"]
                verdict = f"wxlake {1 / r:.2f}× faster" if r < 1 else f"wxlake {r:.2f}× slower"
                rss = ""
                if wx["peak_rss_mb"] and dk["peak_rss_mb"]:
                    rss = f"; peak RSS wxlake/{LABEL[peer]} = {wx['peak_rss_mb'] / dk['peak_rss_mb']:.2f}"
                paired = _paired_ratios(runs, w, peer)
                rounds = ""
                if paired:
                    rounds = (f"; per round {', '.join(f'{x:.2f}' for x in paired)} "
                              f"(median {statistics.median(paired):.2f}, max {max(paired):.2f})")
                    wx["paired_ratios_vs_" + peer] = paired
                lines.append(f"- **{w}**: wxlake/{LABEL[peer]} wall = **{r:.2f}** ({verdict}){rss}{rounds}")
    if lines:
        md.append("wxlake / DuckDB (median wall time; < 1 means wxlake is faster):")
        md.append("")
        md.extend(lines)
        md.append("")
    sizes = ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in data_sizes.items())
    if sizes:
        md.append(f"Raw input: {sizes}.")
        md.append("")
    text = "\n".join(md)
    Path(a.markdown).write_text(text)
    Path(a.json).write_text(json.dumps({"meta": meta, "expected_rows": expected, "summary": summary,
                                        "runs": runs}, indent=2) + "\n")


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "expected":
        cmd_expected(rest)
    elif cmd == "stats" and len(rest) == 1:
        cmd_stats(rest[0])
    elif cmd == "report":
        ap = argparse.ArgumentParser(prog="bench_util.py report")
        ap.add_argument("tsv")
        for opt in ("--runs", "--tools", "--wxlake-bin", "--wxlake-sha", "--wxlake-mtime", "--repo", "--bench-dir", "--expected",
                    "--data", "--markdown", "--json"):
            ap.add_argument(opt, required=True)
        cmd_report(ap.parse_args(rest))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
