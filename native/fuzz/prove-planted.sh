#!/bin/sh
# Proves the protocol targets catch bugs: plants one at a time in a copy of native/
# (a temporary directory, never the tree), builds the harness against the copy, runs
# the target that should catch it, and requires a failure. Prints, per bug, how long
# the harness took and what it reported.
#
#   native/fuzz/prove-planted.sh [SECONDS_EACH [NAME_FILTER]]
#
# Every plant is a one-line change to native/proto/*.c, the kind of slip each parser
# invites: an off-by-one, a missed check, a wrong shift, a buffer sized wrong.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-30}
filter=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
missed=0

plant() { # NAME FILE TARGET OLD NEW
  case "$1" in *"$filter"*) ;; *) return 0 ;; esac
  dir="$work/$1"
  mkdir -p "$dir"
  cp -r "$here"/../*.c "$here"/../*.h "$here"/../proto "$dir"/
  OLD=$4 NEW=$5 perl -0pi -e '($n = s/\Q$ENV{OLD}\E/$ENV{NEW}/g) == 1 or die "plant '"$1"': the line is not there once\n"' "$dir/proto/$2"
  bin=$("$here/build.sh" "$dir/out" "$dir" 2>"$dir/build.err") || { cat "$dir/build.err" >&2; exit 2; }
  start=$(date +%s%N)
  if "$bin" --target "$3" --seconds "$seconds" >"$dir/out.txt" 2>"$dir/err.txt"; then
    echo "$1: NOT CAUGHT in $seconds s by $3"
    missed=$((missed + 1))
  else
    ms=$((($(date +%s%N) - start) / 1000000))
    if grep -q MISMATCH "$dir/err.txt"; then # the line after it says what differed
      what=$(grep -m1 -A1 MISMATCH "$dir/err.txt" | tail -1 | sed 's/^connlab-fuzz: //' | cut -c1-100)
    else
      what=$(grep -m1 -oE "AddressSanitizer: [a-z-]+|runtime error: .{0,60}" "$dir/err.txt" || echo "exit status")
    fi
    case_=$(grep -m1 -oE "case [^ ,]+" "$dir/err.txt" || true)
    echo "$1: caught by $3 ($case_) in $ms ms: $what"
  fi
}

plant http-chunk-off-by-one http.c proto-http '  r->remaining = x;' '  r->remaining = x + 1;'
plant http-hex-digit http.c proto-http "c - 'a' + 10" "c - 'a' + 9"
plant http-trailers-end-early http.c proto-http '      return empty ? HTTP_COMPLETE : HTTP_MORE;' '      return HTTP_COMPLETE;'
plant http-304-reads-body http.c proto-http 'if (s == 204 || s == 304) return HTTP_COMPLETE;' 'if (s == 204) return HTTP_COMPLETE;'
plant http-close-token http.c proto-http 'if (has_token(v, vlen, "close"))' 'if (vlen == 5 && name_is(v, 5, "close"))'
plant http-only-100-interim http.c proto-http '  if (s < 200) {' '  if (s == 100) {'
plant http-long-length-line http.c proto-http '  if (ours && r->line_over) return -1;' '  (void)ours;'
plant ws-missed-mask-bit ws.c proto-ws 'if ((b0 & 0x70) || (b1 & 0x80) || (len >> 63))' 'if ((b0 & 0x70) || (len >> 63))'
plant ws-64bit-length-low-half ws.c proto-ws 'len = be(f->hdr + 2, 8);' 'len = be(f->hdr + 6, 4);'
plant ws-mask-index ws.c proto-ws 'payload[i] ^ b[2 + (i & 3)];' 'payload[i] ^ b[2 + (i % 3)];'
plant ws-head-unbounded ws.c proto-ws '      size_t keep = room < take ? room : take;' '      size_t keep = take; (void)room;'
plant ws-continuation-is-message ws.c proto-ws '  f->msg_head = op == 1 || op == 2;' '  f->msg_head = op < 8;'
plant ws-pong-overflow-closes ws.c proto-ws 'answer(out, base, 10, f->head, (size_t)full, s->mask) != 0' 'ws_frame_write(out, 10, f->head, (size_t)full, s->mask) != 0'
plant mqtt-varint-shift mqtt.c proto-mqtt '<< (7 * (s->hdr_len - 1));' '<< (7 * s->hdr_len - 7 + (s->hdr_len > 2));'
plant mqtt-varint-five-bytes mqtt.c proto-mqtt 'if (++s->hdr_len > 4)' 'if (++s->hdr_len > 5)'
plant mqtt-unasked-pingresp mqtt.c proto-mqtt '} else if (type == 13 && s->outstanding) {' '} else if (type == 13) {'
plant mqtt-pubrel-flags mqtt.c proto-mqtt '      return flags != 2 ? PV_PROTOCOL : PV_OK;' '      return PV_OK;'
plant conn-idle-as-peer client.c proto-conn 'if (!s->outstanding) return CR_IDLE;' 'if (!s->outstanding) return CR_PEER;'
plant conn-answer-buffer-128 client.c proto-conn '  uint8_t buf[256];' '  uint8_t buf[128];'
plant conn-refused-as-server client.c proto-conn 'return v == PV_REFUSED ? CR_REFUSED : CR_SERVER;' 'return CR_SERVER;'
plant conn-code-key-15-bits client.c proto-conn '(code & 0xffff);' '(code & 0x7fff);'
plant conn-ws-pong-overflow-closes ws.c proto-conn 'answer(out, base, 10, f->head, (size_t)full, s->mask) != 0' 'ws_frame_write(out, 10, f->head, (size_t)full, s->mask) != 0'

if [ "$missed" -ne 0 ]; then
  echo "prove-planted: $missed planted bug(s) went unnoticed" >&2
  exit 1
fi
echo "prove-planted: every planted bug was caught"
