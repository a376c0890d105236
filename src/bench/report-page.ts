// The one HTML page shell every connlab page shares (the bench report, the merged load
// report, the live dashboard): doctype, viewport, the escaped title and the inlined
// stylesheet, so a page differs only in what its <main> holds.

import { escapeHtml } from './report-format.ts';
import { REPORT_CSS } from './report-style.ts';

export interface PageOptions {
  /** Raw attributes for <main>, e.g. ` data-seq="3"`; the caller escapes what it puts there. */
  mainAttributes?: string;
  /** Inline script placed after <main>. */
  script?: string;
}

export function renderPage(title: string, main: string, options: PageOptions = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<main${options.mainAttributes ?? ''}>${main}</main>
${options.script === undefined ? '' : `<script>${options.script}</script>\n`}</body>
</html>
`;
}
