#!/bin/sh
# Pins the Dockerfile's base image to the registry's current digest of its tag (the
# multi-platform index, so the pin holds on amd64 and arm64 alike). Needs docker with
# buildx and access to the registry. Review the change, build, run the tests, commit.
#   deploy/docker/pin-base-image.sh
set -eu
dockerfile="$(dirname "$0")/Dockerfile"
image=$(sed -n 's/^ARG PYTHON_IMAGE=\([^@]*\).*/\1/p' "$dockerfile")
digest=$(docker buildx imagetools inspect "$image" --format '{{json .Manifest}}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
case "$digest" in
  sha256:*) ;;
  *) echo "no digest for $image: $digest" >&2; exit 1 ;;
esac
sed -i "s|^ARG PYTHON_IMAGE=.*|ARG PYTHON_IMAGE=$image@$digest|" "$dockerfile"
echo "$image@$digest"
