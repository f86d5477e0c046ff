#!/usr/bin/env python3
"""Run every code snippet of the README, so that none of them rots.

Usage: check_snippets.py README WXLAKE_BIN DATA_DIR

Fenced blocks tagged `sh`, `python` or `sql` are run, in README order, in a scratch
directory where `data` is a symlink to DATA_DIR (a lake made from the bundled sample by the
quick start) and `wxlake` on PATH is WXLAKE_BIN:
  sh      bash -euo pipefail, each block on its own
  python  the interpreter running this script (the CI venv: pyarrow, duckdb, polars)
  sql     DuckDB (the Python package), statement by statement
Blocks tagged `text`, `console`, `ini` or untagged are documentation and are not run.
A python block whose first line is `# needs: pyspark` runs with the interpreter in
$SPARK_PYTHON (a venv with PySpark; Java must be installed); without it, it fails.
A block whose first line is `# not run: REASON` is skipped and reported. Exit 1 if any
block fails (its output is shown), 0 otherwise.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

RUN = {"sh", "python", "sql"}


def blocks(text):
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        line = text.count("\n", 0, m.start()) + 1
        yield m.group(1), m.group(2), line


def main():
    readme, wxlake, data = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), Path(sys.argv[3]).resolve()
    scratch = Path(tempfile.mkdtemp(prefix="wxlake-readme-"))
    (scratch / "data").symlink_to(data)
    bindir = scratch / "bin"
    bindir.mkdir()
    (bindir / "wxlake").symlink_to(wxlake)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    for k in [k for k in env if k.startswith("WXLAKE_")]:
        del env[k]
    ran = failed = skipped = 0
    for lang, code, line in blocks(readme.read_text()):
        if lang not in RUN:
            continue
        if code.startswith("# not run:"):
            skipped += 1
            print(f"README:{line} {lang}: skipped ({code.splitlines()[0][10:].strip()})")
            continue
        if lang == "sh":
            cmd = ["bash", "-euo", "pipefail", "-c", code]
        elif lang == "python" and code.startswith("# needs: pyspark"):
            spark = os.environ.get("SPARK_PYTHON")
            if not spark:
                print(f"README:{line} python: FAILED (needs SPARK_PYTHON, a python with PySpark)")
                failed += 1
                continue
            cmd = [spark, "-c", code]
        elif lang == "python":
            cmd = [sys.executable, "-c", code]
        else:
            runner = ("import duckdb, sys\n"
                      "for stmt in [s for s in sys.argv[1].split(';') if s.strip()]:\n"
                      "    print(duckdb.sql(stmt).fetchall())\n")
            cmd = [sys.executable, "-c", runner, code]
        out = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, text=True, timeout=600)
        ran += 1
        status = "ok" if out.returncode == 0 else f"FAILED (exit {out.returncode})"
        print(f"README:{line} {lang}: {status}")
        if out.returncode != 0:
            failed += 1
            print("  code:\n    " + code.replace("\n", "\n    "))
            print("  stdout:\n    " + out.stdout[-2000:].replace("\n", "\n    "))
            print("  stderr:\n    " + out.stderr[-2000:].replace("\n", "\n    "))
    print(f"{ran} snippets run, {failed} failed, {skipped} skipped")
    return 1 if failed or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
