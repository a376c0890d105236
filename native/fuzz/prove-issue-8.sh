#!/bin/sh
# Proves the harness catches issue 8: builds it against the holder as it was before the
# fix (commit aef1892's parent, kept verbatim in native/fuzz/pre-fix/ so the proof needs
# no git history, since CI may clone with --depth 1) and runs it; the run must die with
# AddressSanitizer's heap-buffer-overflow. Then
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
old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
# The five files of the holder at aef1892^ (`git show aef1892^:native/FILE` recreates them).
cp "$here/pre-fix/holder.h" "$here/pre-fix/loop.c" "$here/pre-fix/conn.c" "$here/pre-fix/frame.c" "$here/pre-fix/samples.c" "$old/"
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
