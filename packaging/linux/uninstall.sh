#!/bin/sh
# Remove what install.sh put under PREFIX (default ~/.local) and in its desktop-files folder,
# including the folders it created when they are empty, and refresh the desktop's caches.
#
#   packaging/linux/uninstall.sh
#   sudo PREFIX=/opt/paramscope packaging/linux/uninstall.sh
#
# install.sh lists what it created in PREFIX/lib/paramscope/.installed; without that list (an
# install by an older install.sh) the fixed set of files under PREFIX is removed.
set -eu

PREFIX=${PREFIX:-$HOME/.local}
APP=$PREFIX/lib/paramscope
MANIFEST=$APP/.installed

echo "Removing ParamScope from $PREFIX"
DATADIR=$PREFIX/share
if [ -f "$MANIFEST" ]; then
    LIST=$(mktemp)
    trap 'rm -f "$LIST"' EXIT
    cp "$MANIFEST" "$LIST"
    DATADIR=$(sed -n 's/^datadir //p' "$LIST" | tail -n 1)
    while IFS= read -r line; do
        case $line in
            "file "*) rm -f "${line#file }" ;;
        esac
    done <"$LIST"
    rm -rf "$APP"
else
    rm -rf "$APP"
    rm -f "$PREFIX/bin/paramscope" \
        "$DATADIR/applications/paramscope.desktop" \
        "$DATADIR/mime/packages/paramscope.xml" \
        "$DATADIR/icons/hicolor/scalable/apps/paramscope.svg"
    for size in 16 24 32 48 64 128 256 512; do
        rm -f "$DATADIR/icons/hicolor/${size}x${size}/apps/paramscope.png"
    done
fi

if command -v update-mime-database >/dev/null 2>&1 && [ -d "$DATADIR/mime" ]; then
    update-mime-database "$DATADIR/mime" || true
fi
if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$DATADIR/applications" ]; then
    update-desktop-database "$DATADIR/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -d "$DATADIR/icons/hicolor" ]; then
    gtk-update-icon-cache -f -t "$DATADIR/icons/hicolor" >/dev/null 2>&1 || true
fi

# The folders install.sh created, deepest first, when nothing but the caches regenerated above is
# left in them: a MIME database whose packages/ folder is gone, mimeinfo.cache, icon-theme.cache.
only_holds() {  # FOLDER NAME: FOLDER's one entry is NAME
    [ "$(ls -A "$1")" = "$2" ]
}
if [ -n "${LIST:-}" ]; then
    sed -n 's/^dir //p' "$LIST" | sort -r | while IFS= read -r folder; do
        [ -d "$folder" ] || continue
        case $folder in
            */mime) [ -d "$folder/packages" ] || rm -rf "$folder" ;;
            */applications) only_holds "$folder" mimeinfo.cache && rm -f "$folder/mimeinfo.cache" ;;
            */icons/hicolor) only_holds "$folder" icon-theme.cache && rm -f "$folder/icon-theme.cache" ;;
        esac
        [ -d "$folder" ] && rmdir "$folder" 2>/dev/null || true
    done
fi
echo "Done."
