// connlab's typed library API. The CLI in src/cli is a thin layer over these exports;
// nothing here prints, reads argv or env, or exits.

export { ConnlabError, ERROR_CODES, isConnlabError, type ErrorCode } from './errors.ts';
export * from './limits/index.ts';
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
export { formatBytes, formatCount, parseBytes, parseCount, parseDurationMs } from './units.ts';
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
