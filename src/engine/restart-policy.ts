// When a supervisor restarts a dead worker, and when it stops: a pure function of the
// slot's recent death times, so the arithmetic is tested without processes. Like
// systemd's RestartSec with StartLimitBurst/StartLimitIntervalSec: the delay doubles with
// each death still inside the window (a worker that dies at once is not restarted at
// once, forever), falls back to the first delay once the worker has lived a whole
// window, and the maxDeaths-th death inside one window is a crash loop.

export interface RestartPolicy {
  /** Delay before the first restart; doubles with each further death in the window. */
  initialDelayMs: number;
  /** The delay stops doubling here. */
  maxDelayMs: number;
  /** This many deaths of one worker within windowMs: CONNLAB_ERR_CRASH_LOOP. */
  maxDeaths: number;
  windowMs: number;
}

/** 100 ms, 200 ms, 400 ms, 800 ms, then a crash loop at the fifth death within 60 s. */
export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = { initialDelayMs: 100, maxDelayMs: 5_000, maxDeaths: 5, windowMs: 60_000 };

export function resolveRestartPolicy(partial: Partial<RestartPolicy> = {}): RestartPolicy {
  return { ...DEFAULT_RESTART_POLICY, ...partial };
}

export interface RestartDecision {
  /** The death times still inside the window, this one included: keep them for next time. */
  recent: number[];
  /** How long to wait before restarting; undefined: a crash loop, do not restart. */
  delayMs: number | undefined;
}

/** `deathTimesMs` ends with the death being decided on, at `nowMs`. */
export function restartDecision(policy: RestartPolicy, deathTimesMs: readonly number[], nowMs: number): RestartDecision {
  const recent = deathTimesMs.filter((t) => nowMs - t < policy.windowMs);
  if (recent.length >= policy.maxDeaths) return { recent, delayMs: undefined };
  const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, recent.length - 1));
  return { recent, delayMs };
}
