#!/usr/bin/env bash
# Release archives of the two plugins, named the way the Terraform registry and Packer's
# plugin installer expect, with their checksum files; run through `./dev dist`.
#
#   scripts/dist.sh [--out DIR] [--profile release|dev]
#
# Output (VERSION is the workspace version, e.g. 0.2.0; the same for every platform built):
#   terraform-provider-cloudstack_VERSION_linux_amd64.zip   binary terraform-provider-cloudstack_vVERSION
#   terraform-provider-cloudstack_VERSION_manifest.json     = terraform-registry-manifest.json
#   terraform-provider-cloudstack_VERSION_SHA256SUMS        sha256 of the zips and the manifest
#   terraform-registry-manifest.json                        protocol 5.0
#   packer-plugin-cloudstack_vVERSION_x5.0_linux_amd64.zip  binary packer-plugin-cloudstack_vVERSION_x5.0_linux_amd64
#   packer-plugin-cloudstack_vVERSION_x5.0_linux_amd64_SHA256SUM  sha256 of that binary (kept beside it once installed)
#   packer-plugin-cloudstack_vVERSION_SHA256SUMS            sha256 of the zips (what `packer init` reads from a release)
#   terraform-mirror/registry.terraform.io/cloudstack/cloudstack/
#       the provider zips (a packed filesystem mirror) plus index.json and VERSION.json
#       (the provider network mirror protocol, with h1: and zh: hashes): serve the
#       terraform-mirror directory over HTTPS as a network mirror, or point a
#       filesystem_mirror at it.
#
# Reproducible: the same sources give the same bytes. Zip entries carry SOURCE_DATE_EPOCH
# (default: the last commit's time), mode 0755 and no extra fields; release builds remap
# the source paths compiled into the binaries (--remap-path-prefix) and use their own target
# directory (target/dist-build) so these flags never invalidate the normal build.
# `--profile dev` packages the debug binaries instead (what the tests use: no second build).
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/dist
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --profile) profile=${2:?--profile needs release or dev}; shift 2 ;;
    *) echo "dist: unknown argument '$1' (usage: ./dev dist [--out DIR] [--profile release|dev])" >&2; exit 2 ;;
  esac
done
case "$profile" in release|dev) ;; *) echo "dist: --profile is release or dev, not '$profile'" >&2; exit 2 ;; esac
for tool in zip sha256sum openssl; do
  command -v "$tool" >/dev/null || { echo "dist: '$tool' is missing; ./dev setup installs it" >&2; exit 1; }
done

# The workspace version (every crate inherits it).
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "dist: no version in Cargo.toml's [workspace.package]" >&2; exit 1; }
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}
# Zip timestamps start in 1980.
[ "$epoch" -ge 315532800 ] || epoch=315532800
tf=terraform-provider-cloudstack
pk=packer-plugin-cloudstack
mirror_rel=terraform-mirror/registry.terraform.io/cloudstack/cloudstack

log() { printf 'dist: %s\n' "$*" >&2; }

# Builds the two plugin binaries for a Rust target triple ("" = this machine) and prints
# the directory holding them.
build() {
  local triple=$1 dir
  if [ "$profile" = dev ]; then
    # The same command the tests' workspace_bin runs, so nothing is rebuilt.
    cargo build --quiet --workspace --bins ${triple:+--target "$triple"}
    dir=${CARGO_TARGET_DIR:-target}${triple:+/$triple}/debug
  else
    local root; root=$(pwd)
    local registry=${CARGO_HOME:-$HOME/.cargo}
    CARGO_TARGET_DIR=target/dist-build \
      RUSTFLAGS="--remap-path-prefix=$root=/mesostack --remap-path-prefix=$registry=/cargo" \
      cargo build --quiet --release --locked -p "$tf" -p packer-plugin-cloudstack \
      ${triple:+--target "$triple"}
    dir=target/dist-build${triple:+/$triple}/release
  fi
  echo "$dir"
}

# zip_one ZIP NAME SRC: a zip holding SRC as NAME, byte-identical for identical input.
zip_one() {
  local zipfile=$1 name=$2 src=$3 stage
  stage=$(mktemp -d)
  cp "$src" "$stage/$name"
  chmod 0755 "$stage/$name"
  touch -d "@$epoch" "$stage/$name"
  rm -f "$zipfile"
  (cd "$stage" && TZ=UTC zip -q -X "$zipfile" "$name")
  rm -rf "$stage"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Terraform's h1: hash of a zip holding one file: base64(sha256("<sha256 hex>  <name>\n")).
h1_of() {
  local name=$1 src=$2
  printf '%s  %s\n' "$(sha256 "$src")" "$name" | openssl dgst -sha256 -binary | base64
}

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "${out:?}/terraform-mirror"
rm -f "$out"/"$tf"_* "$out"/"$pk"_* "$out"/terraform-registry-manifest.json
mkdir -p "$out/$mirror_rel"

# Platforms: this machine, plus linux_arm64 when the Rust target and Debian's cross linker
# are both installed (release builds only).
platforms=("linux_amd64:")
if [ "$profile" = release ]; then
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    log "skipping linux_arm64: the Rust target aarch64-unknown-linux-gnu is not installed (rustup target add aarch64-unknown-linux-gnu; Debian's packages do not carry it for this toolchain)"
  elif ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    log "skipping linux_arm64: Debian's cross toolchain is missing (apt-get install gcc-aarch64-linux-gnu)"
  else
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    platforms+=("linux_arm64:aarch64-unknown-linux-gnu")
  fi
fi

mirror_archives=()
for entry in "${platforms[@]}"; do
  platform=${entry%%:*}
  triple=${entry#*:}
  log "building $platform ($profile)"
  bindir=$(build "$triple")

  tf_bin=${tf}_v$version
  tf_zip=${tf}_${version}_$platform.zip
  zip_one "$out/$tf_zip" "$tf_bin" "$bindir/$tf"
  cp "$out/$tf_zip" "$out/$mirror_rel/$tf_zip"
  mirror_archives+=("$(printf '"%s":{"url":"%s","hashes":["h1:%s","zh:%s"]}' \
    "$platform" "$tf_zip" "$(h1_of "$tf_bin" "$bindir/$tf")" "$(sha256 "$out/$tf_zip")")")

  pk_bin=${pk}_v${version}_x5.0_$platform
  zip_one "$out/$pk_bin.zip" "$pk_bin" "$bindir/$pk"
  # Packer's own format for the file beside an installed plugin: the hex digest alone.
  printf '%s' "$(sha256 "$bindir/$pk")" > "$out/${pk_bin}_SHA256SUM"
done

# The provider's plugin protocol, as the Terraform registry reads it from a release.
cp crates/terraform-provider-cloudstack/terraform-registry-manifest.json "$out/"
cp "$out/terraform-registry-manifest.json" "$out/${tf}_${version}_manifest.json"

# SHA256SUMS: "<hex>  <file>" lines sorted by file name, as goreleaser writes them.
(cd "$out" && sha256sum -- "${tf}_${version}"_*.zip "${tf}_${version}_manifest.json" \
  | LC_ALL=C sort -k2 > "${tf}_${version}_SHA256SUMS")
(cd "$out" && sha256sum -- "${pk}_v${version}"_x5.0_*.zip \
  | LC_ALL=C sort -k2 > "${pk}_v${version}_SHA256SUMS")

# Network mirror documents (https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol).
printf '{"versions":{"%s":{}}}\n' "$version" > "$out/$mirror_rel/index.json"
(IFS=,; printf '{"archives":{%s}}\n' "${mirror_archives[*]}") > "$out/$mirror_rel/$version.json"

log "wrote $out:"
(cd "$out" && find . -type f | LC_ALL=C sort | sed 's|^\./|  |') >&2
