"""What the benchmark reports of benches/*.sh share: the machine and the revision they ran on,
and how numbers are printed in their tables.

Standard library only, so every helper script can import it from any Python.
"""
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def git(*args):
    """`git -C REPO ARGS` output, or None when git or the repository is missing."""
    try:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_seconds(x):
    """Seconds for a table: 3 decimals under 1 s, 2 under 100 s, none above; — for missing."""
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def fmt_ratio(x):
    """A ratio against a peer (`0.42×`); — for missing."""
    return "—" if x is None else f"{x:.2f}×"


def fmt_mb(x):
    """Bytes as MB with a precision that fits their size; — for missing."""
    if x is None:
        return "—"
    return f"{x / 1e6:.2f}" if x < 1e7 else f"{x / 1e6:.1f}" if x < 1e8 else f"{x / 1e6:.0f}"


def fmt_rate(x):
    """A throughput (MB/s, rows/s); — for missing."""
    if x is None:
        return "—"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:,.0f}"
