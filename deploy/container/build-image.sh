#!/usr/bin/env bash
# Builds connlab's image from the packed package, the way a release would: `npm pack`
# (compiled lib/, prebuilt native binaries), then deploy/Dockerfile on a slim Node base.
#
#   deploy/container/build-image.sh [TAG]        (default localhost/connlab:<version>)
#
# BASE (env) picks the base image; without it, the one deploy/container/build-base.sh makes
# from Debian's packages is built if missing (no image registry needed). Uses buildah
# (chroot isolation: works without a container daemon or user namespaces).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=$(node -p "require('$root/package.json').version")
tag=${1:-localhost/connlab:$version}
base=${BASE:-localhost/connlab-node-base:24-bookworm}
if [ -z "${BASE:-}" ] && ! podman image exists "$base"; then
  "$root/deploy/container/build-base.sh" "$base" >/dev/null
fi
ctx=$(mktemp -d /tmp/connlab-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
(cd "$root" && npm pack --silent --pack-destination "$ctx" >/dev/null)
cp "$root/deploy/Dockerfile" "$ctx/Dockerfile"

args=(--quiet --isolation chroot --network host --layers=false --build-arg "BASE=$base" -t "$tag")
# A TLS-intercepting proxy's CA, as npm here is configured with it, goes in read-only.
cafile=$(npm config get cafile 2>/dev/null || true)
if [ -n "$cafile" ] && [ "$cafile" != "null" ] && [ -f "$cafile" ]; then
  args+=(--volume "$cafile:/run/connlab-build-ca.pem:ro" --build-arg NPM_CONFIG_CAFILE=/run/connlab-build-ca.pem)
fi
buildah bud "${args[@]}" "$ctx" >/dev/null
echo "$tag"
