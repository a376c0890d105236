#!/bin/sh
# Installs what the benchmarks in bench/ need beyond npm install: nginx, the reference
# server bench/engine.ts compares connlab serve with. Idempotent: does nothing when nginx
# is already there. Debian/Ubuntu (apt), needs root. The package's own service is left
# alone; the benchmark runs nginx with its own config in a temp dir.
#
#   sh bench/setup.sh
set -eu

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx already installed: $( (nginx -v || /usr/sbin/nginx -v) 2>&1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/setup.sh: no apt-get here; install nginx by hand" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/setup.sh: installing nginx needs root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# nginx-light is Debian's smallest build (bookworm and older); newer releases ship plain nginx.
if ! apt-get install -y --no-install-recommends nginx-light; then
  apt-get update
  apt-get install -y --no-install-recommends nginx-light || apt-get install -y --no-install-recommends nginx
fi
# Without systemd the package cannot start its service, but with one it may have:
# stop only the service the package started, never a process by name.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  systemctl stop nginx || true
fi
echo "installed: $(/usr/sbin/nginx -v 2>&1)"
