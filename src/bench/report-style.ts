// The bench report's stylesheet, inlined into the page: system fonts, a light palette,
// tabular figures so columns of numbers line up, and print rules that keep charts whole.

export const REPORT_CSS = `
:root { color-scheme: light; --ink: #111827; --muted: #6b7280; --rule: #e5e7eb; --soft: #f9fafb;
  --accent: #2563eb; --good: #047857; --bad: #b91c1c; --warn: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { font-size: 28px; line-height: 1.2; margin: 4px 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 18px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--rule); }
.eyebrow { margin: 0; color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: 0.06em; }
.lede { margin: 0 0 16px; font-size: 17px; color: #374151; }
.num, td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.command { display: block; padding: 8px 12px; background: var(--soft); border: 1px solid var(--rule);
  border-radius: 6px; overflow-wrap: anywhere; }
.outcome { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 14px; font-weight: 600; }
.outcome-completed { background: #d1fae5; color: var(--good); }
.outcome-failed { background: #fee2e2; color: var(--bad); }
.outcome-SIGINT, .outcome-SIGTERM { background: #fef3c7; color: var(--warn); }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px 20px; margin: 16px 0; }
.meta div { display: flex; flex-direction: column; }
.meta dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.meta dd { margin: 0; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
th[scope="row"] { color: var(--ink); font-size: 14px; font-weight: 500; text-transform: none; letter-spacing: 0; }
td.num, th.num { text-align: right; }
tr.binding td { background: #fff7ed; font-weight: 600; }
.neg { color: var(--bad); }
.nowrap { white-space: nowrap; }
.note { color: var(--muted); }
.bar { display: inline-block; height: 8px; border-radius: 4px; background: #0d9488; vertical-align: middle; }
.tables { display: grid; grid-template-columns: 1fr 1fr; gap: 0 32px; }
figure { margin: 0 0 20px; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 4px; }
figure svg { display: block; width: 100%; height: auto; }
.phases { display: flex; flex-wrap: wrap; gap: 14px; margin: 0 0 14px; font-size: 13px; color: var(--muted); }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 6px; border: 1px solid var(--rule);
  vertical-align: -1px; }
svg .hover line, svg .hover text { visibility: hidden; pointer-events: none; }
svg .hover:hover line, svg .hover:hover text { visibility: visible; }
svg .hover-text { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media (max-width: 720px) { .tables { grid-template-columns: 1fr; } }
@media print {
  @page { margin: 14mm; }
  body { font-size: 12px; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  table, figure, .meta { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
