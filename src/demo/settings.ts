// Kernel settings a demo changes, and the guarantee that they go back: the original is
// read before the first write, restore() writes it back and reads it again to say
// whether it really is back, and while the guard is armed a SIGINT or SIGTERM ends the
// demo's processes, restores, and then re-raises the signal so the process still dies
// of it. Use it as try { … } finally { guard.restore() }. Against what no handler can
// catch (SIGKILL), every change is first written to the settings journal
// (settings-journal.ts) with its original, so the next connlab command restores it.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnlabError } from '../errors.ts';
import { sysctlPath } from '../limits/host-reader.ts';
import { SettingsJournal } from './settings-journal.ts';

export interface SettingRecord {
  name: string;
  /** The value before the demo changed it. */
  from: string;
  /** The value the demo wrote. */
  to: string;
  /** Read back after restoring; undefined until restore() ran or when unreadable. */
  after: string | undefined;
  restored: boolean;
}

export interface SettingsGuardOptions {
  /** Where /proc/sys lives; `/` on the live host. */
  root?: string;
  onChange?: (name: string, from: string, to: string) => void;
  onRestore?: (record: SettingRecord) => void;
  /**
   * false: install no SIGINT/SIGTERM handlers. For a caller whose own signal handling
   * stops gracefully and restores in a `finally` (bench); it restores on 'exit' too.
   */
  signals?: boolean;
  /** Where originals are recorded before a change; default: the journal under `root`. false: none. */
  journal?: SettingsJournal | false;
}

/** `32768\t60999\n` and `32768 60999` are the same setting. */
export const normalizeSetting = (value: string | undefined): string => (value ?? '').trim().split(/\s+/).join(' ');

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export class SettingsGuard {
  readonly #root: string;
  readonly #options: SettingsGuardOptions;
  readonly #journal: SettingsJournal | undefined;
  readonly #records = new Map<string, SettingRecord>();
  readonly #abortHooks = new Set<() => void>();
  #armed = false;
  readonly #onSignal = (signal: NodeJS.Signals): void => this.#abort(signal);

  constructor(options: SettingsGuardOptions = {}) {
    this.#root = options.root ?? '/';
    this.#options = options;
    this.#journal = options.journal === false ? undefined : (options.journal ?? new SettingsJournal(this.#root));
  }

  /** Installs the signal handlers; restore() removes them. */
  arm(): this {
    if (this.#options.signals === false) return this;
    if (!this.#armed) for (const signal of SIGNALS) process.on(signal, this.#onSignal);
    this.#armed = true;
    return this;
  }

  /** A synchronous cleanup (kill by PID) run first when a signal arrives; returns its remover. */
  onAbort(hook: () => void): () => void {
    this.#abortHooks.add(hook);
    return () => this.#abortHooks.delete(hook);
  }

  read(name: string): string | undefined {
    try {
      return readFileSync(join(this.#root, sysctlPath(name)), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Writes a sysctl, remembering its first value; throws CONNLAB_ERR_SYSCTL_WRITE on failure. */
  set(name: string, value: string): void {
    this.arm();
    const before = this.read(name);
    if (before === undefined) throw writeError(name, 'it cannot be read', undefined);
    const record = this.#records.get(name) ?? { name, from: normalizeSetting(before), to: value, after: undefined, restored: false };
    record.to = value;
    try {
      // Before the write: a process killed right after it still leaves the original behind.
      this.#journal?.record(name, record.from, value);
    } catch (cause) {
      throw writeError(name, `its original could not be recorded in ${this.#journal?.path}`, cause);
    }
    this.#records.set(name, record);
    try {
      writeFileSync(join(this.#root, sysctlPath(name)), `${value}\n`);
    } catch (cause) {
      throw writeError(name, 'the write failed', cause);
    }
    this.#options.onChange?.(name, normalizeSetting(before), normalizeSetting(this.read(name)));
  }

  /** Writes every original back (last changed first), reads each again, disarms. Safe to call twice. */
  restore(): SettingRecord[] {
    for (const record of [...this.#records.values()].reverse()) {
      if (record.restored) continue;
      try {
        writeFileSync(join(this.#root, sysctlPath(record.name)), `${record.from}\n`);
      } catch {
        // Reported below: the read-back decides `restored`.
      }
      record.after = normalizeSetting(this.read(record.name));
      record.restored = record.after === record.from;
      if (record.restored) this.#forget(record.name);
      this.#options.onRestore?.(record);
    }
    this.#disarm();
    return this.records();
  }

  records(): SettingRecord[] {
    return [...this.#records.values()].map((r) => ({ ...r }));
  }

  /** True when every changed setting reads back as it was (also when none changed). */
  get restored(): boolean {
    return [...this.#records.values()].every((r) => r.restored);
  }

  /** A journal that cannot be rewritten keeps the entry: the next command finds the value already back. */
  #forget(name: string): void {
    try {
      this.#journal?.forget(name);
    } catch {
      // see above
    }
  }

  #disarm(): void {
    if (this.#armed) for (const signal of SIGNALS) process.off(signal, this.#onSignal);
    this.#armed = false;
  }

  #abort(signal: NodeJS.Signals): void {
    for (const hook of this.#abortHooks) {
      try {
        hook();
      } catch {
        // A cleanup that fails must not keep the settings from being restored.
      }
    }
    this.restore();
    // With our handler gone the default action runs: the process dies of the signal.
    process.kill(process.pid, signal);
  }
}

function writeError(name: string, what: string, cause: unknown): ConnlabError {
  return new ConnlabError('CONNLAB_ERR_SYSCTL_WRITE', `cannot change ${name}: ${what}`, {
    hint: 'run as root; in a container net.* sysctls need CAP_NET_ADMIN',
    cause,
  });
}
