"""What the benchmark reports of benches/*.sh share: the machine and the revision they ran on.

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
