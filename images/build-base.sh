#!/usr/bin/env bash
# usage: images/build-base.sh [--force]
#
# Builds the offline Python base image chris-jupyter/python-base:bookworm without any registry:
# debootstrap (minbase, bookworm, python3 python3-venv ca-certificates) from the Debian mirror
# this machine's apt already uses (or CHRIS_DEBIAN_MIRROR), slimmed, tarred deterministically
# and `docker import`ed.
# The tarball is cached in ${XDG_CACHE_HOME:-~/.cache}/chris-jupyter/ so a re-import is quick.
# Does nothing when the image exists (unless --force). Needs root, debootstrap and a Docker engine.
set -euo pipefail
TAG=${CHRIS_BASE_IMAGE:-chris-jupyter/python-base:bookworm}
SUITE=bookworm
DOCKER=/usr/bin/docker
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/chris-jupyter
TARBALL=$CACHE/python-base-$SUITE.tar
LOG=$CACHE/build-base.log
say() { printf 'build-base: %s\n' "$*"; }
die() { printf 'build-base: error: %s\n' "$*" >&2; exit 1; }

force=0
[ "${1:-}" = --force ] && force=1
if [ $force = 0 ] && $DOCKER image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG already exists"; exit 0
fi
$DOCKER info >/dev/null 2>&1 || die "no Docker engine answers (run: bash scripts/start-docker)"
mkdir -p "$CACHE"
exec 9>"$CACHE/.build-base.lock"
flock 9        # one build at a time (parallel test sessions)
if [ $force = 0 ] && $DOCKER image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG already exists"; exit 0
fi

# The Debian mirror: CHRIS_DEBIAN_MIRROR, else the one apt uses for the main suite here (a local
# mirror or proxy keeps working offline). No built-in host: without either, a clear error.
mirror() {
  local uri=${CHRIS_DEBIAN_MIRROR:-}
  if [ -z "$uri" ]; then
    uri=$(apt-cache policy 2>/dev/null | awk -v s="$SUITE/main" '$3 == s && $2 ~ /^https?:/ {print $2; exit}')
  fi
  if [ -z "$uri" ]; then
    uri=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* \
      2>/dev/null | grep -v security | awk '{print $2}' | head -n 1)
  fi
  [ -n "$uri" ] || die "no Debian mirror configured for apt here: set CHRIS_DEBIAN_MIRROR to one"
  echo "$uri"
}

root=
cleanup() {
  [ -n "$root" ] && [ -d "$root" ] || return 0
  # debootstrap mounts /proc etc. inside the target: unmount before deleting anything.
  awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

if [ $force = 1 ] || [ ! -s "$TARBALL" ]; then
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  command -v debootstrap >/dev/null || die "debootstrap is missing (run: bash scripts/install-deps --test)"
  url=$(mirror)
  root=$(mktemp -d "${TMPDIR:-/tmp}/chris-base.XXXXXX")
  say "debootstrap $SUITE from $url (about a minute; log: $LOG)"
  if ! debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
       "$SUITE" "$root" "$url" </dev/null >"$LOG" 2>&1; then
    tail -n 30 "$LOG"; die "debootstrap failed"
  fi
  # Slim: package caches and lists, docs (copyright files stay), manuals, translations, logs,
  # and this host's identity (Docker provides its own resolv.conf and hostname).
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
         "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
         "$root"/usr/share/doc-base "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
  find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  : >"$root/etc/resolv.conf"
  : >"$root/etc/machine-id"
  rm -f "$root/etc/hostname"
  tar -C "$root" --sort=name --mtime=@0 --numeric-owner -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  cleanup; root=
fi

say "docker import $TARBALL as $TAG"
$DOCKER import -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' \
  -m "debootstrap --variant=minbase $SUITE + python3 python3-venv ca-certificates" \
  "$TARBALL" "$TAG" >/dev/null
say "$TAG ready ($($DOCKER image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%d MB", $1/1e6}'))"
