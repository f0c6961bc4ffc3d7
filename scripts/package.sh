#!/usr/bin/env bash
# Builds the release with the site inside the binary and packs what a server
# needs into one tarball:
#   $CARGO_TARGET_DIR/package/wensi-<version>-linux-x86_64.tar.gz
#     server          the binary: pages, wasm, styles, migrations inside
#     theme/          the default theme, written by the binary itself
#     .env.example    every setting, commented in Chinese, fake values
#     wensi.service   the systemd unit
#     README.md       how to install, back up, restore and upgrade
#
#   scripts/package.sh              build, then pack
#   scripts/package.sh --no-build   pack the binary the last build made
#                                   (scripts/test.sh builds it first)
#
# The binary links glibc dynamically (a static musl build was tried: see the
# README's deployment section); the README inside names the oldest glibc
# the binary needs, read from the binary here.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "usage: scripts/package.sh [--no-build]" >&2; exit 2 ;;
  esac
done

if [ "$build" = 1 ]; then
  "$ROOT/scripts/setup.sh"
  cargo leptos build --release --precompress --split --bin-features embed-site
fi

bin="$CARGO_TARGET_DIR/release/server"
[ -x "$bin" ] || { echo "no release binary at $bin: run without --no-build" >&2; exit 1; }

version="$("$bin" --version | awk '{print $2}')"
name="wensi-$version-linux-x86_64"
out_dir="$CARGO_TARGET_DIR/package"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir" "$out_dir"

# Symbols are for profiling (perf) on the build machine, not for the server.
strip --strip-all -o "$dir/server" "$bin"
chmod 755 "$dir/server"

# The theme comes out of the binary: proves the binary carries it.
"$dir/server" init-theme "$dir/theme" >/dev/null

# The oldest glibc the binary asks for (the highest GLIBC_x.y it names).
glibc="$(objdump -T "$dir/server" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)"
# Stock releases and their glibc: name those the binary runs on.
fits=""
for release in "Debian 11:2.31" "Ubuntu 20.04:2.31" "Ubuntu 22.04:2.35" "Debian 12:2.36" "Ubuntu 24.04:2.39" "Debian 13:2.41"; do
  if [ "$(printf '%s\n%s\n' "$glibc" "${release#*:}" | sort -V | head -1)" = "$glibc" ]; then
    fits="${fits:+$fits、}${release%%:*}"
  fi
done
systems="适用于 Linux x86_64，需要 glibc ${glibc} 或更新（\`ldd --version\` 的第一行是本机的版本）：${fits} 都可以。"
sed "s|@SYSTEMS@|$systems|" packaging/INSTALL.md >"$dir/README.md"
cp packaging/env.example "$dir/.env.example"
cp packaging/wensi.service "$dir/wensi.service"

tarball="$out_dir/$name.tar.gz"
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$stage" -czf "$tarball" "$name"
echo "$tarball"
echo "  binary $(du -h "$dir/server" | cut -f1) (unstripped $(du -h "$bin" | cut -f1)), tarball $(du -h "$tarball" | cut -f1), glibc ≥ $glibc" >&2
