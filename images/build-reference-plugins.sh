#!/usr/bin/env bash
# Build the offline base image and the reference plugin images (chris-jupyter/pl-<name>:<version>),
# so that `chris-jupyter up` registers them and runs plugins in Docker.
# usage: images/build-reference-plugins.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bash "$here/build-base.sh"
for dir in "$repo"/plugins/pl-*/; do
  name=$(basename "$dir")
  version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$dir/pyproject.toml" | head -n1)
  echo "building chris-jupyter/$name:$version"
  bash "$here/build-image.sh" "$dir" "chris-jupyter/$name:$version"
done
