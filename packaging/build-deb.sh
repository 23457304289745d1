#!/usr/bin/env bash
# Builds the edgeagent .deb from a published agent.
#
#   packaging/build-deb.sh PUBLISH_DIR OUTPUT_DIR [ARCH]
#
# PUBLISH_DIR  output of `dotnet publish` for one RID (must hold `edgeagent` and `libonnxruntime.so.1`)
# OUTPUT_DIR   where edgeagent_<version>_<arch>.deb is written (created if missing)
# ARCH         amd64 | arm64 (x64, linux-x64, aarch64, linux-arm64 accepted); default: from the
#              agent binary's ELF header. Both the agent and ONNX Runtime must be built for it.
# VERSION      environment override of the package version (default: <Version> in Directory.Build.props)
# DEB_COMPRESSION, DEB_COMPRESSION_LEVEL  dpkg-deb -Z/-z (default xz, level 6; tests use gzip 1 for speed)
#
# Layout: /usr/lib/edgeagent/ (the published files), /usr/bin/edgeagent -> ../lib/edgeagent/edgeagent,
# /lib/systemd/system/edgeagent.service, /etc/edgeagent/agent.json (conffile),
# /lib/udev/rules.d/60-edgeagent-gpio.rules, /usr/share/doc/edgeagent/. Needs dpkg-deb (>= 1.19).
set -euo pipefail

die() { printf 'build-deb.sh: %s\n' "$*" >&2; exit 1; }
[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: build-deb.sh PUBLISH_DIR OUTPUT_DIR [ARCH]"
HERE=$(cd "$(dirname "$0")" && pwd)
PUBLISH=$(cd "$1" 2>/dev/null && pwd) || die "publish directory '$1' does not exist"
OUT=$2
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (Debian package dpkg)"

[ -f "$PUBLISH/edgeagent" ] || die "$PUBLISH/edgeagent not found: publish agent/EdgeAgent.Agent first (./build.sh publish)"
[ -f "$PUBLISH/libonnxruntime.so.1" ] || die "$PUBLISH/libonnxruntime.so.1 not found: the ONNX Runtime library must be published next to the agent"

# e_machine of an ELF file (offset 18, little-endian) as a Debian architecture name.
elf_arch() {
  [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] || { echo "not-elf"; return; }
  case "$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')" in
    62) echo amd64 ;; 183) echo arm64 ;; 40) echo armhf ;; *) echo unknown ;;
  esac
}

AGENT_ARCH=$(elf_arch "$PUBLISH/edgeagent")
case "${3:-$AGENT_ARCH}" in
  amd64|x64|linux-x64|x86_64) ARCH=amd64 ;;
  arm64|aarch64|linux-arm64) ARCH=arm64 ;;
  *) die "unsupported architecture '${3:-$AGENT_ARCH}' (amd64 or arm64)" ;;
esac
[ "$AGENT_ARCH" = "$ARCH" ] || die "$PUBLISH/edgeagent is built for '$AGENT_ARCH', not $ARCH: publish with -r linux-${ARCH/amd64/x64}"
ORT_ARCH=$(elf_arch "$PUBLISH/libonnxruntime.so.1")
[ "$ORT_ARCH" = "$ARCH" ] || die "$PUBLISH/libonnxruntime.so.1 is built for '$ORT_ARCH', not $ARCH: copy the linux-${ARCH/amd64/x64} ONNX Runtime library"

if [ -z "${VERSION:-}" ]; then
  VERSION=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$HERE/../Directory.Build.props" | head -1)
fi
[[ "$VERSION" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "version '$VERSION' is not a Debian version"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/root
install -d -m 0755 "$ROOT/DEBIAN" "$ROOT/usr/lib/edgeagent" "$ROOT/usr/bin" "$ROOT/lib/systemd/system" \
  "$ROOT/lib/udev/rules.d" "$ROOT/etc/edgeagent" "$ROOT/usr/share/doc/edgeagent"

# Published files: regular files 0644, the agent and shared libraries 0755. Debug symbols stay out.
(cd "$PUBLISH" && find . -type f ! -name '*.pdb' ! -name '*.dbg' -print0) | while IFS= read -r -d '' f; do
  install -D -m 0644 "$PUBLISH/$f" "$ROOT/usr/lib/edgeagent/$f"
done
chmod 0755 "$ROOT/usr/lib/edgeagent/edgeagent"
find "$ROOT/usr/lib/edgeagent" -name '*.so*' -exec chmod 0755 {} +
ln -s ../lib/edgeagent/edgeagent "$ROOT/usr/bin/edgeagent"

install -m 0644 "$HERE/systemd/edgeagent.service" "$ROOT/lib/systemd/system/edgeagent.service"
install -m 0644 "$HERE/udev/60-edgeagent-gpio.rules" "$ROOT/lib/udev/rules.d/60-edgeagent-gpio.rules"
install -m 0640 "$HERE/config/agent.json" "$ROOT/etc/edgeagent/agent.json"
install -m 0644 "$HERE/INSTALL.md" "$ROOT/usr/share/doc/edgeagent/INSTALL.md"
install -m 0644 "$HERE/config/agent.json" "$ROOT/usr/share/doc/edgeagent/agent.json.example"

install -m 0644 "$HERE/debian/conffiles" "$ROOT/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$HERE/debian/$s" "$ROOT/DEBIAN/$s"; done
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$SIZE/" "$HERE/debian/control.in" > "$ROOT/DEBIAN/control"
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$ROOT/DEBIAN/md5sums"
chmod 0644 "$ROOT/DEBIAN/control" "$ROOT/DEBIAN/md5sums"

mkdir -p "$OUT"
DEB="$OUT/edgeagent_${VERSION}_${ARCH}.deb"
# --root-owner-group: every file root:root in the archive whoever builds it; postinst sets the
# service-specific owners. xz keeps the download small for devices on metered links.
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" -z"${DEB_COMPRESSION_LEVEL:-6}" --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
