// When a long-running command should stop: after its duration, or on SIGINT/SIGTERM.
// The first signal asks for a graceful stop (the result is still written); a second
// one calls `onForce`, which ends every worker by PID at once.

/** `threshold`: --abort-on-fail saw a threshold that can no longer pass. */
export type StopReason = 'duration' | 'SIGINT' | 'SIGTERM' | 'threshold';

export interface StopWatch {
  /** Resolves with why the command should stop. */
  stopped: Promise<StopReason>;
  /** Resolves early with the reason if a stop comes first; otherwise after ms. */
  sleep(ms: number): Promise<StopReason | undefined>;
  /** Stops from inside the command (the first reason wins). */
  stop(reason: StopReason): void;
  dispose(): void;
}

export function watchForStop(durationMs: number | undefined, onForce: () => void): StopWatch {
  let resolveStop!: (reason: StopReason) => void;
  const stopped = new Promise<StopReason>((resolve) => (resolveStop = resolve));
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      onForce();
      process.exit(130);
    }
    signalled = true;
    resolveStop(signal as StopReason);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = durationMs === undefined ? undefined : setTimeout(() => resolveStop('duration'), durationMs);
  let reason: StopReason | undefined;
  void stopped.then((r) => (reason = r));
  return {
    stopped,
    sleep: (ms) => new Promise((resolve) => {
      if (reason) return resolve(reason);
      const t = setTimeout(() => resolve(undefined), ms);
      void stopped.then((r) => {
        clearTimeout(t);
        resolve(r);
      });
    }),
    stop: (r) => resolveStop(r),
    dispose() {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
