#!/bin/sh
# Build dist/paramscope_<version>_<arch>.deb from the one-folder bundle with dpkg-deb.
# The package installs what install.sh installs, system-wide under /usr, and refreshes the MIME,
# desktop and icon caches in its maintainer scripts.
#
#   packaging/linux/build_deb.sh [BUNDLE_DIR] [OUT_DIR]     (`make deb` runs it)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUNDLE=${1:-$ROOT/dist/ParamScope}
OUT=${2:-$ROOT/dist}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/core/__init__.py")
ARCH=$(dpkg --print-architecture)
STAGE=$(mktemp -d)
chmod 755 "$STAGE"  # the package's ./ entry: mktemp's 0700 would become /'s mode
trap 'rm -rf "$STAGE"' EXIT

DESTDIR="$STAGE" PREFIX=/usr "$HERE/install.sh" "$BUNDLE" >/dev/null

mkdir -p "$STAGE/DEBIAN"
SIZE_KIB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: paramscope
Version: $VERSION
Section: science
Priority: optional
Architecture: $ARCH
Installed-Size: $SIZE_KIB
Depends: libc6, libgl1, libegl1, libfontconfig1, libglib2.0-0, libdbus-1-3
Recommends: libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0
Maintainer: ParamScope developers
Description: viewer for neural-network checkpoints
 Opens safetensors, PyTorch, GGUF and ONNX checkpoints without running any code
 from them, and shows the layer tree with weight and bias counts, the
 distributions of the weights and the hyperparameters the model was trained with.
CONTROL

for script in postinst postrm; do
    cat >"$STAGE/DEBIAN/$script" <<'SCRIPT'
#!/bin/sh
set -e
if command -v update-mime-database >/dev/null 2>&1; then update-mime-database /usr/share/mime || true; fi
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -f -t /usr/share/icons/hicolor || true; fi
exit 0
SCRIPT
    chmod 0755 "$STAGE/DEBIAN/$script"
done

mkdir -p "$OUT"
DEB="$OUT/paramscope_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group --build "$STAGE" "$DEB" >/dev/null
echo "built $DEB ($(du -h "$DEB" | cut -f1))"
