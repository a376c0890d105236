// Argument checks and errors every Holder implementation shares, so the native and the
// plain-Node holder refuse the same values with the same codes.

import { ConnlabError, invalidArgument } from '../errors.ts';
import type { HolderOptions } from './holder.ts';

export const DEFAULT_BACKLOG = 4096;
export const DEFAULT_MAX_SAMPLES = 100_000;
export const MAX_U32 = 0xffff_ffff;

/**
 * 64 KiB: a healthy peer's answers leave at once, so unsent bytes pile up only while the
 * peer takes nothing. The kernel checks the size per segment, so one whole answer to a
 * full read (65,551 B, holder.h) still fits with nothing else queued, as do connlab's
 * 16-byte frames by the thousand; a client that pipelines more than ~128 KiB of echoes
 * before it reads is closed (README, "Slow peers and kernel memory"). SO_SNDBUF becomes
 * 128 KiB: the cap on everything queued, in flight included.
 */
export const DEFAULT_SEND_BUFFER_BYTES = 64 * 1024;
/**
 * 30 s of a peer taking none of our queued data: long past a few lost retransmissions,
 * short enough that a stalled peer's queue is freed within a minute. Idle connections
 * (nothing queued) never time out.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
const MIN_SEND_BUFFER_BYTES = 4096;
const MAX_SEND_BUFFER_BYTES = 2 ** 30; // the kernel clamps further to net.core.wmem_max
const MAX_STALL_TIMEOUT_MS = 0x7fff_ffff; // TCP_USER_TIMEOUT is a signed int


export function checkInteger(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(option, String(value), `an integer from ${min} to ${max}`);
  }
}

/** sendBufferBytes: 0 (the kernel's autotuning) or 4 KiB to 1 GiB; `option` names it in the error. */
export function checkSendBufferBytes(option: string, value: number): void {
  const inRange = value >= MIN_SEND_BUFFER_BYTES && value <= MAX_SEND_BUFFER_BYTES;
  if (!Number.isInteger(value) || (value !== 0 && !inRange)) {
    throw invalidArgument(option, String(value), `0 (the kernel's autotuning) or a byte count from ${MIN_SEND_BUFFER_BYTES} to ${MAX_SEND_BUFFER_BYTES}`);
  }
}

/** stallTimeoutMs: 0 (the kernel's own retries) up to 2^31 - 1 ms. */
export function checkStallTimeoutMs(option: string, value: number): void {
  checkInteger(option, value, 0, MAX_STALL_TIMEOUT_MS);
}

/** Every numeric HolderOptions value with its default, validated (the protocol and TLS are checked where they are set). */
export function holderSettings(options: HolderOptions): Required<Omit<HolderOptions, 'protocol' | 'serverTls' | 'addresses6'>> {
  const settings = {
    connectTimeoutMs: options.connectTimeoutMs ?? 0,
    maxSamples: options.maxSamples ?? DEFAULT_MAX_SAMPLES,
    sendBufferBytes: options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES,
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
  };
  checkInteger('connectTimeoutMs', settings.connectTimeoutMs, 0, MAX_U32);
  checkInteger('maxSamples', settings.maxSamples, 0, MAX_U32);
  checkSendBufferBytes('sendBufferBytes', settings.sendBufferBytes);
  checkStallTimeoutMs('stallTimeoutMs', settings.stallTimeoutMs);
  return settings;
}

export function checkTuples(tuples: Uint32Array): void {
  if (!(tuples instanceof Uint32Array) || tuples.length % 4 !== 0) {
    throw invalidArgument('tuples', String(tuples?.length), 'a Uint32Array of srcIp, srcPort, dstIp, dstPort groups');
  }
  for (let i = 0; i < tuples.length; i += 4) {
    // The destination port word may carry TUPLE_IPV6 (0x10000) above the port.
    const dstPort = (tuples[i + 3] as number) & ~0x10000;
    if ((tuples[i + 1] as number) > 0xffff || dstPort > 0xffff || dstPort === 0) {
      throw invalidArgument('tuples', `#${i / 4}`, 'ports from 0 to 65535, a nonzero destination port, TUPLE_IPV6 only as the flag');
    }
  }
}

export function checkPayload(payload: Uint8Array | undefined): void {
  if (payload !== undefined && (!(payload instanceof Uint8Array) || payload.byteLength > 0xffff)) {
    throw invalidArgument('payload', String(payload?.byteLength), 'a Uint8Array of at most 65535 bytes');
  }
}

export function holderDestroyed(): ConnlabError {
  return new ConnlabError('CONNLAB_ERR_HOLDER_DESTROYED', 'this holder was destroyed');
}

/** CONNLAB_ERR_LISTEN around the OS error, whose `code` names the errno. */
export function listenFailed(host: string, port: number, cause: unknown): ConnlabError {
  const code = (cause as { code?: unknown } | null)?.code;
  return new ConnlabError('CONNLAB_ERR_LISTEN', `cannot listen on ${host}:${port}: ${String(code)}`, {
    hint: code === 'EADDRINUSE' ? 'another program holds this address without SO_REUSEPORT; pick another port' : undefined,
    cause,
  });
}

/**
 * The classic ECDHE groups both ends use by default, without OpenSSL 3.5's default hybrid
 * X25519MLKEM768 key share: a connection that keeps its SSL keeps its key share, and the
 * hybrid one cost 9 KB more per connection (39 KB vs 31 KB private) and slowed the ramp
 * against nginx, whose OpenSSL 3.0 does not know the group (README "TLS").
 */
export const DEFAULT_TLS_GROUPS = 'X25519:P-256:P-384';
