#!/usr/bin/env bash
# Install wxlake as a system service: the binary, its man pages (wxlake(1) and one per command,
# wxlake-ingest(1) …), the README the units' Documentation= points to, the shell completion, the
# systemd units, the example /etc/default/wxlake (kept if present), a system user and its data
# directory; then enable the timers.
#
# Usage: sudo deploy/install.sh [path/to/wxlake]   (default: target/release/wxlake)
#
# Environment (for packaging or a dry install into a scratch tree):
#   DESTDIR       prefix for every path below                        [empty]
#   BIN_DIR       [/usr/local/bin]        MAN_DIR [/usr/local/share/man/man1]
#   DOC_DIR       [/usr/local/share/doc/wxlake]
#   UNIT_DIR      [/etc/systemd/system]   ETC_DEFAULT [/etc/default/wxlake]
#   BASH_COMPLETION_DIR [/usr/share/bash-completion/completions]
#   DATA_DIR      [/var/lib/wxlake]
#   NO_SYSTEM=1   skip creating the user, chown and systemctl (files only)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/wxlake}"
[ -x "$bin" ] || { echo "install.sh: $bin not found; run cargo build --release first" >&2; exit 1; }
D="${DESTDIR:-}"
BIN_DIR="$D${BIN_DIR:-/usr/local/bin}"
MAN_DIR="$D${MAN_DIR:-/usr/local/share/man/man1}"
DOC_DIR="$D${DOC_DIR:-/usr/local/share/doc/wxlake}"
UNIT_DIR="$D${UNIT_DIR:-/etc/systemd/system}"
ETC_DEFAULT="$D${ETC_DEFAULT:-/etc/default/wxlake}"
COMP_DIR="$D${BASH_COMPLETION_DIR:-/usr/share/bash-completion/completions}"
DATA_DIR="$D${DATA_DIR:-/var/lib/wxlake}"

install -d "$BIN_DIR" "$MAN_DIR" "$DOC_DIR" "$UNIT_DIR" "$(dirname "$ETC_DEFAULT")" "$COMP_DIR"
install -m 755 "$bin" "$BIN_DIR/wxlake"
pages=$(mktemp -d)
"$bin" man --out-dir "$pages"
for page in "$pages"/*.1; do
    gzip -9 < "$page" > "$MAN_DIR/$(basename "$page").gz"
done
rm -rf "$pages"
install -m 644 README.md "$DOC_DIR/README.md"
"$bin" completions bash > "$COMP_DIR/wxlake"
install -m 644 deploy/wxlake-ingest.service deploy/wxlake-ingest.timer \
    deploy/wxlake-maintenance.service deploy/wxlake-maintenance.timer "$UNIT_DIR/"
[ -e "$ETC_DEFAULT" ] || install -m 644 deploy/wxlake.env.example "$ETC_DEFAULT"
install -d -m 750 "$DATA_DIR" "$DATA_DIR/messages/raw"

if [ "${NO_SYSTEM:-0}" != 1 ]; then
    id -u wxlake > /dev/null 2>&1 ||
        useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin wxlake
    chown -R wxlake:wxlake "$DATA_DIR"
    systemctl daemon-reload
    systemctl enable --now wxlake-ingest.timer wxlake-maintenance.timer
fi
echo "installed: $BIN_DIR/wxlake, units in $UNIT_DIR, settings in $ETC_DEFAULT, data in $DATA_DIR"
