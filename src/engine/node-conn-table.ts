// The plain-Node holder's per-connection state, kept the way native/holder.h keeps it:
// parallel typed arrays indexed by a slot number, plus one array of sockets. A socket
// carries only its slot (a small integer under a symbol key), so there is no state
// object, closure or WeakMap entry per connection, and iterating for pingAll/broadcast
// is a scan over a dense array. Slots are recycled through a free list.

import type { Socket } from 'node:net';

export const FRAME_HEADER_BYTES = 16;

/** Slot states (numbers, not an enum: erasable syntax only). */
export const FREE = 0;
export const CONNECTING = 1;
export const CLIENT = 2;
export const SERVER = 3;

/** What the bytes after a complete header are: the next header, an echo payload, a payload to skip. */
export const MODE_HEADER = 0;
export const MODE_ECHO = 1;
export const MODE_SKIP = 2;

/** The slot a socket occupies; -1 once the holder has let go of it. */
export const SLOT: unique symbol = Symbol('connlab.slot');
export type SlotSocket = Socket & { [SLOT]: number };

const FIRST_CAPACITY = 1024;

export class ConnTable {
  /** Socket per slot; undefined for a free slot. */
  sockets: (SlotSocket | undefined)[] = [];
  state = new Uint8Array(FIRST_CAPACITY);
  /** Bytes of the partial header in `header` at slot * 16. */
  headerBytes = new Uint8Array(FIRST_CAPACITY);
  mode = new Uint8Array(FIRST_CAPACITY);
  /** Payload bytes of the current frame still to echo or skip. */
  remaining = new Uint16Array(FIRST_CAPACITY);
  /** Client: the pingAll generation this connection last answered. */
  pingGen = new Uint32Array(FIRST_CAPACITY);
  /** Connecting: monotonic µs at connect(). */
  startUs = new Float64Array(FIRST_CAPACITY);
  header = new Uint8Array(FIRST_CAPACITY * FRAME_HEADER_BYTES);
  /** One past the highest slot ever used: the bound of every scan. */
  end = 0;
  #free: number[] = [];

  /** Takes a slot for `socket` in `state`, all other fields zero. */
  add(socket: SlotSocket, state: number): number {
    const slot = this.#free.pop() ?? this.end++;
    if (slot >= this.state.length) this.#grow();
    this.sockets[slot] = socket;
    this.state[slot] = state;
    this.headerBytes[slot] = 0;
    this.mode[slot] = MODE_HEADER;
    this.remaining[slot] = 0;
    this.pingGen[slot] = 0;
    this.startUs[slot] = 0;
    socket[SLOT] = slot;
    return slot;
  }

  /** Frees the slot and returns its socket (which no longer points back here). */
  remove(slot: number): SlotSocket | undefined {
    const socket = this.sockets[slot];
    if (socket) socket[SLOT] = -1;
    this.sockets[slot] = undefined;
    this.state[slot] = FREE;
    this.#free.push(slot);
    return socket;
  }

  /** Frees every slot (capacity is kept for the next round). */
  clear(): void {
    for (const socket of this.sockets) if (socket) socket[SLOT] = -1;
    this.sockets = [];
    this.state.fill(FREE);
    this.end = 0;
    this.#free = [];
  }

  #grow(): void {
    const capacity = this.state.length * 2;
    this.state = copyInto(new Uint8Array(capacity), this.state);
    this.headerBytes = copyInto(new Uint8Array(capacity), this.headerBytes);
    this.mode = copyInto(new Uint8Array(capacity), this.mode);
    this.remaining = copyInto(new Uint16Array(capacity), this.remaining);
    this.pingGen = copyInto(new Uint32Array(capacity), this.pingGen);
    this.startUs = copyInto(new Float64Array(capacity), this.startUs);
    this.header = copyInto(new Uint8Array(capacity * FRAME_HEADER_BYTES), this.header);
  }
}

function copyInto<T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(target: T, source: T): T {
  target.set(source as never);
  return target;
}
