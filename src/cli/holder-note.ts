// The line serve and load print when `--holder auto` fell back to the plain-Node holder:
// why the native one is missing and how to get it, so a slow or memory-hungry run is not
// a mystery. Nothing when the native holder runs or a holder was asked for by name.

import { loadNativeBinding } from '../engine/native-holder.ts';
import { isConnlabError } from '../errors.ts';

/** `choice`: the --holder flag as given (undefined means auto); `kind`: the holder that runs. */
export function holderFallbackNote(choice: string | undefined, kind: string): string {
  if ((choice ?? 'auto') !== 'auto' || kind !== 'node') return '';
  try {
    loadNativeBinding();
    return '';
  } catch (error) {
    const why = isConnlabError(error) ? `${error.message} [${error.code}]${error.hint ? `; ${error.hint}` : ''}` : String(error);
    return `note: running on the plain-Node holder: ${why}\n`;
  }
}
