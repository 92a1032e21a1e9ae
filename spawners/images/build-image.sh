#!/usr/bin/env bash
# usage: spawners/images/build-image.sh [--force] CONTEXT_DIR TAG
#
# Builds a plugin (or user) image with no registry access, following the convention in
# README.md next to this script:
#   1. wheels: when CONTEXT_DIR has requirements.txt and/or is a Python package (pyproject.toml or
#      setup.py), CONTEXT_DIR/wheels/ is emptied and refilled on the host: the package's own wheel
#      (built from a copy of the context) plus every dependency, downloaded as binary wheels for
#      the base image's Python (${CHRIS_IMAGE_PYTHON:-3.11.2}) and glibc (2.36).
#   2. docker build --force-rm --build-arg BASE_IMAGE=chris-jupyter/python-base:bookworm, labelled
#      with a hash of the context (wheels/ excluded), the base image id and this script.
# Skips everything when TAG already carries the same hash (unless --force); builds the base image
# first when it is missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
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
[ $# = 2 ] || { sed -n '2,13p' "$0"; exit 2; }
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

is_package=0
{ [ -f "$ctx/pyproject.toml" ] || [ -f "$ctx/setup.py" ]; } && is_package=1
if [ -f "$ctx/requirements.txt" ] || [ $is_package = 1 ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then py=$REPO/.venv/bin/python; else py=python3; fi
  mkdir -p "$ctx/wheels"
  find "$ctx/wheels" -maxdepth 1 -name '*.whl' -delete
  reqs=()
  [ -f "$ctx/requirements.txt" ] && reqs+=(-r "$ctx/requirements.txt")
  if [ $is_package = 1 ]; then
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    # Build from a copy: the build must not leave build/ or *.egg-info in the context.
    tar -C "$ctx" --exclude=./wheels -cf - . | tar -C "$src" -xf -
    say "building the wheel of $(basename "$ctx")"
    run "$py" -m pip wheel --no-deps -w "$ctx/wheels" "$src"
    for w in "$ctx"/wheels/*.whl; do reqs+=("$w"); done
  fi
  say "downloading wheels for Python $PY_VERSION into $ctx/wheels"
  run "$py" -m pip download --python-version "$PY_VERSION" "${platforms[@]}" \
    --only-binary=:all: -d "$ctx/wheels" "${reqs[@]}"
fi

say "docker build $tag (log: $LOG)"
run $DOCKER build --force-rm --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$LABEL=$hash" \
  -t "$tag" "$ctx"
say "$tag built"
