// The native connection holder: a typed wrapper over the connlab_holder addon (native/*.c),
// prebuilt in the package or compiled by node-gyp. The addon runs its own epoll loop on
// one pthread per holder and keeps ~32 bytes of state per connection; this file only
// finds and loads the addon, validates arguments, turns the counter arrays into
// HolderStats, and maps errno numbers to names. No per-connection JavaScript objects
// exist anywhere on this path.

import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnlabError, invalidArgument } from '../errors.ts';
import { parseIpv4 } from '../tuple/address.ts';
import { PROTOCOL_CODES, type CloseReason, type Holder, type HolderOptions, type HolderSamples, type HolderStats, type ProtocolCodes, type ProtocolOptions, type ServerTlsOptions } from './holder.ts';
import {
  checkInteger, checkPayload, checkTuples, DEFAULT_BACKLOG, holderDestroyed, holderSettings, listenFailed, MAX_U32,
} from './holder-args.ts';

declare const handleBrand: unique symbol;
/** The addon's external: an opaque pointer to one holder. */
type NativeHandle = { readonly [handleBrand]: true };

interface NativeBinding {
  create(
    connectTimeoutMs: number, maxSamples: number, sendBufferBytes: number, notsentLowatBytes: number, stallTimeoutMs: number,
  ): NativeHandle;
  listen(handle: NativeHandle, host: string, port: number, backlog: number): number;
  connect(handle: NativeHandle, tuples: Uint32Array): void;
  pingAll(handle: NativeHandle, seq: number): number;
  broadcast(handle: NativeHandle, seq: number, payload?: Uint8Array): number;
  churn(handle: NativeHandle, count: number): number;
  stats(handle: NativeHandle, counters: Float64Array, errnoCounts: Float64Array): void;
  drainSamples(handle: NativeHandle): [Uint32Array, Uint32Array, Uint32Array];
  closeAll(handle: NativeHandle): void;
  destroy(handle: NativeHandle): void;
  /** prctl(PR_SET_PDEATHSIG, signal): 0, or the errno. */
  setParentDeathSignal(signal: number): number;
  setProtocol(handle: NativeHandle, kind: number, request: Uint8Array | null, clientIdPrefix: string | null,
    username: string | null, password: string | null, keepaliveSeconds: number, tcpKeepaliveSeconds: number): void;
  details(handle: NativeHandle): { codes: number[]; bad: Uint8Array[]; tls: (string | number)[] };
  /** After setProtocol, before any connect: the holder's one SSL_CTX (native/tls.c). Throws its reason. */
  setTls(handle: NativeHandle, sni: string | null, alpnWire: Uint8Array | null, verify: boolean, rootsPem: string | null, verifyName: string | null, groups: string | null): void;
  /** Before any connect: the IPv6 table (HolderOptions.addresses6). */
  setAddresses6(handle: NativeHandle, table: Uint8Array): void;
  /** Before any listen: TLS on every accepted connection (native/tls.c). Throws its reason. */
  setServerTls(handle: NativeHandle, certFile: string, keyFile: string, groups: string | null, tickets: boolean): void;
  /** OpenSSL_version(): the library inside this node binary that TLS uses; null when none loads. */
  readonly tlsLibrary: string | null;
  readonly statNames: readonly string[];
  readonly errnoSlots: number;
}

/** The package root (src/ and lib/ sit at the same depth below it). */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where the loaded addon came from: a prebuilt binary in the package, or compiled here. */
export type NativeAddonSource = 'prebuilt' | 'compiled';

export interface NativeAddonInfo {
  path: string;
  source: NativeAddonSource;
}

const COMPILE_HINT = 'without it connlab runs the plain-Node holder; to compile the native one, install a C ' +
  'toolchain (gcc, make, python3) and run `npm rebuild connlab` (in a checkout: npm run build:native)';

let binding: NativeBinding | undefined;
let loadedFrom: NativeAddonInfo | undefined;

/**
 * The addon file for this platform, found the node-gyp-build way: a compiled
 * build/Release/*.node first, then prebuilds/<platform>-<arch>/*.node whose tags (napi,
 * glibc/musl) fit this process. Throws CONNLAB_ERR_NATIVE_UNAVAILABLE when neither exists.
 * A checkout's build/Release also holds the test-only addon (connlab_test.node, a copy gyp
 * makes of build/Release/test/): node-gyp-build takes the first .node in name order, which
 * is the holder; the holder is named here too, so that never depends on the order.
 */
export function resolveNativeAddon(root = PACKAGE_ROOT): NativeAddonInfo {
  const require = createRequire(import.meta.url);
  const { path: find } = require('node-gyp-build') as { path(dir: string): string };
  const compiled = join(root, 'build', 'Release', 'connlab_holder.node');
  // node-gyp-build's own switch, kept: PREBUILDS_ONLY=1 passes over build/ (a package test
  // loads what ships, e.g. the arm64 prebuild under qemu beside an x64 build/).
  if (!process.env['PREBUILDS_ONLY'] && existsSync(compiled)) return { path: compiled, source: 'compiled' };
  let path: string;
  try {
    path = find(root);
  } catch (cause) {
    throw new ConnlabError('CONNLAB_ERR_NATIVE_UNAVAILABLE',
      `no prebuilt native holder fits ${process.platform}-${process.arch} and none was compiled`, { hint: COMPILE_HINT, cause });
  }
  return { path, source: relative(root, path).startsWith('prebuilds') ? 'prebuilt' : 'compiled' };
}

/** Loads the addon once; throws CONNLAB_ERR_NATIVE_UNAVAILABLE when it is missing or will not load. */
export function loadNativeBinding(): NativeBinding {
  if (binding) return binding;
  const info = resolveNativeAddon();
  try {
    binding = createRequire(import.meta.url)(info.path) as NativeBinding;
  } catch (cause) {
    throw new ConnlabError('CONNLAB_ERR_NATIVE_UNAVAILABLE', `cannot load the native holder ${info.path}`, { hint: COMPILE_HINT, cause });
  }
  loadedFrom = info;
  return binding;
}

/** Which addon file is loaded and whether it was prebuilt; loads it first if need be. */
export function nativeAddonInfo(): NativeAddonInfo {
  loadNativeBinding();
  return loadedFrom as NativeAddonInfo;
}

/** True when the addon loads; lets a supervisor pick the plain-Node fallback. */
export function nativeHolderAvailable(): boolean {
  try {
    loadNativeBinding();
    return true;
  } catch {
    return false;
  }
}

const ERRNO_NAMES: ReadonlyMap<number, string> = (() => {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(osConstants.errno)) {
    if (!names.has(value)) names.set(value, name); // EAGAIN before EWOULDBLOCK
  }
  return names;
})();

/** errno number -> name (`EADDRNOTAVAIL`); unknown numbers become `ERRNO_<n>`. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? (errno === 0 ? 'UNKNOWN' : `ERRNO_${errno}`);
}

/** The addon answers listen() with an errno number; give the cause Node's shape. */
function listenError(host: string, port: number, errno: number): ConnlabError {
  const code = errnoName(errno);
  const cause = Object.assign(new Error(`listen ${code} ${host}:${port}`), {
    code, errno: -errno, syscall: 'listen', address: host, port,
  });
  return listenFailed(host, port, cause);
}

const CLOSE_STATS: ReadonlyArray<[Exclude<CloseReason, 'lost'>, string]> = [
  ['peer', 'closedPeer'], ['reset', 'closedReset'], ['protocol', 'closedProtocol'],
  ['slow', 'closedSlow'], ['local', 'closedLocal'], ['timeout', 'closedTimeout'], ['churn', 'closedChurn'],
  ['server_close', 'closedServer'], ['idle', 'closedIdle'], ['refused', 'closedRefused'], ['keepalive', 'closedKeepalive'],
  ['tls', 'closedTls'], ['http_headers_too_large', 'closedHttpHeaders'], ['http_body_too_large', 'closedHttpBody'],
];

const CODE_KINDS: Record<number, keyof ProtocolCodes> = { 1: 'http_status', 2: 'ws_close', 3: 'mqtt_connack' };

function codesFrom(flat: readonly number[]): ProtocolCodes {
  const codes: ProtocolCodes = { http_status: {}, ws_close: {}, mqtt_connack: {} };
  for (let i = 0; i + 2 < flat.length; i += 3) {
    const kind = CODE_KINDS[flat[i] as number];
    if (kind) codes[kind][String(flat[i + 1])] = flat[i + 2] as number;
  }
  return codes;
}

function setServerTls(native: NativeBinding, handle: NativeHandle, t: ServerTlsOptions): void {
  try {
    native.setServerTls(handle, t.certFile, t.keyFile, t.groups ?? null, t.tickets ?? false);
  } catch (error) {
    throw invalidArgument('--tls-cert', (error as Error).message, 'a PEM certificate and the PEM key that matches it');
  }
}

function setProtocol(native: NativeBinding, handle: NativeHandle, p: ProtocolOptions | undefined): void {
  if (!p) return;
  if (p.kind !== 'connlab') {
    native.setProtocol(handle, PROTOCOL_CODES[p.kind], p.request ?? null, p.clientIdPrefix ?? null, p.username ?? null,
      p.password ?? null, p.keepaliveSeconds ?? 0, p.tcpKeepaliveSeconds ?? 0);
  }
  if (p.tls) {
    const t = p.tls;
    try {
      native.setTls(handle, t.sni ?? null, t.alpn?.length ? alpnWire(t.alpn) : null, t.verify, t.rootsPem ?? null, t.verifyName ?? null, t.groups ?? null);
    } catch (error) {
      throw invalidArgument('--tls', (error as Error).message, 'settings OpenSSL accepts (a PEM CA file, a host name)');
    }
  }
}

/** ALPN names in TLS wire format: each a length byte and the name. */
export function alpnWire(names: readonly string[]): Uint8Array {
  return Buffer.concat(names.map((name) => Buffer.concat([Buffer.from([Buffer.byteLength(name)]), Buffer.from(name)])));
}

function tlsErrors(flat: (string | number)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = Number(flat[i + 1]);
  return out;
}

/** What details() says beside the counters: protocol codes as flat [kind, code, count]
 * triples, and the first bytes (hex) of reads that broke the protocol. */
export interface HolderDetails {
  codes: readonly number[];
  badHex: readonly string[];
  /** TLS failures as flat [reason, count] pairs; absent from older C workers. */
  tls?: (string | number)[];
}

/**
 * HolderStats from the holder's counters by name (native/stats.c), its errno counts by
 * number and its details: the addon and the C worker (c-worker-process.ts) both report these.
 */
export function holderStatsFrom(get: (name: string) => number, errnoCounts: Iterable<[errno: number, count: number]>, details: HolderDetails): HolderStats {
  // `lost` is the supervisor's reason, not a native stat: a holder never loses one.
  const closed = { ...Object.fromEntries(CLOSE_STATS.map(([reason, name]) => [reason, get(name)])), lost: 0 };
  const errors: Record<string, number> = {};
  for (const [errno, count] of errnoCounts) {
    if (count > 0) errors[errnoName(errno)] = (errors[errnoName(errno)] ?? 0) + count;
  }
  return {
    established: get('established'), peakEstablished: get('peakEstablished'),
    pending: get('pending'), queued: get('queued'),
    accepted: get('accepted'), connected: get('connected'),
    closed: closed as Record<CloseReason, number>, errors,
    acceptBackoffs: get('acceptBackoffs'),
    pingsSent: get('pingsSent'), pongsReceived: get('pongsReceived'), verified: get('verified'),
    broadcastsSent: get('broadcastsSent'), broadcastsReceived: get('broadcastsReceived'),
    bytesIn: get('bytesIn'), bytesOut: get('bytesOut'),
    samplesDropped: get('samplesDropped'), listeners: get('listeners'),
    closedEarly: get('closedEarly'), closedPending: get('closedPending'), silent: get('silent'), codes: codesFrom(details.codes),
    protocolBytes: [...details.badHex],
    tls: { handshakes: get('tlsHandshakes'), errors: tlsErrors(details.tls ?? []) },
  };
}

class NativeHolder implements Holder {
  readonly kind = 'native';
  readonly #native: NativeBinding;
  readonly #handle: NativeHandle;
  readonly #counters: Float64Array;
  readonly #errnoCounts: Float64Array;
  readonly #index: ReadonlyMap<string, number>;
  #final: HolderStats | undefined;

  constructor(native: NativeBinding, options: HolderOptions) {
    const { connectTimeoutMs, maxSamples, sendBufferBytes, stallTimeoutMs } = holderSettings(options);
    this.#native = native;
    this.#counters = new Float64Array(native.statNames.length);
    this.#errnoCounts = new Float64Array(native.errnoSlots);
    this.#index = new Map(native.statNames.map((name, i) => [name, i]));
    // One size caps both: at most sendBufferBytes unsent (TCP_NOTSENT_LOWAT), at most
    // twice that queued in all (SO_SNDBUF, doubled by the kernel).
    this.#handle = native.create(connectTimeoutMs, maxSamples, sendBufferBytes, sendBufferBytes, stallTimeoutMs);
    setProtocol(native, this.#handle, options.protocol);
    if (options.addresses6) native.setAddresses6(this.#handle, options.addresses6);
    if (options.serverTls) setServerTls(native, this.#handle, options.serverTls);
  }

  #live(): NativeHandle {
    if (this.#final) throw holderDestroyed();
    return this.#handle;
  }

  async listen(host: string, port: number, backlog = DEFAULT_BACKLOG): Promise<void> {
    if (isIP(host) === 0) throw invalidArgument('host', host, 'an IPv4 or IPv6 address');
    checkInteger('port', port, 1, 0xffff);
    checkInteger('backlog', backlog, 1, 0x7fff_ffff);
    const errno = this.#native.listen(this.#live(), host, port, backlog);
    if (errno !== 0) throw listenError(host, port, errno);
  }

  connect(tuples: Uint32Array): void {
    checkTuples(tuples);
    this.#native.connect(this.#live(), tuples);
  }

  /** Returns once every ping is written and `verified` counts only this round. */
  pingAll(seq: number): void {
    checkInteger('seq', seq, 0, MAX_U32);
    this.#native.pingAll(this.#live(), seq);
  }

  broadcast(seq: number, payload?: Uint8Array): number {
    checkInteger('seq', seq, 0, MAX_U32);
    checkPayload(payload);
    return this.#native.broadcast(this.#live(), seq, payload);
  }

  churn(count: number): number {
    checkInteger('count', count, 0, MAX_U32);
    return this.#native.churn(this.#live(), count);
  }

  stats(): HolderStats {
    if (this.#final) return structuredClone(this.#final);
    this.#native.stats(this.#handle, this.#counters, this.#errnoCounts);
    const details = this.#native.details(this.#handle);
    return holderStatsFrom((name) => this.#counters[this.#index.get(name) ?? -1] ?? 0, this.#errnoCounts.entries(), {
      codes: details.codes, badHex: details.bad.map((bytes) => Buffer.from(bytes).toString('hex')), tls: details.tls,
    });
  }

  drainSamples(): HolderSamples {
    const [connectUs, rttUs, broadcastUs] = this.#native.drainSamples(this.#live());
    return { connectUs, rttUs, broadcastUs };
  }

  async closeAll(): Promise<void> {
    this.#native.closeAll(this.#live());
  }

  destroy(): void {
    if (this.#final) return;
    const final = this.stats();
    this.#native.destroy(this.#handle);
    this.#final = final;
  }
}

/** A holder backed by the native addon; throws CONNLAB_ERR_NATIVE_UNAVAILABLE without it. */
export function createNativeHolder(options: HolderOptions = {}): Holder {
  return new NativeHolder(loadNativeBinding(), options);
}

/** `127.0.0.2` -> 0x7f000002, the host-order u32 that connect() tuples carry. */
export function ipv4ToU32(address: string): number {
  const value = parseIpv4(address);
  if (value === undefined) throw invalidArgument('address', address, 'an IPv4 address');
  return value;
}
