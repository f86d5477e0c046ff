#!/usr/bin/env python3
"""Helpers of benches/query_compare.sh (not a peer).

  query_util.py picks LAKE_DIR OUT_JSON --params P --day D --month-start D --month-end D --week-end D
        choose the chatroom of query (a) and the sender of query (c) from the lake
        (with DuckDB) and write the three query files' contents plus the expected
        row counts to OUT_JSON
  query_util.py specs PICKS_JSON OUT_DIR
        write OUT_DIR/query-{a,b,c}.json (the peers' QUERY_JSON) from PICKS_JSON
  query_util.py csvstat CSV
        one JSON line about a CSV result: rows (header excluded), its header, a
        hash of the msg_id column in order and one hash per column, all from the
        parsed fields (so quoting style does not matter)
  query_util.py report TSV [options]
        the markdown table and the JSON results
"""
import argparse
import csv
import datetime as dt
import hashlib
import json
from datetime import datetime
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import query_spec  # noqa: E402
from report_common import cpu_model, fmt_seconds, git  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("wxlake", "duckdbcli", "duckdbpy", "polars", "pyarrow")
LABEL = {"wxlake": "wxlake", "duckdbcli": "DuckDB CLI", "duckdbpy": "DuckDB (Python)", "polars": "Polars",
         "pyarrow": "pyarrow"}
QUERIES = ("a", "b", "c")
# wxlake median wall / DuckDB CLI median wall must be at most this; (b) also has a memory bound.
TARGET_RATIO = {"a": 0.2, "b": 0.5, "c": 0.5}
TARGET_RSS_MB = {"b": 100}
REFERENCE = "duckdbcli"
WHAT = {"a": "one day, one chatroom, CSV on stdout", "b": "one month, everything, CSV to a file (`--output`)",
        "c": "seven days, one sender, CSV on stdout"}


# ---------------------------------------------------------------- picks


def cmd_picks(a):
    import duckdb

    lake = Path(a.lake)
    src = query_spec.duckdb_source(lake)
    con = duckdb.connect()
    day = dt.date.fromisoformat(a.day)
    week_end = dt.date.fromisoformat(a.week_end)

    def where(start, end):
        return query_spec.duckdb_where(query_spec.load_obj({"start": start.isoformat(), "end": end.isoformat()}))

    # (a) the chatroom with the most rows on the day (not empty: private chats have "").
    row = con.execute(f"""
        SELECT chatroom, count(*) AS n FROM {src}
        WHERE {where(day, day)} AND chatroom IS NOT NULL AND chatroom <> ''
        GROUP BY chatroom ORDER BY n DESC, chatroom LIMIT 1""").fetchone()
    if row is None:
        raise SystemExit(f"picks: no chatroom rows on {day} in {lake}")
    chatroom = row[0]
    # (c) the person (a from_username or chatroom_sender that is not a chatroom id)
    # with the most rows matching from_username = u OR chatroom_sender = u that week.
    row = con.execute(f"""
        SELECT u, count(*) AS n FROM (
            SELECT unnest(list_distinct([from_username, chatroom_sender])) AS u FROM {src}
            WHERE {where(day, week_end)})
        WHERE u IS NOT NULL AND u <> '' AND u NOT LIKE '%@chatroom'
        GROUP BY u ORDER BY n DESC, u LIMIT 1""").fetchone()
    if row is None:
        raise SystemExit(f"picks: no sender between {day} and {week_end} in {lake}")
    sender = row[0]
    queries = {
        "a": {"name": "a", "start": day.isoformat(), "end": day.isoformat(), "chatroom": chatroom, "sender": None},
        "b": {"name": "b", "start": a.month_start, "end": a.month_end, "chatroom": None, "sender": None},
        "c": {"name": "c", "start": day.isoformat(), "end": week_end.isoformat(), "chatroom": None,
              "sender": sender},
    }
    expected = {}
    for name, spec in queries.items():
        sql = query_spec.duckdb_sql(lake, query_spec.load_obj(dict(spec)))
        expected[name] = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
    out = {"params": a.params, "lake": str(lake), "day": day.isoformat(), "chatroom": chatroom, "sender": sender,
           "queries": queries, "expected_rows": expected,
           "rule": "chatroom: most rows on the day, not ''; sender: most rows with from_username = u OR "
                   "chatroom_sender = u in the week, u not '' and not *@chatroom; ties: smallest name"}
    Path(a.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


def cmd_specs(picks, out_dir):
    p = json.loads(Path(picks).read_text())
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for name, spec in p["queries"].items():
        Path(out_dir, f"query-{name}.json").write_text(json.dumps(spec, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- csvstat


def cmd_csvstat(path):
    csv.field_size_limit(sys.maxsize)
    out = {"rows": None, "header": None, "ids": None, "cols": {}, "problems": []}
    p = Path(path)
    if not p.is_file():
        out["problems"].append("no output file")
        print(json.dumps(out))
        return
    with open(p, newline="", encoding="utf-8", errors="surrogateescape") as f:
        reader = csv.reader(f)
        first = next(reader, None)
        if first is None:
            out.update(rows=0)
            out["problems"].append("empty output (no header)")
            print(json.dumps(out))
            return
        if "msg_id" in first:
            header, rows = first, 0
        else:
            header, rows = [f"column{i + 1}" for i in range(len(first))], 1
            out["problems"].append("no header line")
        hashes = [hashlib.sha256() for _ in header]
        time_col = header.index("create_time") if "create_time" in header else None

        def norm(rec):
            # wxlake prints create_time as a local date-time with its offset, the SQL peers as
            # unix seconds: compare the instants.
            if time_col is not None and time_col < len(rec) and "T" in rec[time_col]:
                rec = list(rec)
                rec[time_col] = str(int(datetime.fromisoformat(rec[time_col]).timestamp()))
            return rec

        if rows:
            for h, v in zip(hashes, norm(first)):
                h.update(v.encode("utf-8", "surrogateescape") + b"\x1e")
        width_errors = 0
        for rec in reader:
            rows += 1
            if len(rec) != len(header):
                width_errors += 1
            for h, v in zip(hashes, norm(rec)):
                h.update(v.encode("utf-8", "surrogateescape") + b"\x1e")
        if width_errors:
            out["problems"].append(f"{width_errors} row(s) with a field count other than the header's")
    out.update(rows=rows, header=header, cols={n: h.hexdigest()[:16] for n, h in zip(header, hashes)})
    id_col = "msg_id" if "msg_id" in header else header[0]
    out["ids"] = out["cols"][id_col]
    print(json.dumps(out))


# ---------------------------------------------------------------- report


def _summarize(runs, picks):
    summary = []
    for q in QUERIES:
        tools = [t for t in TOOLS if any(r["query"] == q and r["tool"] == t for r in runs)]
        if not tools:
            continue
        per = {}
        for tool in tools:
            rs = [r for r in runs if r["query"] == q and r["tool"] == tool]
            ok = [r for r in rs if r["exit"] == 0 and r["wall_s"] is not None]
            walls = [r["wall_s"] for r in ok]
            last_ok = ok[-1]["out"] if ok else {}
            problems = []
            failed = [r for r in rs if r["exit"] != 0]
            if failed:
                f = failed[0]
                err = f["out"].get("error")
                problems.append(f"FAILED: exit {f['exit']} in {len(failed)} of {len(rs)} run(s)"
                                + (f" ({err})" if err else ""))
            for r in ok:
                for prob in r["out"].get("problems", []):
                    if prob not in problems:
                        problems.append(prob)
            if len({(r["out"].get("rows"), r["out"].get("ids")) for r in ok}) > 1:
                problems.append("output differs between runs: rows "
                                + ", ".join(str(r["out"].get("rows")) for r in ok))
            per[tool] = {
                "query": q, "tool": tool, "runs": len(rs), "ok_runs": len(ok),
                "median_wall_s": statistics.median(walls) if walls else None,
                "median_time_e_s": statistics.median(r["time_e_s"] for r in ok) if ok else None,
                "min_wall_s": min(walls) if walls else None, "max_wall_s": max(walls) if walls else None,
                "peak_rss_mb": max(r["max_rss_kb"] for r in ok) / 1024 if ok else None,
                "rows": last_ok.get("rows"), "ids": last_ok.get("ids"), "cols": last_ok.get("cols", {}),
                "header": last_ok.get("header"), "problems": problems, "reference": False,
            }
        # The reference output: the DuckDB CLI's when it ran, else the first tool that did.
        ref = per.get(REFERENCE) if per.get(REFERENCE, {}).get("rows") is not None else None
        if ref is None:
            ref = next((s for s in per.values() if s["rows"] is not None), None)
        exp = picks.get("expected_rows", {}).get(q)
        if ref is not None:
            ref["reference"] = True
            if exp is not None and ref["rows"] != exp:
                ref["problems"].append(f"ROW COUNT MISMATCH: {ref['rows']:,} rows, DuckDB count(*) says {exp:,}")
        base = per.get(REFERENCE, {}).get("median_wall_s")
        for s in per.values():
            m = s["median_wall_s"]
            s["wall_vs_duckdbcli"] = m / base if m is not None and base else None
            if ref is None or s is ref or s["rows"] is None:
                continue
            if s["rows"] != ref["rows"]:
                s["problems"].append(f"ROW COUNT MISMATCH: {s['rows']:,} rows, {LABEL[ref['tool']]} has {ref['rows']:,}")
            elif s["ids"] != ref["ids"]:
                s["problems"].append(f"msg_id sequence differs from {LABEL[ref['tool']]} (other rows or order)")
            else:
                diff = [c for c in ref["cols"] if c in s["cols"] and s["cols"][c] != ref["cols"][c]]
                if diff:
                    s["problems"].append(f"values differ from {LABEL[ref['tool']]} in: {', '.join(diff)}")
            missing = [c for c in ref["cols"] if c not in s["cols"]]
            extra = [c for c in s["cols"] if c not in ref["cols"]]
            if missing or extra:
                s["problems"].append("columns differ: " + "; ".join(
                    x for x in (f"missing {', '.join(missing)}" if missing else "",
                                f"extra {', '.join(extra)}" if extra else "") if x))
        summary.extend(per.values())
    return summary


def _targets(summary):
    lines = []
    for q in QUERIES:
        wx = next((s for s in summary if s["query"] == q and s["tool"] == "wxlake"), None)
        dk = next((s for s in summary if s["query"] == q and s["tool"] == REFERENCE), None)
        if wx is None and dk is None:
            continue
        t = {"query": q, "target_ratio": TARGET_RATIO[q], "target_rss_mb": TARGET_RSS_MB.get(q),
             "wxlake_s": wx and wx["median_wall_s"], "duckdbcli_s": dk and dk["median_wall_s"],
             "wxlake_rss_mb": wx and wx["peak_rss_mb"], "ratio": None, "met": None, "why": ""}
        if wx is None or wx["median_wall_s"] is None:
            t["why"] = "wxlake not run" if wx is None else "wxlake failed"
        elif dk is None or dk["median_wall_s"] is None:
            t["why"] = "DuckDB CLI not run" if dk is None else "DuckDB CLI failed"
        else:
            t["ratio"] = wx["median_wall_s"] / dk["median_wall_s"]
            met = t["ratio"] <= t["target_ratio"]
            if t["target_rss_mb"] is not None:
                met = met and wx["peak_rss_mb"] < t["target_rss_mb"]
            if wx["problems"]:
                t["why"] = "output problems"
                met = False
            t["met"] = met
        lines.append(t)
    return lines


def cmd_report(a):
    runs = []
    for line in Path(a.tsv).read_text().splitlines():
        if not line.strip():
            continue
        q, tool, run, hr, wall, rss, rc, load, out = line.split("\t", 8)
        try:
            wall_s, time_e_s = float(hr), float(wall)
        except ValueError:
            wall_s = time_e_s = None
        runs.append({"query": q, "tool": tool, "run": int(run), "wall_s": wall_s, "time_e_s": time_e_s,
                     "max_rss_kb": int(rss) if rss.isdigit() else None, "exit": int(rc),
                     "loadavg_1m_after": float(load), "out": json.loads(out)})
    picks = json.loads(Path(a.picks).read_text())
    summary = _summarize(runs, picks)
    targets = _targets(summary)

    versions = {}
    for pkg in ("duckdb", "duckdb-cli", "polars", "pyarrow"):
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
        "duckdb_cli_bin": a.duckdb_cli, "duckdb_cli_version": a.duckdb_cli_version,
        "runs": int(a.runs), "tools": a.tools.split(), "python": platform.python_version(),
        "versions": versions, "data": a.data, "data_params": picks.get("params"), "lake_bytes": int(a.lake_bytes),
        "lake_files": int(a.lake_files), "time_overhead_s": float(a.time_overhead),
        "timing": "wall: bash $EPOCHREALTIME around `/usr/bin/time -f '%e %M' CMD` (s; %e, 10 ms resolution, is "
                  "kept as time_e_s); max RSS: %M (KB) of the process; warm page cache",
    }
    qs = picks["queries"]

    md = ["# wxlake query vs peers", ""]
    md.append(f"{meta['date']} · {meta['cpu']} · {meta['cores']} cores · wxlake `{meta['wxlake_bin']}` "
              f"(built {meta['wxlake_bin_mtime']}, sha256 {meta['wxlake_sha256_16']}…, repo {meta['git']}) · "
              f"RUNS={a.runs} · DuckDB CLI {a.duckdb_cli_version} · "
              + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "duckdb-cli")
              + f" · Python {meta['python']}")
    md.append("")
    gen = picks.get("params", "").split(" | ")[0]
    md.append(f"Lake: `generate {gen}`, ingested by wxlake: {meta['lake_files']:,} Parquet files, "
              f"{meta['lake_bytes'] / 1e6:.0f} MB. Queries (results ordered by create_time, msg_id; CSV with a "
              "header):")
    md.append("")
    for q in QUERIES:
        s = qs[q]
        what = [f"{s['start']}" + (f"..{s['end']}" if s["end"] != s["start"] else "")]
        if s.get("chatroom") is not None:
            what.append(f"chatroom = `{s['chatroom']}`")
        if s.get("sender") is not None:
            what.append(f"sender = `{s['sender']}` (from_username or chatroom_sender)")
        exp = picks.get("expected_rows", {}).get(q)
        md.append(f"- **({q})** {WHAT[q]}: " + ", ".join(what)
                  + (f" — {exp:,} rows" if exp is not None else ""))
    md.append("")
    md.append(f"Wall = median over the runs of whole-process wall time, taken with bash's `$EPOCHREALTIME` around "
              f"`/usr/bin/time` (whose `%e` has a 10 ms resolution; it is in the JSON as `time_e_s`), so it includes "
              f"forking `/usr/bin/time`: `/usr/bin/time true` takes {float(a.time_overhead) * 1000:.1f} ms. "
              "Peak RSS = the largest max RSS of any run; vs DuckDB CLI = tool's median / the DuckDB CLI's "
              "(< 1: faster). Rows = CSV records of the last run, header excluded; check = same rows, msg_id "
              "order and field values as the reference (the DuckDB CLI's output), compared on the parsed CSV "
              "(a null and an empty string are the same there).")
    md.append("")
    md.append("| query | tool | median wall s | min–max s | peak RSS MB | vs DuckDB CLI | rows | check |")
    md.append("|---|---|---:|---:|---:|---:|---:|---|")
    for s in summary:
        rng = "—" if s["min_wall_s"] is None else f"{fmt_seconds(s['min_wall_s'])}–{fmt_seconds(s['max_wall_s'])}"
        rss = "—" if s["peak_rss_mb"] is None else f"{s['peak_rss_mb']:.0f}"
        rows = "—" if s["rows"] is None else f"{s['rows']:,}"
        ratio = "—" if s["wall_vs_duckdbcli"] is None else f"{s['wall_vs_duckdbcli']:.2f}×"
        if s["problems"]:
            check = "**" + "; ".join(p.replace("|", "\\|") for p in s["problems"]) + "**"
        else:
            check = "ok (reference)" if s["reference"] else "ok"
        md.append(f"| ({s['query']}) | {LABEL[s['tool']]} | {fmt_seconds(s['median_wall_s'])} | {rng} | {rss} | "
                  f"{ratio} | {rows} | {check} |")
    md.append("")
    if targets:
        md.append("Targets, wxlake against the DuckDB CLI (median wall; (b) also peak RSS):")
        md.append("")
        md.append("| query | wxlake s | DuckDB CLI s | wxlake / DuckDB CLI | target | wxlake peak RSS MB | met |")
        md.append("|---|---:|---:|---:|---|---:|---|")
        for t in targets:
            goal = f"≤ {t['target_ratio']:.2f}" + (f", RSS < {t['target_rss_mb']} MB" if t["target_rss_mb"] else "")
            ratio = "—" if t["ratio"] is None else f"**{t['ratio']:.2f}**"
            rss = "—" if t["wxlake_rss_mb"] is None else f"{t['wxlake_rss_mb']:.0f}"
            met = "—" if t["met"] is None else ("✓" if t["met"] else "✗")
            if t["why"]:
                met += f" ({t['why']})"
            md.append(f"| ({t['query']}) | {fmt_seconds(t['wxlake_s'])} | {fmt_seconds(t['duckdbcli_s'])} | {ratio} | {goal} | "
                      f"{rss} | {met} |")
        md.append("")
    text = "\n".join(md)
    Path(a.markdown).write_text(text)
    Path(a.json).write_text(json.dumps({"meta": meta, "picks": picks, "summary": summary, "targets": targets,
                                        "runs": runs}, indent=2, ensure_ascii=False) + "\n")


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "picks":
        ap = argparse.ArgumentParser(prog="query_util.py picks")
        ap.add_argument("lake")
        ap.add_argument("out")
        for opt in ("--params", "--day", "--month-start", "--month-end", "--week-end"):
            ap.add_argument(opt, required=True)
        cmd_picks(ap.parse_args(rest))
    elif cmd == "specs" and len(rest) == 2:
        cmd_specs(*rest)
    elif cmd == "csvstat" and len(rest) == 1:
        cmd_csvstat(rest[0])
    elif cmd == "report":
        ap = argparse.ArgumentParser(prog="query_util.py report")
        ap.add_argument("tsv")
        for opt in ("--picks", "--runs", "--tools", "--wxlake-bin", "--wxlake-sha", "--wxlake-mtime", "--duckdb-cli",
                    "--duckdb-cli-version", "--data", "--lake-bytes", "--lake-files", "--time-overhead", "--markdown",
                    "--json"):
            ap.add_argument(opt, required=True)
        cmd_report(ap.parse_args(rest))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
