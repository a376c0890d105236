// Argument checks and errors every Holder implementation shares, so the native and the
// plain-Node holder refuse the same values with the same codes.

import { ConnlabError, invalidArgument } from '../errors.ts';

export const DEFAULT_BACKLOG = 4096;
export const DEFAULT_MAX_SAMPLES = 100_000;
export const MAX_U32 = 0xffff_ffff;

export function checkInteger(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(option, String(value), `an integer from ${min} to ${max}`);
  }
}

/** connectTimeoutMs and maxSamples with their defaults, validated. */
export function holderSettings(options: { connectTimeoutMs?: number; maxSamples?: number }): {
  connectTimeoutMs: number;
  maxSamples: number;
} {
  const connectTimeoutMs = options.connectTimeoutMs ?? 0;
  const maxSamples = options.maxSamples ?? DEFAULT_MAX_SAMPLES;
  checkInteger('connectTimeoutMs', connectTimeoutMs, 0, MAX_U32);
  checkInteger('maxSamples', maxSamples, 0, MAX_U32);
  return { connectTimeoutMs, maxSamples };
}

export function checkTuples(tuples: Uint32Array): void {
  if (!(tuples instanceof Uint32Array) || tuples.length % 4 !== 0) {
    throw invalidArgument('tuples', String(tuples?.length), 'a Uint32Array of srcIp, srcPort, dstIp, dstPort groups');
  }
  for (let i = 0; i < tuples.length; i += 4) {
    if ((tuples[i + 1] as number) > 0xffff || (tuples[i + 3] as number) > 0xffff || tuples[i + 3] === 0) {
      throw invalidArgument('tuples', `#${i / 4}`, 'ports from 0 to 65535 and a nonzero destination port');
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
