// Did load reach its target? One pure judgement over the result, so the CLI's exit code
// and its one-line reason come from the same place and are tested on plain objects.
// Reached means: every target connection held at the end of the hold and every held one
// verified by the last liveness round (for tcp, what the kernel proves: see README).

import { formatCount } from '../units.ts';
import type { LoadResult } from './load.ts';

export interface LoadVerdict {
  reached: boolean;
  /** One line naming the shortfall and the limit behind it; undefined when reached. */
  line: string | undefined;
}

type Judged = Pick<LoadResult, 'connections' | 'explained' | 'protocol'>;

export function judgeLoad(result: Judged, stoppedBy = 'duration'): LoadVerdict {
  const { target, established, verified, peak } = result.connections;
  if (established >= target && verified >= established) return { reached: true, line: undefined };
  const held = `held ${formatCount(established)} of ${formatCount(target)} (peak ${formatCount(peak)})`;
  const shortfall = established < target
    ? held
    : `${held}, but only ${formatCount(verified)} verified by ${result.protocol === 'tcp' ? 'the kernel' : `${result.protocol} round trips`}`;
  const why = result.explained[0];
  const reason = why
    ? `${why.errno} × ${formatCount(why.count)}: ${why.cause} — ${why.explanation}`
    : stoppedBy !== 'duration' ? `stopped early (${stoppedBy})` : 'no error or close was seen: the round timed out (raise --ping or --duration)';
  return { reached: false, line: `load: short of the target: ${shortfall}; ${reason}` };
}
