// Sums the latest counter snapshots of many workers into one. Pure, so the supervisor's
// arithmetic is tested without processes. Peaks are not summable (workers peak at
// different moments): the supervisor tracks the peak of the summed count itself.

import type { CloseReason, HolderStats } from './holder.ts';

export function emptyClosed(): Record<CloseReason, number> {
  return { peer: 0, reset: 0, protocol: 0, slow: 0, local: 0, timeout: 0, churn: 0, lost: 0, server_close: 0, idle: 0, refused: 0, keepalive: 0, tls: 0, http_headers_too_large: 0, http_body_too_large: 0 };
}

export function emptyStats(): HolderStats {
  return {
    established: 0, peakEstablished: 0, pending: 0, queued: 0, accepted: 0, connected: 0,
    closed: emptyClosed(),
    closedEarly: 0, silent: 0, codes: { http_status: {}, ws_close: {}, mqtt_connack: {} }, protocolBytes: [],
    tls: { handshakes: 0, errors: {} }, errors: {}, acceptBackoffs: 0, pingsSent: 0, pongsReceived: 0, verified: 0,
    broadcastsSent: 0, broadcastsReceived: 0, bytesIn: 0, bytesOut: 0, samplesDropped: 0, listeners: 0,
  };
}

const SCALARS = [
  'established', 'pending', 'queued', 'accepted', 'connected', 'acceptBackoffs', 'pingsSent', 'pongsReceived',
  'verified', 'broadcastsSent', 'broadcastsReceived', 'bytesIn', 'bytesOut', 'samplesDropped', 'listeners',
  'closedEarly', 'silent',
] as const;

/** Protocol-violation samples kept in a sum: a few are enough to show what a server sent. */
const MAX_PROTOCOL_BYTES = 4;

function addRecord(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}

export function sumStats(list: readonly HolderStats[]): HolderStats {
  const total = emptyStats();
  for (const stats of list) {
    for (const key of SCALARS) total[key] += stats[key];
    addRecord(total.closed as Record<CloseReason, number>, stats.closed);
    addRecord(total.errors, stats.errors);
    addRecord(total.codes.http_status, stats.codes.http_status);
    addRecord(total.codes.ws_close, stats.codes.ws_close);
    addRecord(total.codes.mqtt_connack, stats.codes.mqtt_connack);
    total.tls.handshakes += stats.tls.handshakes;
    addRecord(total.tls.errors, stats.tls.errors);
    for (const bytes of stats.protocolBytes) {
      if (total.protocolBytes.length < MAX_PROTOCOL_BYTES && !total.protocolBytes.includes(bytes)) total.protocolBytes.push(bytes);
    }
  }
  total.peakEstablished = total.established;
  return total;
}

/**
 * A worker that exited still owns its totals, but holds nothing now: what it still held
 * at its last report is closed as `lost`. (A graceful close leaves it nothing to lose:
 * its final report comes after closeAll().)
 */
export function retire(stats: HolderStats): HolderStats {
  const closed = { ...stats.closed, lost: (stats.closed.lost ?? 0) + stats.established };
  return { ...stats, closed, established: 0, pending: 0, queued: 0, verified: 0, listeners: 0, peakEstablished: 0, silent: 0 };
}
