// connlab's typed library API. The CLI in src/cli is a thin layer over these exports;
// nothing here prints, reads argv or env, or exits. Long-running things return a handle:
// startServe → ServeHandle, startLoad → LoadHandle, startBench → BenchRun (a `done`
// promise). The README's "Library" section shows each in use.

export { ConnlabError, ERROR_CODES, isConnlabError, type ErrorCode } from './errors.ts';

// doctor: read the host, evaluate a traffic shape, name the binding limit.
export * from './limits/index.ts';
export { readHostFacts, type HostFacts } from './limits/host-facts.ts';

// serve: a holding server over worker processes.
export {
  startServe,
  ServeHandle,
  type BroadcastResult,
  type ServeEvents,
  type ServeOptions,
  type ServeStats,
  type WorkerView,
} from './server/serve.ts';
export { createServeRegistry, startMetricsServer } from './server/metrics.ts';
export type { HolderKind, ListenAddress } from './engine/messages.ts';

// load: open and hold N connections to any TCP server.
export {
  LoadHandle,
  loadPlanJson,
  planLoad,
  startLoad,
  type LoadOptions,
  type LoadProgress,
  type LoadPlanJson,
  type LoadResult,
  type RampSummary,
} from './load/load.ts';
export { snakeCase, snakeCaseKeys } from './json/snake-case.ts';
export type { ProtocolSettings, TlsSettings } from './load/protocol-options.ts';
export { classifyErrno, classifyErrors, type Cause, type Classification, type ClassifyContext } from './load/classify.ts';

// soak: hold N while a share reconnects every second; fitted lines say whether anything grows.
export { runSoak, soakDrift, type SoakDrift, type SoakOptions, type SoakResult, type SoakSample, type SoakSeries } from './soak/run-soak.ts';
export { linearFit, type LinearFit } from './soak/linear-fit.ts';

// bench: serve + load on this host, one versioned result, an HTML report.
export { startBench, type BenchOptions, type BenchProgress, type BenchRun } from './bench/run-bench.ts';
export { BENCH_SCHEMA, type BenchPhase, type BenchResult, type TimelinePoint } from './bench/result.ts';
export { planBench, type BenchPlan } from './bench/plan-bench.ts';
export { renderBenchReport } from './bench/report-html.ts';
export { startTargetBench, type TargetBenchOptions, type TargetBenchRun } from './bench/target/run-target.ts';
export type { TargetSection, TargetStep, TargetFit, TargetFailure, TargetExtrapolation } from './bench/target/target-result.ts';
export type { RemoteServer, RemoteSection } from './bench/target/probe.ts';
export { DEFAULT_SCRAPE_LIMITS, scrapeEndpoint, type Scrape, type ScrapeLimits } from './bench/target/scrape.ts';

// The connection holders, for programs that hold connections in their own process.
export { createHolder, resolveHolderKind, type HolderChoice } from './engine/create-holder.ts';
export type { CloseReason, Holder, HolderOptions, HolderSamples, HolderStats, TlsOptions, TlsStats } from './engine/holder.ts';
export { nativeAddonInfo, nativeHolderAvailable, type NativeAddonInfo, type NativeAddonSource } from './engine/native-holder.ts';

// Four-tuples, addresses and units.
export {
  countDestinations,
  expandTargets,
  formatIpv4,
  parseIpList,
  parseIpv4,
  parsePortRange,
  parseTargets,
  type Destination,
  type Range,
  type TargetSpec,
} from './tuple/address.ts';
export { planTuples, type PlanInput, type Slice, type TuplePlan } from './tuple/plan.ts';
export { freeLoopbackPort } from './tuple/free-port.ts';
export { formatBytes, formatCount, parseBytes, parseCount, parseDurationMs } from './units.ts';

// thresholds: METRIC OP VALUE checks over a result, the verdict for CI.
export * from './thresholds/index.ts';

// demo: reproduce each limit with its real error.
export {
  DEMO_NAMES,
  DEMOS,
  runAllDemos,
  runNamedDemo,
  SettingsGuard,
  type DemoEvent,
  type DemoName,
  type DemoOptions,
  type DemoResult,
  type DemoStep,
} from './demo/index.ts';

// many hosts: shards from the index alone, exact merges, Prometheus, Kubernetes.
export { formatShard, parseShard, shardRate, shardShare, type ShardSpec } from './shard/shard.ts';
export { mergeResults, type AnyResult, type LabelledResult, type MergedLoadResult } from './merge/merge.ts';
export { ConnlabMetrics } from './metrics/registry.ts';
export { METRICS } from './metrics/names.ts';
