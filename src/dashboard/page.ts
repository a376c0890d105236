// The dashboard page: the report's style sheet, the first snapshot rendered in, and a
// few lines of script that replace <main> with each server-sent snapshot. Nothing is
// loaded from anywhere else (the Content-Security-Policy header says so too).

import { renderPage } from '../bench/report-page.ts';
import { escapeHtml } from '../bench/report-format.ts';

const SCRIPT = `
const main = document.querySelector('main');
const source = new EventSource('/events');
source.onmessage = (event) => {
  const frame = JSON.parse(event.data);
  main.innerHTML = frame.html;
  main.dataset.seq = String(frame.seq);
};
source.onerror = () => { document.body.dataset.stream = 'closed'; };
`;

export const DASHBOARD_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:";

export function renderDashboardPage(title: string, body: string, seq: number): string {
  return renderPage(title, body, { mainAttributes: ` data-seq="${seq}"`, script: SCRIPT });
}
