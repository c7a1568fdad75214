#!/usr/bin/env bash
# Builds the relocatable install's tarball (deploy/BUILD.bazel's install_tar):
#   package.sh OUT.tar.gz --bin FILES... --lib FILES... --share FILES... --k8s FILES...
# Everything lands under isobar/: bin/, lib/isobar/, share/isobar/ (k8s/ inside it).
set -euo pipefail
out="$1"; shift
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/isobar"
mkdir -p "$root/bin" "$root/lib/isobar" "$root/share/isobar/k8s"
dest=""
for arg in "$@"; do
  case "$arg" in
    --bin) dest="$root/bin" ;;
    --lib) dest="$root/lib/isobar" ;;
    --share) dest="$root/share/isobar" ;;
    --k8s) dest="$root/share/isobar/k8s" ;;
    *) cp -L "$arg" "$dest/" ;;
  esac
done
chmod 0755 "$root/bin/"*
chmod 0644 "$root/lib/isobar/"* "$root/share/isobar/"*.* "$root/share/isobar/k8s/"*
# Reproducible: fixed owner, order and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00:00' -C "$stage" -czf "$out" isobar
