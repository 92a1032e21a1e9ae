#!/usr/bin/env bash
# usage: images/build-image.sh [--force] CONTEXT_DIR TAG
#
# Builds a plugin (or user) image with no registry access, following the convention in
# README.md next to this script:
#   0. the build context is a temporary copy of CONTEXT_DIR (which is never written to).
#   1. wheels: when CONTEXT_DIR has requirements.txt and/or is a Python package (pyproject.toml or
#      setup.py), the copy's wheels/ is filled on the host: the package's own wheel plus every
#      dependency, downloaded as binary wheels for the base image's Python
#      (${CHRIS_IMAGE_PYTHON:-3.11.2}) and glibc (2.36); requirements published only as sdists
#      are built into wheels on the host first (pip wheel). PIP_INDEX_URL, PIP_NO_INDEX and
#      PIP_FIND_LINKS are honoured.
#   2. docker build --force-rm --build-arg BASE_IMAGE=chris-jupyter/python-base:bookworm, labelled
#      with a hash of the context (wheels/ excluded), the base image id and this script; the
#      untagged stage images and the tag's previous image are removed afterwards.
#      With CHRIS_IMAGE_SERVE_WHEELS=1 the wheels stay out of the build context: they are served on
#      a loopback port for the build (docker build --network host, build args PIP_NO_INDEX=1 and
#      PIP_FIND_LINKS=http://127.0.0.1:PORT/, which the Dockerfile declares with ARG), so the image
#      has no wheels/ layer (spawners/singleuser/Dockerfile.deps).
# Skips everything when TAG already carries the same hash (unless --force); builds the base image
# first when it is missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DOCKER=/usr/bin/docker
BASE_IMAGE=${CHRIS_BASE_IMAGE:-chris-jupyter/python-base:bookworm}
PY_VERSION=${CHRIS_IMAGE_PYTHON:-3.11.2}
GLIBC_MINOR=${CHRIS_IMAGE_GLIBC_MINOR:-36}    # the base image's glibc: 2.36 (bookworm)
# Wheels for the base image's glibc or older, never for a newer host's: pip takes --platform
# tags literally, so list them all (manylinux_2_36 ... manylinux_2_17 and the legacy names).
arch=$(uname -m)
platforms=()
for minor in $(seq "$GLIBC_MINOR" -1 17); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done
for legacy in manylinux2014 manylinux2010 manylinux1; do platforms+=(--platform "${legacy}_$arch"); done
LABEL=org.chris-jupyter.context-hash
say() { printf 'build-image: %s\n' "$*"; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

force=0
if [ "${1:-}" = --force ]; then force=1; shift; fi
[ $# = 2 ] || { sed -n '2,21p' "$0"; exit 2; }
[ -f "$1/Dockerfile" ] || die "$1/Dockerfile not found"
ctx=$(cd "$1" && pwd)
tag=$2
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/chris-jupyter
mkdir -p "$CACHE"
LOG=$CACHE/build-image-$(printf '%s' "$tag" | tr -c 'A-Za-z0-9_.-' '_').log
: >"$LOG"

# run CMD...: output to $LOG; on failure show its tail and stop.
run() {
  if ! "$@" </dev/null >>"$LOG" 2>&1; then
    tail -n 30 "$LOG"; die "failed: $* (log: $LOG)"
  fi
}

bash "$HERE/build-base.sh"

context_hash() {
  {
    $DOCKER image inspect -f '{{.Id}}' "$BASE_IMAGE"
    echo "$PY_VERSION $GLIBC_MINOR"
    sha256sum <"$0"                      # a change to this builder rebuilds too
    (cd "$ctx" && find . \( -path ./wheels -o -name __pycache__ -o -name '*.egg-info' \
        -o -path ./build \) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  } | sha256sum | cut -c1-32
}
hash=$(context_hash)
current=$($DOCKER image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$tag" 2>/dev/null || true)
if [ $force = 0 ] && [ "$current" = "$hash" ]; then
  say "$tag is up to date"; exit 0
fi

# The build happens in a temporary copy of the context (wheels/ excluded), so the checkout is
# never written to and may be read-only.
build_ctx=$(mktemp -d)
host_wheels=$(mktemp -d)
src=$(mktemp -d)
trap 'rm -rf "$build_ctx" "$host_wheels" "$src"' EXIT
tar -C "$ctx" --exclude=./wheels -cf - . | tar -C "$build_ctx" -xf -
mkdir -p "$build_ctx/wheels"
wheels=$build_ctx/wheels

is_package=0
{ [ -f "$ctx/pyproject.toml" ] || [ -f "$ctx/setup.py" ]; } && is_package=1
if [ -f "$ctx/requirements.txt" ] || [ $is_package = 1 ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then py=$REPO/.venv/bin/python; else py=python3; fi
  reqs=()
  [ -f "$ctx/requirements.txt" ] && reqs+=(-r "$ctx/requirements.txt")
  if [ $is_package = 1 ]; then
    # Build from a copy: the build must not leave build/ or *.egg-info in the image's sources.
    tar -C "$ctx" --exclude=./wheels -cf - . | tar -C "$src" -xf -
    say "building the wheel of $(basename "$ctx")"
    run "$py" -m pip wheel --no-deps -w "$wheels" "$src"
    for w in "$wheels"/*.whl; do reqs+=("$w"); done
  fi
  download() {
    "$py" -m pip download --python-version "$PY_VERSION" "${platforms[@]}" \
      --only-binary=:all: -d "$wheels" "$@" "${reqs[@]}" </dev/null >>"$LOG" 2>&1
  }
  say "downloading wheels for Python $PY_VERSION"
  if ! download; then
    # Some requirement is published as an sdist only: build wheels on the host, then take the
    # image's wheels from those (pure-Python ones fit any platform) and the index.
    say "no binary wheel for some requirement: building wheels on the host (pip wheel)"
    run "$py" -m pip wheel -w "$host_wheels" "${reqs[@]}"
    links=(--find-links "$host_wheels")
    for fl in ${PIP_FIND_LINKS:-}; do links+=(--find-links "$fl"); done
    download "${links[@]}" || { tail -n 30 "$LOG"; die "no wheel fits the image's Python (log: $LOG)"; }
  fi
fi

old_id=$($DOCKER image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
say "docker build $tag (log: $LOG)"
build_log=$(mktemp)
served=$(mktemp -d)
server_pid=
trap 'rm -rf "$build_ctx" "$host_wheels" "$src" "$build_log" "$served"; [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null' EXIT
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
if [ "${CHRIS_IMAGE_SERVE_WHEELS:-0}" = 1 ] && compgen -G "$wheels/*.whl" >/dev/null; then
  mv "$wheels"/*.whl "$served"/
  if [ -x "$REPO/.venv/bin/python" ]; then py=$REPO/.venv/bin/python; else py=python3; fi
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$py" -m http.server --bind 127.0.0.1 --directory "$served" "$port" </dev/null >>"$LOG" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://127.0.0.1:$port/" 2>/dev/null && break
    sleep 0.1
  done
  build_args+=(--network host --build-arg PIP_NO_INDEX=1 --build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/")
fi
if ! $DOCKER build --force-rm "${build_args[@]}" --label "$LABEL=$hash" \
    -t "$tag" "$build_ctx" </dev/null >"$build_log" 2>&1; then
  cat "$build_log" >>"$LOG"; tail -n 30 "$build_log"; die "failed: docker build $tag (log: $LOG)"
fi
cat "$build_log" >>"$LOG"
# The classic builder keeps the last image of every stage but the final one as an untagged
# ("<none>") image; remove those, and the image the tag pointed to before (when nothing else
# uses it), so that a build leaves only TAG behind.
new_id=$($DOCKER image inspect -f '{{.Id}}' "$tag")
for id in $(awk '/^Step [0-9]+\/[0-9]+ : FROM / { if (last != "") print last } /^ ---> [0-9a-f]+$/ { last = $2 }' "$build_log"); do
  if [ -z "$($DOCKER image inspect -f '{{join .RepoTags ","}}' "$id" 2>/dev/null)" ]; then
    $DOCKER rmi "$id" >>"$LOG" 2>&1 || true
  fi
done
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  $DOCKER rmi "$old_id" >>"$LOG" 2>&1 || true
fi
say "$tag built"
