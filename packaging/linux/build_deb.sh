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
UPSTREAM=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/core/__init__.py")
# The package's own revision: a package of the same ParamScope built differently gets the next.
VERSION=$UPSTREAM-${DEB_REVISION:-1}
ARCH=$(dpkg --print-architecture)
STAGE=$(mktemp -d)
chmod 755 "$STAGE"  # the package's ./ entry: mktemp's 0700 would become /'s mode
trap 'rm -rf "$STAGE"' EXIT

DESTDIR="$STAGE" PREFIX=/usr "$HERE/install.sh" "$BUNDLE" >/dev/null
# Shared libraries need no execute bit (PyInstaller copies them with one); the launcher keeps it.
find "$STAGE/usr/lib/paramscope/_internal" -type f -name '*.so*' -exec chmod 644 {} +
mkdir -p "$STAGE/usr/share/man/man1"
gzip -9n <"$HERE/paramscope.1" >"$STAGE/usr/share/man/man1/paramscope.1.gz"
chmod 644 "$STAGE/usr/share/man/man1/paramscope.1.gz"

# What the bundle asks of the system, read from its ELF files (packaging/elf_tools.py): the
# newest glibc symbol version any of them needs, and the libraries it does not carry itself.
PYTHON=${PYTHON:-python3}
GLIBC=$("$PYTHON" "$ROOT/packaging/elf_tools.py" glibc-floor "$BUNDLE")
EXTERNAL=$("$PYTHON" "$ROOT/packaging/elf_tools.py" external "$BUNDLE")
DEPENDS="libc6${GLIBC:+ (>= $GLIBC)}"
RECOMMENDS=""
add() {  # LIST_NAME PACKAGE: append PACKAGE once
    eval "current=\$$1"
    case ", $current, " in *", $2, "*) return ;; esac
    eval "$1=\"\${current:+\$current, }\$2\""
}
for soname in $EXTERNAL; do
    case $soname in
        ld-linux*.so.* | libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | \
            libresolv.so.2 | libutil.so.1) ;;  # glibc: libc6 above
        libGL.so.1) add DEPENDS libgl1 ;;
        libEGL.so.1) add DEPENDS libegl1 ;;
        libOpenGL.so.0) add DEPENDS libopengl0 ;;
        libxcb.so.1) add DEPENDS libxcb1 ;;
        libdrm.so.2) add DEPENDS libdrm2 ;;
        # Only Qt's Wayland platform plugin loads these; under X11 or XWayland it is not used.
        libwayland-client.so.0) add RECOMMENDS libwayland-client0 ;;
        libwayland-cursor.so.0) add RECOMMENDS libwayland-cursor0 ;;
        libwayland-egl.so.1) add RECOMMENDS libwayland-egl1 ;;
        *)
            echo "build_deb.sh: the bundle needs $soname, which it does not carry and which" \
                "has no Debian package in this script: add it to the list" >&2
            exit 1
            ;;
    esac
done
echo "glibc floor: ${GLIBC:-none found}; Depends: $DEPENDS"

# The copyright file in Debian's machine-readable format, and a changelog: policy wants both.
DOC="$STAGE/usr/share/doc/paramscope"
mkdir -p "$DOC"
"$PYTHON" "$HERE/deb_copyright.py" "$BUNDLE" usr/lib/paramscope >"$DOC/copyright"
MAINTAINER=${DEB_MAINTAINER:-ParamScope developers <paramscope@users.noreply.github.com>}
# The changelog's date is the last commit's, so that two builds of one commit are identical.
EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}
cat >"$DOC/changelog.Debian" <<CHANGELOG
paramscope ($VERSION) unstable; urgency=medium

  * ParamScope $UPSTREAM, packaged from its PyInstaller bundle.

 -- $MAINTAINER  $(LC_ALL=C date -u -R -d "@$EPOCH")
CHANGELOG
gzip -9nf "$DOC/changelog.Debian"
chmod 644 "$DOC/copyright" "$DOC/changelog.Debian.gz"

mkdir -p "$STAGE/DEBIAN"
SIZE_KIB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
{
    echo "Package: paramscope"
    echo "Version: $VERSION"
    echo "Section: science"
    echo "Priority: optional"
    echo "Architecture: $ARCH"
    echo "Installed-Size: $SIZE_KIB"
    echo "Depends: $DEPENDS"
    [ -z "$RECOMMENDS" ] || echo "Recommends: $RECOMMENDS"
    echo "Maintainer: $MAINTAINER"
    cat <<'DESCRIPTION'
Description: viewer for neural-network checkpoints
 Opens safetensors, PyTorch, GGUF and ONNX checkpoints without running any
 code from them, and shows the layer tree with weight and bias counts, the
 distributions of the weights and the hyperparameters the model was trained
 with.
DESCRIPTION
} >"$STAGE/DEBIAN/control"

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
