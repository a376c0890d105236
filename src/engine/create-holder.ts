// Picks the holder implementation for a worker: the native epoll holder when its addon
// is built, the plain-Node one otherwise (or when asked for by name).

import type { Holder, HolderOptions } from './holder.ts';
import type { HolderKind } from './messages.ts';
import { createNativeHolder, nativeHolderAvailable } from './native-holder.ts';
import { createNodeHolder } from './node-holder.ts';

export type HolderChoice = HolderKind | 'auto';

export function resolveHolderKind(choice: HolderChoice): HolderKind {
  if (choice !== 'auto') return choice;
  return nativeHolderAvailable() ? 'native' : 'node';
}

export function createHolder(kind: HolderKind, options: HolderOptions = {}): Holder {
  return kind === 'native' ? createNativeHolder(options) : createNodeHolder(options);
}
