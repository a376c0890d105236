// `connlab merge`: reads result files, adds them up exactly (src/merge/), prints a
// summary or the merged JSON, and writes the HTML report of the merged result.

import { readFileSync } from 'node:fs';
import { renderBenchReport } from '../../bench/report-html.ts';
import { BENCH_SCHEMA, type BenchResult } from '../../bench/result.ts';
import { ConnlabError } from '../../errors.ts';
import { mergeResults, type AnyResult, type LabelledResult, type MergedLoadResult } from '../../merge/merge.ts';
import { renderLoadReport } from '../../merge/report-load.ts';
import { formatCount } from '../../units.ts';
import { parseCommandArgs } from '../args.ts';
import { checkOutputPath, writeReportAfterResult } from '../output-file.ts';
import type { Io } from '../io.ts';
import { checkThresholdsFor, judgeThresholds, thresholdsExitCode, thresholdsFromFlags, thresholdsText } from '../thresholds-flag.ts';
import { resultKind } from '../../thresholds/catalogue.ts';

export const summary = 'add up load or bench results from many hosts, with exact percentiles';

export const help = `Usage: connlab merge RESULT.json… [--json] [--report out.html] [--threshold EXPR…]

Adds up results written by \`connlab load --json\` (for instance one per --shard) or by
\`connlab bench --json\` into one result of the same schema. Counts, errors and closes add;
latency percentiles are read from the added HDR histograms every result carries, so they
are exact (the same as one host recording every sample), never averaged percentiles.
Sharded load results are checked: one shard set, each shard once; missing shards are named.

Options:
  --json           print the merged result as JSON (same schema as the inputs)
  --report FILE    write an HTML report: for bench results the bench report (timelines
                   added second by second); for load results a page of tables (parts,
                   exact latency, errors by limit, closes): load has no timeline to chart
  --threshold EXPR a pass/fail check over the merged result, METRIC OP VALUE (repeatable):
                   'connect_ms.p99<200ms' 'verified>=99.9%'; exit 1 when one fails, 2
                   when one is malformed (docs/thresholds.md)
  --thresholds FILE  thresholds from a YAML or JSON file (a list, or k6's map)
  -h, --help       this help

Examples:
  connlab merge shard-1.json shard-2.json shard-3.json
  connlab merge results/*.json --json > merged.json --report merged.html
  connlab merge shard-*.json --threshold 'verified>=99.9%' --threshold 'connect_ms.p99<250ms'
`;

const options = {
  json: { type: 'boolean' },
  report: { type: 'string' },
  threshold: { type: 'string', multiple: true },
  thresholds: { type: 'string' },
} as const;

function readResult(path: string): LabelledResult<AnyResult> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file (ENOENT)' : code === 'EISDIR' ? 'it is a directory (EISDIR)' : code === 'EACCES' ? 'permission denied (EACCES)' : code ?? String(error);
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `cannot read ${path}: ${reason}`, { hint: 'name result files written with --json', cause: error });
  }
  try {
    return { label: path, result: JSON.parse(text) as AnyResult };
  } catch (error) {
    // JSON.parse says where it stopped ("… in JSON at position 12 (line 1 column 13)").
    const where = error instanceof Error ? error.message : String(error);
    throw new ConnlabError('CONNLAB_ERR_INVALID_ARGUMENT', `cannot read ${path}: not JSON: ${where}`, {
      hint: text.trim() === '' ? 'the file is empty: did the run that wrote it fail?' : 'name result files written with --json (nothing else on stdout)',
      cause: error,
    });
  }
}

function renderText(r: MergedLoadResult | BenchResult): string {
  const m = r.merged;
  const lines = [
    `merged ${m?.inputs ?? 1} result(s): ${formatCount(r.connections.established)} of ${formatCount(r.connections.target)} established, ${formatCount(r.connections.verified)} verified`,
    ...(m?.parts ?? []).map((p, i) => `  ${p.shard ? `shard ${p.shard}` : p.hostname ?? `input ${i + 1}`}: ${formatCount(p.established)} of ${formatCount(p.target)} established, ${formatCount(p.verified)} verified`),
    `connect p50 ${r.ramp.connect_ms.p50} ms, p99 ${r.ramp.connect_ms.p99} ms, max ${r.ramp.connect_ms.max} ms over ${formatCount(r.ramp.connect_ms.count)} connects (exact, from the added histograms)`,
  ];
  if ('ping' in r && r.ping.rtt_ms.count > 0) lines.push(`ping round trip p50 ${r.ping.rtt_ms.p50} ms, p99 ${r.ping.rtt_ms.p99} ms over ${formatCount(r.ping.rtt_ms.count)} pings`);
  for (const [errno, n] of Object.entries(r.errors)) lines.push(`error ${errno} × ${formatCount(n)}`);
  if (m?.missing_shards.length) lines.push(`missing shards: ${m.missing_shards.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('merge', argv, options, true);
  if (values.help) {
    io.stdout.write(help);
    return 0;
  }
  if (positionals.length === 0) throw new ConnlabError('CONNLAB_ERR_USAGE', 'merge needs result files', { hint: 'connlab merge a.json b.json' });
  const reportPath = values.report === undefined ? undefined : checkOutputPath(values.report, '--report');
  const thresholds = thresholdsFromFlags(values);
  // An input's own verdict (its `thresholds`) says nothing of the sum: the merge judges afresh, or not at all.
  const { thresholds: _inputVerdict, ...merged } = mergeResults(positionals.map(readResult), `connlab merge ${positionals.join(' ')}`) as (MergedLoadResult | BenchResult) & { thresholds?: unknown };
  checkThresholdsFor(thresholds, resultKind(merged));
  const judged = judgeThresholds(thresholds, merged, io, 'merge');
  const final = judged ? { ...merged, thresholds: judged } : merged;
  io.stdout.write(values.json ? `${JSON.stringify(final, null, 2)}\n` : renderText(merged as MergedLoadResult | BenchResult) + thresholdsText(judged));
  if (reportPath !== undefined) {
    const html = merged.schema === BENCH_SCHEMA ? renderBenchReport(final as BenchResult) : renderLoadReport(merged as MergedLoadResult);
    writeReportAfterResult(reportPath, html);
  }
  return thresholdsExitCode(judged, 0, false);
}
