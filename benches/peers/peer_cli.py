"""The command line every peer shares: RAW_DIR OUT_DIR [--incremental]."""
import sys
from pathlib import Path


def parse(argv, doc):
    """Return (raw files in name order, OUT_DIR, incremental); exit 64 with the usage on bad input."""
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    if len(args) != 2 or not flags <= {"--incremental"}:
        print(doc.split("\n\n")[1], file=sys.stderr)
        sys.exit(64)
    raw_dir, out = Path(args[0]), Path(args[1])
    files = sorted(raw_dir.glob("*.jsonl"), key=lambda p: p.name)
    if not files:
        print(f"no *.jsonl in {raw_dir}", file=sys.stderr)
        sys.exit(64)
    return files, out, "--incremental" in flags
