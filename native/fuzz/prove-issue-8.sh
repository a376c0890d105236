#!/bin/sh
# Proves the harness catches issue 8: builds it against the holder as it was before the
# fix (commit aef1892's parent, read from git into a temporary directory, never into the
# tree) and runs it; the run must die with AddressSanitizer's heap-buffer-overflow. Then
# the same run against the current tree must pass, so the failure is the old bug's and
# not the build's (test/hardening/fuzz-native.test.ts runs this).
#
#   native/fuzz/prove-issue-8.sh [connlab-fuzz arguments, e.g. --target frames-conn]
#
# The old code itself changes in one place: its parser was `static int parse`, which the
# fix exported for the harness (now frames_parse in proto/frames.c); the same rename here
# lets it link. The frame targets are today's; pre-fix.h (CONNLAB_FUZZ_PRE_FIX) spells
# the few holder calls they make the old way.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
if ! git cat-file -e 'aef1892^:native/conn.c' 2>/dev/null; then
  echo "prove-issue-8: commit aef1892^ is not in this clone's history (a shallow clone? git fetch --unshallow)" >&2
  exit 2
fi
old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
for f in holder.h loop.c conn.c frame.c samples.c; do git show "aef1892^:native/$f" >"$old/$f"; done
sed -i 's/^static int parse(/int frames_parse(/; s/= parse(h, /= frames_parse(h, /' "$old/conn.c"
bin=$(CFLAGS="${CFLAGS:-} -DCONNLAB_FUZZ_PRE_FIX" "$here/build.sh" "$old/out" "$old")
if "$bin" "$@" 2>"$old/stderr"; then
  echo "prove-issue-8: the harness passed the pre-fix code: it does not catch the bug" >&2
  exit 1
fi
cat "$old/stderr" >&2
if ! grep -q 'AddressSanitizer: heap-buffer-overflow' "$old/stderr"; then
  echo "prove-issue-8: the harness failed on the pre-fix code, but not with the heap-buffer-overflow of issue 8" >&2
  exit 1
fi
echo "prove-issue-8: the harness failed on the pre-fix code with a heap-buffer-overflow, as it must" >&2
now=$("$here/build.sh" "$old/now")
if ! "$now" "$@"; then
  echo "prove-issue-8: the same run failed on the current code too: the proof above proves nothing" >&2
  exit 1
fi
echo "prove-issue-8: and passed on the current code" >&2
