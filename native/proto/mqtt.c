/* MQTT 3.1.1 client packets: CONNECT out, and the broker's packets in: CONNACK (first,
 * exactly 2 bytes, return code reported; nonzero refuses), PINGRESP (answers the
 * outstanding PINGREQ), PUBLISH (counted as a message, body skipped) and the other
 * broker-to-client acks (skipped). A packet type a broker never sends, a malformed
 * remaining length or anything before CONNACK but CONNACK is a protocol error. */
#include <string.h>

#include "proto.h"

static int put_u16(struct proto_out *o, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return proto_out_append(o, b, 2);
}

static int put_str(struct proto_out *o, const char *s) {
  size_t n = strlen(s);
  if (n > 0xffff) return -1;
  return put_u16(o, (uint16_t)n) || proto_out_append(o, s, n) ? -1 : 0;
}

int mqtt_connect_write(struct proto_out *out, const struct mqtt_connect_opts *o) {
  size_t rem = 10 + 2 + strlen(o->client_id);
  uint8_t flags = 0x02; /* clean session */
  if (o->username) rem += 2 + strlen(o->username), flags |= 0x80;
  if (o->password) rem += 2 + strlen(o->password), flags |= 0x40;
  if (rem > 0x0fffffff) return -1;
  uint8_t head[5] = {0x10};
  size_t h = 1;
  size_t v = rem;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    head[h++] = (uint8_t)(b | (v ? 0x80 : 0));
  } while (v);
  static const uint8_t proto[7] = {0, 4, 'M', 'Q', 'T', 'T', 4};
  size_t before = out->len;
  if (proto_out_append(out, head, h) || proto_out_append(out, proto, 7) || proto_out_append(out, &flags, 1) ||
      put_u16(out, o->keepalive_s) || put_str(out, o->client_id) || (o->username && put_str(out, o->username)) ||
      (o->password && put_str(out, o->password))) {
    out->len = before;
    return -1;
  }
  return 0;
}

/* The packet's fixed header and remaining length are known. */
static int packet_start(struct mqtt_client *s) {
  uint8_t type = s->type >> 4, flags = s->type & 0x0f;
  if (!s->connected && type != 2) return PV_PROTOCOL;
  switch (type) {
    case 2: /* CONNACK */
      return s->connected || flags || s->rem_len != 2 ? PV_PROTOCOL : PV_OK;
    case 13: /* PINGRESP */
      return flags || s->rem_len != 0 ? PV_PROTOCOL : PV_OK;
    case 3: /* PUBLISH */
      return (flags & 6) == 6 ? PV_PROTOCOL : PV_OK;
    case 4: case 5: case 7: case 9: case 11: /* PUBACK PUBREC PUBCOMP SUBACK UNSUBACK */
      return flags ? PV_PROTOCOL : PV_OK;
    case 6: /* PUBREL */
      return flags != 2 ? PV_PROTOCOL : PV_OK;
    default: /* CONNECT SUBSCRIBE UNSUBSCRIBE PINGREQ DISCONNECT, 0, 15: never from a broker */
      return PV_PROTOCOL;
  }
}

static int packet_done(struct mqtt_client *s, const struct proto_sink *sink) {
  uint8_t type = s->type >> 4;
  if (type == 2) {
    sink->code(sink->ctx, PC_MQTT_CONNACK, s->body[1]);
    if (s->body[1] != 0) return PV_REFUSED;
    s->connected = 1;
  } else if (type == 13 && s->outstanding) {
    s->outstanding = 0;
    sink->answer(sink->ctx, s->gen, s->sent_us);
  } else if (type == 3) {
    sink->message(sink->ctx, 0);
  }
  return PV_OK;
}

int mqtt_client_feed(struct mqtt_client *s, const uint8_t *p, size_t n, const struct proto_sink *sink) {
  while (n > 0) {
    if (s->hdr_len == 0) {
      s->type = *p++;
      n--;
      s->hdr_len = 1;
      s->rem_len = 0;
      continue;
    }
    if (s->hdr_len > 0 && s->hdr_len < 0x80) { /* reading the remaining length */
      uint8_t b = *p++;
      n--;
      s->rem_len |= (uint32_t)(b & 0x7f) << (7 * (s->hdr_len - 1));
      if (b & 0x80) {
        if (++s->hdr_len > 4) return PV_PROTOCOL; /* at most 4 length bytes */
        continue;
      }
      int v = packet_start(s);
      if (v != PV_OK) return v;
      s->hdr_len = 0x80; /* body */
      s->remaining = s->rem_len;
      s->body_len = 0;
    } else {
      size_t take = n < s->remaining ? n : s->remaining;
      for (size_t i = 0; i < take && s->body_len < 2; i++) s->body[s->body_len++] = p[i];
      p += take;
      n -= take;
      s->remaining -= (uint32_t)take;
    }
    if (s->hdr_len == 0x80 && s->remaining == 0) {
      s->hdr_len = 0;
      int v = packet_done(s, sink);
      if (v != PV_OK) return v;
    }
  }
  return PV_OK;
}
