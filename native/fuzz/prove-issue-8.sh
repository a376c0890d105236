#!/bin/sh
# Proves the harness catches issue 8: builds it against the holder as it was before the
# fix (commit aef1892's parent, read from git into a temporary directory, never into the
# tree) and runs it; the run must die with AddressSanitizer's heap-buffer-overflow.
#
#   native/fuzz/prove-issue-8.sh [connlab-fuzz arguments, e.g. --target frames-conn]
#
# The only change to the old code: its parser was `static int parse`, which the fix
# exported for the harness (now frames_parse in proto/frames.c); the same rename here lets it link.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
for f in holder.h loop.c conn.c frame.c samples.c; do git show "aef1892^:native/$f" >"$old/$f"; done
sed -i 's/^static int parse(/int frames_parse(/; s/= parse(h, /= frames_parse(h, /' "$old/conn.c"
bin=$("$here/build.sh" "$old/out" "$old")
if "$bin" "$@"; then
  echo "prove-issue-8: the harness passed the pre-fix code: it does not catch the bug" >&2
  exit 1
fi
echo "prove-issue-8: the harness failed on the pre-fix code, as it must" >&2
