#!/usr/bin/env bash
# usage: spawners/singleuser/build.sh [--force] [TAG]      (TAG: chris-jupyter/singleuser:latest)
#
# Builds the hub's single-user image as two images:
#   1. the dependency image chris-jupyter/singleuser-deps:<hash> (Dockerfile.deps): this folder's
#      requirements.txt + chris_jupyter's dependencies (pyproject.toml) in /opt/venv. Its tag is a
#      hash of Dockerfile.deps, those requirements and the base image, so it is built once per
#      requirement set and shared by every checkout (and every TAG) with the same requirements.
#   2. TAG (Dockerfile): the chris_jupyter wheel built from this checkout, one thin layer on the
#      dependency image. Skipped, wheel build included, when TAG already has the same sources.
# Offline (default): step 1 goes through the project's image builder (images/build-image.sh): the
#   base image comes from the offline build-base.sh and every wheel is resolved on the host
#   (PIP_INDEX_URL, PIP_FIND_LINKS and PIP_NO_INDEX are honoured, e.g. a local wheelhouse) and
#   served to the build on a loopback port; nothing is fetched from outside inside the build.
# BASE_IMAGE=<registry image> (e.g. python:3.11-slim-bookworm): step 1 is a plain docker build on
#   that base, pip installing the requirements from the package index inside the build.
# --force rebuilds both images. CHRIS_SINGLEUSER_DEPS_IMAGE names the dependency image's repository.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DOCKER=/usr/bin/docker
force=()
if [ "${1:-}" = --force ]; then force=(--force); shift; fi
TAG=${1:-${CHRIS_SINGLEUSER_IMAGE:-chris-jupyter/singleuser:latest}}
DEPS_REPO=${CHRIS_SINGLEUSER_DEPS_IMAGE:-chris-jupyter/singleuser-deps}
LABEL=org.chris-jupyter.context-hash
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/chris-jupyter
say() { printf 'build-singleuser: %s\n' "$*"; }
die() { printf 'build-singleuser: error: %s\n' "$*" >&2; exit 1; }
if [ -x "$REPO/.venv/bin/python" ]; then py=$REPO/.venv/bin/python; else py=python3; fi
builder=$REPO/images/build-image.sh   # the project's offline image builder
mkdir -p "$CACHE"

ctx=$(mktemp -d)
deps_ctx=$(mktemp -d)
src=$(mktemp -d)
trap 'rm -rf "$ctx" "$deps_ctx" "$src"' EXIT
# chris_jupyter's sources (what git tracks or would; no caches or build output)
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$REPO" && git ls-files -co --exclude-standard -z -- pyproject.toml README.md chris_jupyter jupyter-config \
     | tar --null --ignore-failed-read -T - -cf -) | tar -C "$src" -xf -
else
  tar -C "$REPO" --exclude=__pycache__ --exclude=node_modules -cf - pyproject.toml README.md chris_jupyter \
    jupyter-config | tar -C "$src" -xf -
fi
[ -f "$src/chris_jupyter/__init__.py" ] || die "no chris_jupyter sources found in $REPO"

# -- 1. the dependency image ---------------------------------------------------------------------------
cp "$HERE/Dockerfile.deps" "$deps_ctx/Dockerfile"
{
  cat "$HERE/requirements.txt"
  echo "# chris_jupyter's own dependencies (pyproject.toml)"
  "$py" -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
    "$src/pyproject.toml"
} >"$deps_ctx/requirements.txt"
deps_hash=$({ cat "$deps_ctx/Dockerfile" "$deps_ctx/requirements.txt"; echo "${BASE_IMAGE:-offline}"; } \
  | sha256sum | cut -c1-16)
DEPS_IMAGE=$DEPS_REPO:$deps_hash
exec 9>"$CACHE/.singleuser-deps.lock"
flock 9   # two checkouts with the same requirements build the dependency image once
if [ -n "${BASE_IMAGE:-}" ]; then
  if [ ${#force[@]} = 1 ] || ! $DOCKER image inspect "$DEPS_IMAGE" >/dev/null 2>&1; then
    say "docker build $DEPS_IMAGE on $BASE_IMAGE (packages from the index)"
    $DOCKER build --force-rm --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$DEPS_IMAGE" "$deps_ctx"
  fi
else
  [ -f "$builder" ] || die "$builder not found"
  # the base image's id is in the builder's own hash: a rebuilt base rebuilds this image under the same tag
  CHRIS_IMAGE_SERVE_WHEELS=1 bash "$builder" "${force[@]}" "$deps_ctx" "$DEPS_IMAGE"
fi
flock -u 9
deps_id=$($DOCKER image inspect -f '{{.Id}}' "$DEPS_IMAGE")

# -- 2. chris_jupyter on top ---------------------------------------------------------------------------
hash=$({
  echo "$deps_id"
  sha256sum <"$HERE/Dockerfile"
  sha256sum <"$0"
  (cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} | sha256sum | cut -c1-32)
current=$($DOCKER image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$TAG" 2>/dev/null || true)
if [ ${#force[@]} = 0 ] && [ "$current" = "$hash" ]; then
  say "$TAG is up to date"; exit 0
fi
mkdir -p "$ctx/dist"
cp "$HERE/Dockerfile" "$ctx/"
say "building the chris_jupyter wheel"
# the build backend (hatchling, hatch-jupyter-builder) from the venv when it has it: no isolated env
"$py" -m pip wheel --quiet --no-deps --no-build-isolation -w "$ctx/dist" "$src" </dev/null >/dev/null 2>&1 \
  || "$py" -m pip wheel --quiet --no-deps -w "$ctx/dist" "$src" </dev/null >/dev/null \
  || die "building the chris_jupyter wheel failed"
old_id=$($DOCKER image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
say "docker build $TAG on $DEPS_IMAGE"
build_log=$CACHE/build-singleuser-$(printf '%s' "$TAG" | tr -c 'A-Za-z0-9_.-' '_').log
if ! $DOCKER build --force-rm --build-arg "DEPS_IMAGE=$DEPS_IMAGE" --label "$LABEL=$hash" -t "$TAG" "$ctx" \
    </dev/null >"$build_log" 2>&1; then
  tail -n 30 "$build_log"; die "failed: docker build $TAG (log: $build_log)"
fi
new_id=$($DOCKER image inspect -f '{{.Id}}' "$TAG")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  $DOCKER rmi "$old_id" >/dev/null 2>&1 || true   # the tag's previous image, when nothing else uses it
fi
say "$TAG built"
