// The settings journal: a kernel setting connlab changes for a while (fs.file-max in
// bench, the port range in demos) is written here with its original value before it is
// changed, and removed once the original is back. A process that dies before it could
// restore (SIGKILL, the OOM killer, a power cut of the container) leaves its entry
// behind; the next connlab command finds it stale (its owner is gone), writes the
// original back and says so, and `doctor` reports what it found.
//
// One small JSON file under the same root as the settings themselves (<root>/var/lib/
// connlab/settings-journal.json; `/` on the live host), so a test with a fixture tree
// never touches the host's journal. Writes go to a temporary file then rename(), so a
// crash mid-write leaves the old journal or the new one, never half of one. The owner is
// a PID with its start time: a PID reused by another process is not taken for the owner.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sysctlPath } from '../limits/host-reader.ts';

/** Where the journal lives, under a root. */
export const JOURNAL_PATH = 'var/lib/connlab/settings-journal.json';

export interface JournalEntry {
  /** The sysctl's dotted name. */
  name: string;
  /** Its value before connlab changed it: what a restore writes back. */
  original: string;
  /** The value connlab wrote. */
  value: string;
  owner_pid: number;
  /** The owner's start time (field 22 of /proc/PID/stat), so a reused PID is not the owner. */
  owner_start: string | null;
  changed_at: string;
}

/** What became of a stale entry. */
export interface Leftover extends JournalEntry {
  /** The value found now. */
  found: string | null;
  /** `restored`: the original is back; `changed_since`: someone set another value since, left as is; `failed`: the write failed. */
  outcome: 'restored' | 'changed_since' | 'failed';
}

/** `32768\t60999\n` and `32768 60999` are the same setting. */
const normalize = (value: string | undefined): string => (value ?? '').trim().split(/\s+/).join(' ');

/** A process's start time, or null when it is gone (or a zombie). */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? null : (fields[19] ?? null);
  } catch {
    return null;
  }
}

/** True while the entry's owner is still running (the same process, not a reused PID). */
export function ownerAlive(entry: JournalEntry): boolean {
  const start = processStart(entry.owner_pid);
  return start !== null && (entry.owner_start === null || start === entry.owner_start);
}

export class SettingsJournal {
  readonly root: string;
  readonly path: string;

  /** `root`: where /proc/sys and the journal live (`/` on the live host). */
  constructor(root = '/') {
    this.root = root;
    this.path = join(root, JOURNAL_PATH);
  }

  entries(): JournalEntry[] {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as { entries?: JournalEntry[] };
      return Array.isArray(parsed.entries) ? parsed.entries : [];
    } catch {
      return []; // no journal (nothing ever changed), or unreadable: nothing to restore
    }
  }

  /** Records a change about to be made; the first original of a name for an owner wins. Throws if it cannot be written. */
  record(name: string, original: string, value: string, ownerPid = process.pid): void {
    const entries = this.entries();
    const mine = entries.find((e) => e.name === name && e.owner_pid === ownerPid);
    if (mine) mine.value = value;
    else entries.push({ name, original: normalize(original), value: normalize(value), owner_pid: ownerPid, owner_start: processStart(ownerPid), changed_at: new Date().toISOString() });
    this.#write(entries);
  }

  /** Forgets an owner's entry once its original is back. */
  forget(name: string, ownerPid = process.pid): void {
    const entries = this.entries();
    const kept = entries.filter((e) => !(e.name === name && e.owner_pid === ownerPid));
    if (kept.length !== entries.length) this.#write(kept);
  }

  /** Entries whose owner is gone: changes nobody will restore. */
  stale(): JournalEntry[] {
    return this.entries().filter((e) => !ownerAlive(e));
  }

  /**
   * Restores every stale entry (oldest first, so the first original wins) and removes
   * it; an entry whose setting was changed again since is left as is and removed; one
   * whose write failed (not root) stays for a later try. Returns what it did.
   */
  recover(): Leftover[] {
    const stale = this.stale();
    if (stale.length === 0) return [];
    const done: Leftover[] = [];
    for (const entry of [...stale].reverse()) done.unshift(this.#restore(entry));
    const failed = new Set(done.filter((l) => l.outcome === 'failed').map((l) => `${l.name}\0${l.owner_pid}`));
    const staleKeys = new Set(stale.map((e) => `${e.name}\0${e.owner_pid}`));
    this.#write(this.entries().filter((e) => !staleKeys.has(`${e.name}\0${e.owner_pid}`) || failed.has(`${e.name}\0${e.owner_pid}`)));
    return done;
  }

  #restore(entry: JournalEntry): Leftover {
    const file = join(this.root, sysctlPath(entry.name));
    const read = (): string | null => {
      try {
        return normalize(readFileSync(file, 'utf8'));
      } catch {
        return null;
      }
    };
    const found = read();
    if (found !== entry.value && found !== entry.original) return { ...entry, found, outcome: 'changed_since' };
    if (found === entry.original) return { ...entry, found, outcome: 'restored' };
    try {
      writeFileSync(file, `${entry.original}\n`);
    } catch {
      return { ...entry, found, outcome: 'failed' };
    }
    return { ...entry, found, outcome: read() === entry.original ? 'restored' : 'failed' };
  }

  #write(entries: JournalEntry[]): void {
    if (entries.length === 0) {
      rmSync(this.path, { force: true });
      return;
    }
    mkdirSync(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify({ schema: 'connlab.settings-journal/1', entries }, null, 2)}\n`);
    renameSync(temp, this.path);
  }
}

/** One line for a leftover, as the CLI and doctor say it. */
export function describeLeftover(l: Leftover): string {
  const left = `${l.name} was left at ${l.value} by connlab pid ${l.owner_pid} (${l.changed_at}), which ended without restoring it`;
  if (l.outcome === 'restored') return `${left}: restored to ${l.original}`;
  if (l.outcome === 'changed_since') return `${left}: it is ${l.found ?? 'unreadable'} now, set since by someone else; left as is (the original was ${l.original})`;
  return `${left}: could not write ${l.original} back (run connlab as root to restore it)`;
}
