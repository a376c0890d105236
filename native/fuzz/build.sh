#!/bin/sh
# Builds the sanitizer fuzz harness (fuzz.h says what it does) with gcc or $CC alone, no
# node-gyp: binding.c needs node_api.h, the harness links the holder without it.
#
#   native/fuzz/build.sh [OUT_DIR [HOLDER_SRC_DIR]]
#
# OUT_DIR defaults to build/fuzz; HOLDER_SRC_DIR (default native/) is where holder.h,
# loop.c, conn.c and the rest of the core come from (prove-issue-8.sh points it at the
# code before the fix). Prints the path of the binary: connlab-fuzz, or with
# FUZZER=libfuzzer CC=clang (Debian's clang package) connlab-libfuzzer, libFuzzer's
# driver around the targets' one_input.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/fuzz}
src=${2:-$here/..}
cc=${CC:-gcc}
name=connlab-fuzz
sanitize=address,undefined
if [ "${FUZZER:-}" = libfuzzer ]; then
  name=connlab-libfuzzer
  sanitize=fuzzer,address,undefined
  set -- -DCONNLAB_LIBFUZZER
else
  set --
fi
mkdir -p "$out"
# The holder core: every .c beside holder.h except the addon (binding.c), the TLS
# handshake (tls.c: the harness starts connections after it) and the listener (sockets
# the harness does not open). tls13.c and ossl.c are in: the tls13-records target runs
# the record path on libcrypto loaded at run time, as the C worker does.
core=$(ls "$src"/*.c | grep -v -e /binding.c -e /tls.c -e /listener.c -e /test-binding.c)
# The client protocols (native/proto/) that conn.c calls; absent from trees older than
# them, such as the pre-fix code prove-issue-8.sh builds.
proto=$(ls "$src"/proto/*.c 2>/dev/null || true)
# Their targets, which need them.
targets=
if [ -n "$proto" ]; then
  targets="-DCONNLAB_FUZZ_PROTO $here/proto-common.c $here/proto-http.c $here/proto-ws.c $here/proto-mqtt.c $here/proto-conn.c"
fi
# The TLS 1.3 record target, where the tree has tls13.c (its model uses proto-common.c).
if [ -f "$src/tls13.c" ] && [ -n "$proto" ]; then
  targets="$targets -DCONNLAB_FUZZ_TLS13 $here/tls13-model.c $here/tls13-link.c $here/tls13-records.c"
fi
# shellcheck disable=SC2086
$cc -std=gnu11 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=$sanitize -fno-sanitize-recover=all \
  -DCONNLAB_FUZZ -D_GNU_SOURCE -pthread -Wall -Wextra "$@" ${CFLAGS:-} \
  -I"$src" -o "$out/$name" \
  "$here/main.c" "$here/frames-model.c" "$here/frames-parse.c" "$here/frames-conn.c" $targets \
  $core $proto
echo "$out/$name"
