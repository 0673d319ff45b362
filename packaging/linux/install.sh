#!/bin/sh
# Install the ParamScope bundle for one user (default) or under any prefix, with its desktop
# entry, checkpoint MIME types and icons, so that double-clicking a checkpoint opens it.
#
#   packaging/linux/install.sh [BUNDLE_DIR]                   # into ~/.local
#   sudo PREFIX=/opt/paramscope packaging/linux/install.sh    # app in /opt, menu entry etc. in
#                                                             # /usr/local/share
#   DESTDIR=stage PREFIX=/usr packaging/linux/install.sh      # staging for a package (no refresh)
#
# The app goes to PREFIX/lib/paramscope with a `paramscope` link in PREFIX/bin. The desktop
# files (menu entry, MIME types, icons) go to DATADIR, which defaults to PREFIX/share when
# desktops look there (it is one of $XDG_DATA_HOME, $XDG_DATA_DIRS), and otherwise to
# /usr/local/share (as root; SYSTEM_DATADIR) or ~/.local/share, so that a prefix such as /opt/paramscope still
# appears in the menu. Every file and folder it creates is listed in
# PREFIX/lib/paramscope/.installed, which uninstall.sh reads.
#
# BUNDLE_DIR defaults to dist/ParamScope (from `make bundle`).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUNDLE=${1:-$ROOT/dist/ParamScope}
PREFIX=${PREFIX:-$HOME/.local}
DESTDIR=${DESTDIR:-}
ICONS=$ROOT/resources/icons
SIZES="16 24 32 48 64 128 256 512"

if [ ! -x "$BUNDLE/ParamScope" ]; then
    echo "install.sh: no bundle at $BUNDLE (run 'make bundle' first)" >&2
    exit 1
fi
case $PREFIX in
    /*) ;;
    *) echo "install.sh: PREFIX must be an absolute path, not '$PREFIX'" >&2; exit 1 ;;
esac

# Is $1 a folder desktops search for applications, MIME types and icons?
searched_by_desktops() {
    data_home=${XDG_DATA_HOME:-$HOME/.local/share}
    data_dirs=${XDG_DATA_DIRS:-/usr/local/share:/usr/share}
    case ":$data_home:$data_dirs:" in
        *":$1:"* | *":$1/:"*) return 0 ;;
        *) return 1 ;;
    esac
}

if [ -z "${DATADIR:-}" ]; then
    if [ -n "$DESTDIR" ] || searched_by_desktops "$PREFIX/share"; then
        DATADIR=$PREFIX/share
    elif [ "$(id -u)" = 0 ]; then
        DATADIR=${SYSTEM_DATADIR:-/usr/local/share}
    else
        DATADIR=${XDG_DATA_HOME:-$HOME/.local/share}
    fi
fi
APP=$DESTDIR$PREFIX/lib/paramscope
DATA=$DESTDIR$DATADIR

MANIFEST=$(mktemp)
trap 'rm -f "$MANIFEST"' EXIT
record() { printf '%s %s\n' "$1" "${2#"$DESTDIR"}" >>"$MANIFEST"; }

# mkdir -p that records each folder it creates, so that uninstall.sh removes exactly those.
make_dir() {
    [ -d "$1" ] && return 0
    make_dir "$(dirname "$1")"
    mkdir "$1"
    record dir "$1"
}

install_file() {  # SOURCE DEST
    make_dir "$(dirname "$2")"
    cp "$1" "$2"
    chmod 644 "$2"
    record file "$2"
}

# A value for the Desktop Entry `Exec` key: the path in double quotes with `"`, `` ` ``, `$` and
# `\` escaped inside them, then every backslash doubled (the key is a string first) and `%`
# doubled (field codes). See the Desktop Entry Specification, "The Exec key".
exec_quoted() {
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')"
}
# A plain string value (TryExec): only backslashes are escaped.
string_escaped() {
    printf '%s' "$1" | sed -e 's/\\/\\\\/g'
}

echo "Installing ParamScope into $DESTDIR$PREFIX (desktop files in $DATA)"
rm -rf "$APP"
make_dir "$(dirname "$APP")"
cp -R "$BUNDLE" "$APP"
record dir "$APP"
make_dir "$DESTDIR$PREFIX/bin"
# Relative, so that a staged tree (DESTDIR) or a moved prefix still works.
ln -sf ../lib/paramscope/ParamScope "$DESTDIR$PREFIX/bin/paramscope"
record file "$DESTDIR$PREFIX/bin/paramscope"

# Exec names the installed launcher by full path: PREFIX/bin is not on every desktop's PATH.
LAUNCHER=$PREFIX/bin/paramscope
ENTRY=$(mktemp)
EXEC_VALUE=$(exec_quoted "$LAUNCHER" | sed -e 's/[&|]/\\&/g')
TRY_VALUE=$(string_escaped "$LAUNCHER" | sed -e 's/[&|]/\\&/g')
sed -e "s|^Exec=paramscope |Exec=$EXEC_VALUE |" -e "s|^TryExec=paramscope\$|TryExec=$TRY_VALUE|" \
    "$HERE/paramscope.desktop" >"$ENTRY"
install_file "$ENTRY" "$DATA/applications/paramscope.desktop"
rm -f "$ENTRY"
install_file "$HERE/paramscope-mime.xml" "$DATA/mime/packages/paramscope.xml"
for size in $SIZES; do
    install_file "$ICONS/paramscope-$size.png" "$DATA/icons/hicolor/${size}x${size}/apps/paramscope.png"
done
install_file "$ICONS/paramscope.svg" "$DATA/icons/hicolor/scalable/apps/paramscope.svg"

# A package (DESTDIR) is tracked by its package manager and refreshes the caches in postinst.
if [ -n "$DESTDIR" ]; then
    echo "Staged ParamScope in $DESTDIR"
    exit 0
fi

printf 'datadir %s\n' "$DATADIR" >>"$MANIFEST"
cp "$MANIFEST" "$APP/.installed"

if command -v update-mime-database >/dev/null 2>&1; then
    update-mime-database "$DATADIR/mime" || true
fi
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$DATADIR/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -f -t "$DATADIR/icons/hicolor" >/dev/null 2>&1 || true
fi
case ":$PATH:" in
    *":$PREFIX/bin:"*) ;;
    *) echo "Note: $PREFIX/bin is not on your PATH; the menu entry works regardless." ;;
esac
echo "Done: run 'paramscope' or double-click a checkpoint. Remove it with:"
echo "  PREFIX='$PREFIX' $HERE/uninstall.sh"
