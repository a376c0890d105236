// Files a command writes after a long run (bench's HTML report, merge's report): the
// directory is checked before anything starts, so a typo costs a second, not a
// million-connection bench; and if the write still fails at the end, the result has
// already been printed, so nothing measured is lost.

import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConnlabError } from '../errors.ts';

/** The absolute path, or a usage error (exit 2) when its directory cannot take a file. */
export function checkOutputPath(path: string, flag: string): string {
  const absolute = resolve(path);
  const dir = dirname(absolute);
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${flag} ${JSON.stringify(path)} cannot be written: its directory ${dir} ${describe(reason)}`, {
      hint: `create the directory first, or pass ${flag} a path in a writable directory`,
      cause: error,
    });
  }
  if (statSync(absolute, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `${flag} ${JSON.stringify(path)} is a directory`, { hint: `name a file: ${flag} ${path.replace(/\/$/, '')}/report.html` });
  }
  return absolute;
}

function describe(code: string): string {
  if (code === 'ENOENT') return 'does not exist (ENOENT)';
  if (code === 'ENOTDIR') return 'is not a directory (ENOTDIR)';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return `is not writable (${code})`;
  return `cannot be used (${code})`;
}

/**
 * Writes a report after the result was printed. A failure is one line with its errno
 * (`CONNLAB_ERR_OUTPUT`, exit 1), never a stack trace, and it says the result is above.
 */
export function writeReportAfterResult(path: string, html: string, flag = '--report'): void {
  try {
    writeFileSync(path, html);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConnlabError('CONNLAB_ERR_OUTPUT', `cannot write ${flag} ${path} (${reason}); the result above is complete`, {
      hint: 'rerun with --json to keep the result, and render a report from it with `connlab merge RESULT.json --report FILE`',
      cause: error,
    });
  }
}
