# shellcheck shell=bash
# Source this file, then:  PY="$(wxlake_venv [REPO_ROOT [REQUIREMENTS [MODULES]]])"
#
# wxlake_venv creates (or reuses) a virtualenv holding the packages pinned in
# REPO_ROOT/REQUIREMENTS (default tests/interop/requirements.txt), checks that MODULES
# (default "pyarrow, duckdb") import, and prints its python path on stdout.
# The venv lives at ${WXLAKE_CI_CACHE:-$HOME/.cache/wxlake-ci}/venv-<12 hex of
# sha256(requirements.txt)>, so a changed requirements file gets a fresh venv.
# Packages are installed only when the venv is new or incomplete (no marker file
# from a previous successful install). All progress/errors go to stderr.
# REPO_ROOT defaults to the parent of the directory holding this file.

_WXLAKE_PYENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

wxlake_venv() {
    local root="${1:-$_WXLAKE_PYENV_DIR/..}"
    root="$(cd "$root" && pwd)" || { echo "wxlake_venv: bad repo root: ${1:-}" >&2; return 1; }
    local req="$root/${2:-tests/interop/requirements.txt}"
    local modules="${3:-pyarrow, duckdb}"
    [[ -f "$req" ]] || { echo "wxlake_venv: missing $req" >&2; return 1; }

    local hash
    if command -v sha256sum >/dev/null 2>&1; then
        hash="$(sha256sum "$req" | cut -c1-12)"
    else
        hash="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$req" | cut -c1-12)"
    fi
    [[ "$hash" =~ ^[0-9a-f]{12}$ ]] || { echo "wxlake_venv: cannot hash $req" >&2; return 1; }

    local cache="${WXLAKE_CI_CACHE:-$HOME/.cache/wxlake-ci}"
    local venv="$cache/venv-$hash"
    local py="$venv/bin/python"
    local marker="$venv/.wxlake-installed"

    if [[ -x "$py" && -f "$marker" ]]; then
        printf '%s\n' "$py"
        return 0
    fi

    mkdir -p "$cache" || return 1
    # Incomplete venv (interrupted create/install): start over from scratch.
    rm -rf "$venv"
    echo "wxlake_venv: creating $venv" >&2
    if python3 -m venv "$venv" >&2 2>/dev/null && "$py" -m pip --version >/dev/null 2>&1; then
        "$py" -m pip install --quiet --disable-pip-version-check \
            --no-input -r "$req" >&2 || { echo "wxlake_venv: pip install failed" >&2; return 1; }
    else
        # Debian's python3 without python3-venv has no ensurepip: build the venv
        # without pip and drive the outer pip against it (pip >= 22.3 --python).
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv" >&2 || { echo "wxlake_venv: python3 -m venv failed" >&2; return 1; }
        python3 -m pip --python "$py" install --quiet --disable-pip-version-check \
            --no-input -r "$req" >&2 || { echo "wxlake_venv: pip install failed (no ensurepip in this python3? apt-get install python3-venv)" >&2; return 1; }
    fi
    "$py" -c "import $modules" >&2 || { echo "wxlake_venv: import check failed" >&2; return 1; }
    touch "$marker"
    printf '%s\n' "$py"
}
