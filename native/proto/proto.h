/* The client protocols load speaks: tcp (nothing), connlab frames (frames.c),
 * HTTP/1.1, WebSocket (RFC 6455) and MQTT 3.1.1. Each parser here is a pure function
 * over bytes: it takes the connection's protocol state, the bytes that arrived, and
 * reports what it saw through a sink; any answer it must send (a WebSocket pong or close
 * echo) is appended to an output buffer. No sockets, clocks or allocation, so the same
 * code is driven by the holder (client.c), by the byte-split tests (test-binding.c's
 * protoFeedForTest) and later by a TLS layer that owns the byte stream. */
#ifndef CONNLAB_PROTO_H
#define CONNLAB_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* PROTO_CONNLAB is 0: a holder nobody configured (serve's) speaks connlab frames. */
enum proto_kind { PROTO_CONNLAB = 0, PROTO_TCP, PROTO_HTTP, PROTO_WS, PROTO_MQTT, PROTO_KINDS };

/* What a feed returns: keep going, or why the connection must close. */
enum proto_verdict {
  PV_OK = -1,
  PV_PROTOCOL = 0,   /* malformed bytes */
  PV_SERVER_CLOSE,   /* the server said goodbye in-protocol: Connection: close, ws close, EOF body */
  PV_REFUSED,        /* the handshake was refused: ws status != 101 or a bad accept, CONNACK rc != 0 */
  PV_HEADERS_TOO_LARGE, /* HTTP: a line past HTTP_LINE_MAX or a header block past HTTP_HEADERS_MAX */
  PV_BODY_TOO_LARGE,    /* HTTP: a response body (framing included) past HTTP_BODY_MAX */
};

/* Kinds of codes a parser reports (sink->code). */
enum proto_code_kind { PC_HTTP_STATUS = 1, PC_WS_CLOSE = 2, PC_MQTT_CONNACK = 3 };

struct proto_sink {
  void *ctx;
  /* A liveness answer: an HTTP response, a WebSocket pong, an MQTT PINGRESP. `gen` is
   * the ping round it answers and `sent_us` when its request left (CLOCK_MONOTONIC). */
  void (*answer)(void *ctx, uint32_t gen, uint64_t sent_us);
  /* A message from the server (WebSocket data, MQTT PUBLISH); stamp_us is the
   * CLOCK_REALTIME µs the payload carried ("connlab-ts:<µs>" prefix) or 0. */
  void (*message)(void *ctx, uint64_t stamp_us);
  void (*code)(void *ctx, int kind, uint32_t code);
  /* Optional (NULL: not wanted): the bytes that broke the protocol, from the state and
   * the input (a frame header that began in an earlier read, the start of a bad line),
   * at most PROTO_BAD_BYTES; reported just before a verdict other than PV_OK. */
  void (*bad)(void *ctx, const uint8_t *p, size_t n);
};

#define PROTO_BAD_BYTES 16

struct proto_out {
  uint8_t *buf;
  size_t len, cap;
};

/* ---- HTTP/1.1 responses (http.c) ---- */

/* The limits of one response (docs/protocol-edges.md). A hostile or broken server must
 * not hold a connection reading forever: an endless header block or body closes it with
 * its own reason. Overridable at build time (-D) for tests only. */
#define HTTP_LINE_KEEP 64 /* the part of a line kept: status line, the headers we read, chunk sizes */
#ifndef HTTP_LINE_MAX
#define HTTP_LINE_MAX 8192 /* bytes of one line, its LF included (nginx's large_client_header_buffers) */
#endif
#ifndef HTTP_HEADERS_MAX
#define HTTP_HEADERS_MAX 65536 /* status line and headers of a response, interim (1xx) ones included */
#endif
#ifndef HTTP_BODY_MAX
#define HTTP_BODY_MAX (4u << 20) /* bytes after the header block: body, chunk framing, trailers */
#endif
_Static_assert(HTTP_LINE_MAX < 65536 && HTTP_LINE_MAX > HTTP_LINE_KEEP, "line_len is 16 bits");
_Static_assert(HTTP_BODY_MAX < 0xffffffffu && HTTP_HEADERS_MAX < 0xffffffffu, "the counters are 32 bits");

struct http_resp {
  uint8_t line[HTTP_LINE_KEEP];
  uint64_t remaining;  /* body or chunk bytes still to skip */
  uint32_t head_bytes; /* of the header block so far, interim responses included */
  uint32_t body_bytes; /* after the header block so far */
  uint16_t status;
  uint16_t line_len; /* bytes of the current line so far (the first HTTP_LINE_KEEP kept), LF excluded */
  uint8_t phase;     /* enum http_phase */
  uint8_t flags;     /* HF_* */
  uint8_t ws_ok;     /* WebSocket handshake headers seen (WS_OK_* bits) */
  uint8_t pad;
};

enum http_done { HTTP_MORE = 0, HTTP_COMPLETE, HTTP_ERROR, HTTP_HEADERS_TOO_LARGE, HTTP_BODY_TOO_LARGE };

/* Feeds bytes of one response. Returns HTTP_COMPLETE when a final response ended at
 * *used bytes (the rest belongs to what follows), HTTP_ERROR on malformed input,
 * HTTP_HEADERS_TOO_LARGE / HTTP_BODY_TOO_LARGE at the first byte past a limit above, or
 * HTTP_MORE having consumed all n. `expect_accept` (28 chars) is checked against
 * Sec-WebSocket-Accept when non-NULL; 101 then ends the response at its headers. */
int http_resp_feed(struct http_resp *r, const uint8_t *p, size_t n, size_t *used, const char *expect_accept);
/* The verdict for an http_resp_feed result other than HTTP_MORE / HTTP_COMPLETE. */
int http_verdict(int done);
/* Reports the current line's kept bytes (and `extra`, the byte that broke it, if >= 0) as bad. */
void http_report_bad(const struct http_resp *r, int extra, const struct proto_sink *sink);
void http_resp_reset(struct http_resp *r);
/* The response is complete only at EOF (no length, not chunked): the server's close ends it. */
int http_resp_until_eof(const struct http_resp *r);
int http_resp_wants_close(const struct http_resp *r);

#define WS_OK_UPGRADE 1
#define WS_OK_CONNECTION 2
#define WS_OK_ACCEPT 4
#define WS_OK_BAD_ACCEPT 8

/* http client: one request outstanding at most */
struct http_client {
  struct http_resp r;
  uint64_t sent_us;
  uint32_t gen;
  uint8_t outstanding;
  uint8_t want_ping; /* a round came while busy: send its request when the answer is in */
  uint8_t pad[2];
};

int http_client_feed(struct http_client *s, const uint8_t *p, size_t n, const struct proto_sink *sink);

/* ---- WebSocket (ws.c) ---- */

/* Payload bytes of a frame kept: a whole control frame (RFC 6455 5.5: at most 125), so
 * a ping is echoed and a close reason checked whatever the read boundaries; of a data
 * frame, its start (a timestamp prefix). */
#define WS_HEAD_KEEP 125

struct ws_frame {
  uint64_t remaining;
  uint8_t hdr[14];
  uint8_t hdr_len, hdr_need;
  uint8_t head[WS_HEAD_KEEP];
  uint8_t head_len;
  uint8_t opcode;    /* of the frame being read */
  uint8_t msg_op;    /* opcode of the fragmented message in progress, 0 when none */
  uint8_t msg_head;  /* 1 while the current frame's head is the message's first bytes */
};

struct ws_client {
  union {
    struct http_resp handshake;
    struct ws_frame frame;
  } u;
  uint8_t open;    /* handshake done */
  uint8_t closing; /* we sent a close frame */
  uint8_t want_ping; /* a round came during the handshake: ping when it completes */
  uint8_t pad;
  uint32_t mask;   /* masking key of this connection's frames (set at connect) */
};

/* Writes the request head's Sec-WebSocket-Key line value (24 chars) and the expected
 * accept (28 chars) for a 16-byte nonce. */
void ws_key_for(const uint8_t nonce[16], char key[25], char accept[29]);
int ws_client_feed(struct ws_client *s, const uint8_t *p, size_t n, const char *expect_accept,
                   const struct proto_sink *sink, struct proto_out *out);
/* RFC 6455 7.4: a close code a peer may send; and well-formed UTF-8 (a close reason). */
int ws_close_code_valid(uint32_t code);
int ws_utf8_valid(const uint8_t *p, size_t n);
/* A masked client frame (opcode, payload <= 125) appended to out; -1 if it does not fit. */
int ws_frame_write(struct proto_out *out, uint8_t opcode, const uint8_t *payload, size_t len, uint32_t mask);
void sha1(const uint8_t *data, size_t len, uint8_t digest[20]);
size_t base64_encode(const uint8_t *in, size_t len, char *out);
/* Parses a "connlab-ts:<decimal µs>" payload prefix; 0 when absent. */
uint64_t proto_stamp(const uint8_t *p, size_t n);

/* ---- MQTT 3.1.1 (mqtt.c) ---- */

struct mqtt_client {
  uint64_t sent_us;   /* PINGREQ sent */
  uint32_t remaining; /* bytes of the current packet's body still to read */
  uint32_t gen;
  uint32_t rem_len;   /* remaining length being decoded */
  uint8_t type;       /* fixed header byte of the current packet */
  uint8_t hdr_len;    /* fixed header bytes read: 0 none, 1 type, 2.. length bytes */
  uint8_t body[2];    /* CONNACK's two bytes */
  uint8_t body_len;
  uint8_t connected;  /* CONNACK 0 seen */
  uint8_t outstanding;
  uint8_t want_ping; /* a round came before CONNACK or with a PINGREQ out: ping when free */
};

struct mqtt_connect_opts {
  const char *client_id;
  const char *username; /* NULL: none */
  const char *password; /* NULL: none */
  uint16_t keepalive_s;
};

/* Appends a CONNECT packet; -1 if it does not fit. */
int mqtt_connect_write(struct proto_out *out, const struct mqtt_connect_opts *o);
int mqtt_client_feed(struct mqtt_client *s, const uint8_t *p, size_t n, const struct proto_sink *sink);

/* out.c: the answers buffer (proto_out_append); registry.c: state sizes by kind */
int proto_out_append(struct proto_out *out, const void *p, size_t len);
size_t proto_state_bytes(int kind);

#endif
