# shellcheck shell=bash
# Helpers shared by the benchmark harnesses (benches/compare.sh, benches/query_compare.sh,
# benches/maintenance.sh). Source it; it defines functions only and changes no shell option.
#
#   ensure_bin        build a default binary with cargo when it is missing (uses the caller's
#                     REPO, log and die)
#   bench_venv        create (or reuse) the peers' Python venv, print its python
#   bench_duckdb_cli  print the DuckDB CLI binary of that venv (package duckdb-cli)

BENCH_LIB_PEERS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/peers"

# bench_venv: create (or reuse) a venv with benches/peers/requirements.txt and
# print its python. Same approach as .ci/python-env.sh (whose venv has only
# pyarrow + duckdb): cached under $WXLAKE_BENCH_CACHE/venv-<12 hex of
# sha256(requirements)>, reused only when the marker of a complete install is
# there; a changed requirements file gets a fresh venv.
bench_venv() {
    local req="$BENCH_LIB_PEERS/requirements.txt"
    [[ -f "$req" ]] || { echo "bench_venv: missing $req" >&2; return 1; }
    local hash
    hash="$(sha256sum "$req" | cut -c1-12)"
    [[ "$hash" =~ ^[0-9a-f]{12}$ ]] || { echo "bench_venv: cannot hash $req" >&2; return 1; }
    local cache="${WXLAKE_BENCH_CACHE:-$HOME/.cache/wxlake-bench}"
    local venv="$cache/venv-$hash"
    local py="$venv/bin/python"
    local marker="$venv/.wxlake-bench-installed"
    if [[ -x "$py" && -f "$marker" ]]; then
        printf '%s\n' "$py"
        return 0
    fi
    mkdir -p "$cache" || return 1
    rm -rf "$venv"   # incomplete (interrupted) venv: start over
    echo "bench_venv: creating $venv" >&2
    if python3 -m venv "$venv" >&2 2>/dev/null && "$py" -m pip --version >/dev/null 2>&1; then
        "$py" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" >&2 \
            || { echo "bench_venv: pip install failed" >&2; return 1; }
    else
        # python3 without ensurepip (Debian without python3-venv): drive the outer pip.
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv" >&2 || { echo "bench_venv: python3 -m venv failed" >&2; return 1; }
        python3 -m pip --python "$py" install --quiet --disable-pip-version-check --no-input -r "$req" >&2 \
            || { echo "bench_venv: pip install failed" >&2; return 1; }
    fi
    "$py" -c 'import pyarrow, duckdb, polars, duckdb_cli' >&2 || { echo "bench_venv: import check failed" >&2; return 1; }
    touch "$marker"
    printf '%s\n' "$py"
}

# bench_duckdb_cli PY: the native DuckDB CLI shipped by the duckdb-cli package in
# the venv of PY. Not the venv's bin/duckdb, which is a Python wrapper (it would
# add Python's start-up to every timed run) that execs this binary.
bench_duckdb_cli() {
    local py="$1" exe
    exe="$("$py" -c 'import duckdb_cli, os; print(os.path.join(os.path.dirname(os.path.abspath(duckdb_cli.__file__)), "duckdb"))')" \
        || { echo "bench_duckdb_cli: duckdb_cli is not installed in the venv of $py" >&2; return 1; }
    [[ -x "$exe" ]] || { echo "bench_duckdb_cli: $exe is missing or not executable" >&2; return 1; }
    printf '%s\n' "$exe"
}

# ensure_bin PATH DEFAULT CARGO_ARGS...: PATH must be executable; when it is the default
# binary and missing, build it with `cargo build CARGO_ARGS` in $REPO.
ensure_bin() {
    local path="$1" default="$2"
    shift 2
    [[ -x "$path" ]] && return 0
    [[ "$path" == "$default" ]] || die "$path does not exist or is not executable"
    log "building $path: cargo build $*"
    (cd "$REPO" && cargo build "$@" >&2)
    [[ -x "$path" ]] || die "cargo build $* did not produce $path"
}
