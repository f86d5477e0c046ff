"""What every peer shares: the command line RAW_DIR OUT_DIR [--incremental], and DuckDB's pieces."""
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


# The columns DuckDB's read_json peers read, with their types.
TEXT = ("from_username", "to_username", "chatroom", "chatroom_sender", "content", "source")
JSON_COLUMNS = "{'msg_id': 'VARCHAR', 'create_time': 'BIGINT', 'msg_type': 'INTEGER', " + ", ".join(
    f"'{c}': 'VARCHAR'" for c in TEXT) + "}"


def sql_str(s: str) -> str:
    """A SQL string literal of `s`."""
    return "'" + s.replace("'", "''") + "'"
