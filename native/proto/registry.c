/* Which protocol a holder speaks: the kind's table of operations (frames_ops for connlab
 * frames, client_ops for the client protocols) and the size of its per-connection state.
 * Called by the addon and the C worker before the first connect, never from below, so
 * naming both tables here closes no loop. */
#include <stdint.h>
#include <unistd.h>

#include "../holder.h"
#include "proto.h"

size_t proto_state_bytes(int kind) {
  switch (kind) {
    case PROTO_HTTP: return sizeof(struct http_client);
    case PROTO_WS: return sizeof(struct ws_client);
    case PROTO_MQTT: return sizeof(struct mqtt_client);
    default: return 0;
  }
}

/* Completes h->proto once its request and strings are set, before the first connect
 * (binding.c's setProtocol, the C worker's start): the kind, the size of its side-table
 * entry, and the seed of WebSocket keys and masks. */
void proto_configure(struct holder *h, int kind) {
  h->pops = kind == PROTO_CONNLAB ? &frames_ops : &client_ops;
  h->proto.seed = ((uint64_t)getpid() << 32) ^ clock_real_us() ^ (uint64_t)(uintptr_t)h;
  h->proto.state_bytes = proto_state_bytes(kind);
  h->proto.kind = kind;
}
