/* The names of the holder's counters, in enum stat_index order: the N-API binding and
 * the C worker both export them, so there is one list. */
#include "holder.h"

const char *const holder_stat_names[ST_COUNT] = {
    "established",     "peakEstablished", "pending",       "queued",
    "accepted",        "connected",       "closedPeer",    "closedReset",
    "closedProtocol",  "closedSlow",      "closedLocal",   "closedTimeout",
    "closedChurn",
    "acceptBackoffs",  "pingsSent",       "pongsReceived", "verified",
    "broadcastsSent",  "broadcastsReceived", "bytesIn",    "bytesOut",
    "samplesDropped",  "listeners",       "closedServer",  "closedIdle",
    "closedRefused",   "closedKeepalive", "closedEarly",   "silent",
    "closedTls",       "tlsHandshakes",
    "closedHttpHeaders", "closedHttpBody",
};
