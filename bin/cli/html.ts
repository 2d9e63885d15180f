/**
 * One self-contained HTML file of a run (`run --html FILE`) or a drill (`drill --html FILE`):
 * inline CSS and a little inline script, no request of any kind (a Content-Security-Policy that
 * allows nothing else says so to the browser too), readable offline and attachable to an
 * incident. Status is shown by a symbol and a word, never by colour alone. Built from the report,
 * which is already redacted (functions/run.ts): no secret reaches it.
 */
import { CATALOG } from '../../functions/core/catalog.ts';
import { countStatuses } from '../../functions/core/results.ts';
import { runbookUrl } from '../../functions/core/runbook.ts';
import type { CheckResult, CheckStatus, Report } from '../../functions/core/types.ts';
import type { DrillRow } from './drill.ts';
import { allQuiet, STATUS_LOOK } from './render.ts';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
/** JSON inside a <script> element: `<` escaped, so no value can close the element. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f23;background:#fff}
header{padding:12px 20px;background:#24292f;color:#fff}header h1{font-size:18px;margin:0 0 4px}
main{padding:12px 20px}h2{font-size:16px;margin:18px 0 8px}
.counts span{margin-right:12px}.muted{color:#57606a}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:2px 6px;white-space:nowrap}
th{background:#f6f8fa;font-weight:600;text-align:left}
th.check{writing-mode:vertical-rl;font-weight:500;text-align:left;padding:6px 2px;vertical-align:bottom}
td.c{text-align:center;cursor:pointer;min-width:28px}
.s-pass{background:#dafbe1}.s-fail{background:#ffc1c0;font-weight:700}.s-degraded{background:#fff1a8}
.s-error{background:#e9d5ff}.s-skipped{background:#f6f8fa;color:#57606a}
td.c:focus,td.c.selected{outline:3px solid #0969da;outline-offset:-3px}
main,header{margin-right:34%}
#details{position:fixed;top:0;right:0;width:calc(34% - 40px);height:100vh;box-sizing:border-box;background:#fff;border-left:2px solid #24292f;padding:8px 20px;overflow:auto}
#details pre{background:#f6f8fa;padding:6px;white-space:pre-wrap;word-break:break-word}
input[type=search]{font:inherit;padding:4px 8px;width:320px}
tr.hidden,td.hidden,th.hidden{display:none}
summary{cursor:pointer;margin:8px 0;font-weight:600}
td.sum{white-space:normal;max-width:70ch}`;

/** Cells of the grid: a result's status, tier and the text for its details. */
interface CellData {
  c: string;
  t: string | null;
  s: CheckStatus;
  tier: string | null;
  sum: string;
  ev: Record<string, unknown>;
  rb: string;
  url: string | null;
}

export interface HtmlReportOptions {
  /** Where the run went (the CLI's target line; never a URL with credentials). */
  target: string;
  /** `alerts.runbookBaseUrl`: each runbook section links there. */
  runbookBaseUrl?: string | null;
  alertsPublished?: boolean;
}

/**
 * A grid cell: a symbol (and the tier or status word when not passing) and the summary as its
 * title. Only cells that are not passing carry their index into the data (evidence) and a tab
 * stop: at a thousand tenants the 14,000 passing cells are most of the file.
 */
function statusCell(result: CheckResult, index: number): string {
  const look = STATUS_LOOK[result.status];
  const perEntryPoint = entryPointVerdicts(result);
  const title = escapeHtml(
    perEntryPoint === undefined
      ? result.summary
      : `${perEntryPoint.map((entry) => `${entry.name}: ${entry.line}`).join('\n')}\n${result.summary}`,
  );
  // The entry points' check: one mark an entry point, in config order, in its one column.
  const mark = perEntryPoint === undefined ? look.mark : perEntryPoint.map((entry) => entry.mark).join('');
  if (result.status === 'pass') return `<td class="c s-pass" title="${title}">${mark}</td>`;
  const label = `${mark} ${result.tier ?? look.label}`;
  return `<td class="c s-${result.status}" tabindex="0" data-i="${index}" data-check="${escapeHtml(result.checkId)}" title="${title}">${escapeHtml(label)}</td>`;
}

interface EntryPointCell {
  name: string;
  mark: string;
  /** `fail: missing-signature HTTP 202; wrong-signature HTTP 401; ...` */
  line: string;
}

/** Per entry point of `webhook.entry_points_reject_forgeries` (its evidence), or undefined for any other result. */
function entryPointVerdicts(result: CheckResult): EntryPointCell[] | undefined {
  const entries = result.evidence.entryPoints;
  if (result.checkId !== 'webhook.entry_points_reject_forgeries' || !Array.isArray(entries) || entries.length === 0) {
    return undefined;
  }
  return entries.flatMap((entry: unknown) => {
    if (entry === null || typeof entry !== 'object') return [];
    const { name, verdict, probes } = entry as { name?: unknown; verdict?: unknown; probes?: unknown };
    const status =
      typeof verdict === 'string' && Object.hasOwn(STATUS_LOOK, verdict) ? (verdict as CheckStatus) : 'error';
    const sent = Object.entries(probes !== null && typeof probes === 'object' ? probes : {}).map(([probe, value]) => {
      const { verdict: v, status: http } = (value ?? {}) as { verdict?: unknown; status?: unknown };
      return `${probe} ${typeof http === 'number' ? `HTTP ${http}` : String(v)}`;
    });
    return [{ name: String(name), mark: STATUS_LOOK[status].mark, line: `${status}: ${sent.join('; ')}` }];
  });
}

export function renderHtmlReport(report: Report, options: HtmlReportOptions): string {
  const base = options.runbookBaseUrl ?? null;
  // Evidence of the cells that are not passing; a passing cell's summary is its title.
  const cells: (CellData | 0)[] = report.results.map((r) =>
    r.status === 'pass'
      ? 0
      : {
          c: r.checkId,
          t: r.tenantId,
          s: r.status,
          tier: r.tier,
          sum: r.summary,
          ev: r.evidence,
          rb: r.runbook,
          url: runbookUrl(base, r.runbook),
        },
  );
  const runbooks = Object.fromEntries(
    CATALOG.map((entry) => [entry.id, { rb: entry.runbook, url: runbookUrl(base, entry.runbook) }]),
  );
  const index = new Map(report.results.map((r, i) => [r, i]));
  const platform = report.results.filter((r) => r.tenantId === null);
  const byTenant = new Map<string, CheckResult[]>(report.tenants.map((t) => [t, []]));
  for (const r of report.results) if (r.tenantId !== null) byTenant.get(r.tenantId)?.push(r);
  const order = new Map(CATALOG.map((entry, i) => [entry.id as string, i]));
  const checks = [...new Set(report.results.filter((r) => r.tenantId !== null).map((r) => r.checkId))].sort(
    (a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0),
  );
  const row = (tenantId: string, results: readonly CheckResult[]) => {
    const mine = new Map(results.map((r) => [r.checkId as string, r]));
    const tds = checks.map((checkId) => {
      const result = mine.get(checkId);
      return result === undefined ? '<td></td>' : statusCell(result, index.get(result) as number);
    });
    return `<tr data-tenant="${escapeHtml(tenantId)}"><th scope="row">${escapeHtml(tenantId)}</th>${tds.join('')}</tr>`;
  };
  const head = `<tr><th>tenant</th>${checks.map((c) => `<th class="check" data-check="${escapeHtml(c)}" scope="col">${escapeHtml(c)}</th>`).join('')}</tr>`;
  const tenants = [...byTenant];
  const failing = tenants.filter(([, results]) => !allQuiet(results));
  const passing = tenants.filter(([, results]) => allQuiet(results));
  const counts = countStatuses(report.results);
  const seconds = ((Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000).toFixed(1);
  const platformRows = platform
    .map(
      (r) =>
        `<tr><th scope="row">${escapeHtml(r.checkId)}</th>${statusCell(r, index.get(r) as number)}<td class="sum">${escapeHtml(r.summary)}</td></tr>`,
    )
    .join('');
  const alerts =
    report.alerts.length === 0
      ? '<p class="muted">No alerts.</p>'
      : `<ul id="alerts">${report.alerts.map((a) => `<li>[${escapeHtml(a.tier)}] ${escapeHtml(a.state)} <code>${escapeHtml(a.dedupKey)}</code></li>`).join('')}</ul>`;
  const body = `
<header><h1>tenant-canary run ${escapeHtml(report.runId)}</h1>
<div>${escapeHtml(report.startedAt)} · ${escapeHtml(options.target)} · ${report.tenants.length} tenants · ${seconds} s</div>
<div class="counts" id="counts">${(['pass', 'fail', 'degraded', 'error', 'skipped'] as const).map((s) => `<span>${STATUS_LOOK[s].mark} ${counts[s]} ${s}</span>`).join('')}</div></header>
<main>
<h2>Platform</h2>
${platform.length === 0 ? '<p class="muted">No platform checks in this run.</p>' : `<table id="platform">${platformRows}</table>`}
<h2>Tenants × checks</h2>
<p><label>Filter by tenant or check id: <input type="search" id="filter" placeholder="acme-corp, webhook."></label>
<span class="muted" id="shown"></span></p>
<p class="muted">${failing.length} tenant${failing.length === 1 ? '' : 's'} with a failing, degraded or erroring check first; click or focus a cell for its details.</p>
<table id="grid"><thead>${head}</thead><tbody id="failing">${failing.map(([t, r]) => row(t, r)).join('')}</tbody></table>
<details id="passing-tenants"${failing.length === 0 && passing.length <= 20 ? ' open' : ''}><summary>${passing.length} tenant${passing.length === 1 ? '' : 's'}: every check passing${passing.some(([, results]) => results.some((r) => r.status === 'skipped')) ? ' or skipped' : ''}</summary>
<table class="grid-passing"><thead>${head}</thead><tbody>${passing.map(([t, r]) => row(t, r)).join('')}</tbody></table></details>
<h2>Alerts${options.alertsPublished ? ' sent' : ' (dry run: not sent)'}</h2>
${alerts}
</main>
<section id="details" aria-live="polite"><p class="muted">Select a cell to see its summary, evidence and runbook.</p></section>`;
  return page(`tenant-canary run ${report.runId}`, body, { cells, runbooks }, REPORT_SCRIPT);
}

const REPORT_SCRIPT = `
const { cells, runbooks } = JSON.parse(document.getElementById('data').textContent);
const details = document.getElementById('details');
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
// A grid cell's check is its column's; a platform row names its check in its first cell.
const checkOf = (td) => {
  const head = td.closest('table').querySelector('thead');
  return head ? head.querySelectorAll('th')[td.cellIndex]?.dataset.check : td.closest('tr').querySelector('th').textContent;
};
// webhook.entry_points_reject_forgeries: one row an entry point, one column a probe.
function entryPointTable(entries) {
  const probes = [...new Set(entries.flatMap((e) => Object.keys(e.probes || {})))];
  const cell = (p) => !p ? '<td></td>' : '<td class="s-' + esc(p.verdict) + '">' + esc(p.verdict) + (typeof p.status === 'number' ? ' (HTTP ' + p.status + ')' : '') + '</td>';
  return '<table class="entry-points"><tr><th>entry point</th>' + probes.map((p) => '<th>' + esc(p) + '</th>').join('') + '</tr>'
    + entries.map((e) => '<tr><th scope="row" class="s-' + esc(e.verdict) + '">' + esc(e.name) + '</th>' + probes.map((p) => cell((e.probes || {})[p])).join('') + '</tr>').join('') + '</table>';
}
let selected;
function show(td) {
  const row = td.closest('tr');
  const known = td.dataset.i === undefined ? undefined : cells[Number(td.dataset.i)];
  const check = known ? known.c : checkOf(td);
  const cell = known || { c: check, t: row.dataset.tenant ?? null, s: 'pass', tier: null, sum: td.title, ev: {}, ...runbooks[check] };
  selected?.classList.remove('selected');
  selected = td; td.classList.add('selected');
  const link = cell.url ? ' <a href="' + esc(cell.url) + '" rel="noreferrer">open the runbook</a>' : '';
  details.innerHTML = '<h2 id="details-title">' + esc(cell.c) + (cell.t ? ' · ' + esc(cell.t) : ' · platform') + '</h2>'
    + '<p><strong>' + esc(cell.s) + (cell.tier ? ' ' + esc(cell.tier) : '') + '</strong>: ' + esc(cell.sum) + '</p>'
    + '<p>Runbook: ' + esc(cell.rb) + link + '</p>'
    + (Array.isArray(cell.ev.entryPoints) && cell.ev.entryPoints[0]?.probes ? entryPointTable(cell.ev.entryPoints) : '')
    + (Object.keys(cell.ev).length ? '<pre>' + esc(JSON.stringify(cell.ev, null, 2)) + '</pre>' : '');
}
document.addEventListener('click', (e) => { const td = e.target.closest('td.c'); if (td) show(td); });
document.addEventListener('focusin', (e) => { const td = e.target.closest?.('td.c'); if (td) show(td); });
const filter = document.getElementById('filter');
const shown = document.getElementById('shown');
filter.addEventListener('input', () => {
  const q = filter.value.trim().toLowerCase();
  const rows = [...document.querySelectorAll('tr[data-tenant]')];
  const anyTenant = !!q && rows.some((tr) => tr.dataset.tenant.toLowerCase().includes(q));
  const anyCheck = !!q && [...document.querySelectorAll('#grid th.check')].some((th) => th.dataset.check.toLowerCase().includes(q));
  // Columns shown: all, unless the query names no tenant (then the checks it names).
  const columns = [...document.querySelector('#grid thead tr').children].map((th) => !q || anyTenant || !th.dataset.check || th.dataset.check.toLowerCase().includes(q));
  for (const table of document.querySelectorAll('#grid, .grid-passing')) {
    table.querySelectorAll('thead th').forEach((th, i) => th.classList.toggle('hidden', !columns[i]));
  }
  let count = 0;
  for (const tr of rows) {
    const visible = !q || (anyTenant ? tr.dataset.tenant.toLowerCase().includes(q) : anyCheck);
    tr.classList.toggle('hidden', !visible);
    if (visible) count++;
    [...tr.children].forEach((td, i) => td.classList.toggle('hidden', !columns[i]));
  }
  if (q) document.getElementById('passing-tenants').open = true;
  shown.textContent = q ? count + ' tenant' + (count === 1 ? '' : 's') + ' shown' : '';
});`;

function page(title: string, body: string, data: unknown, script: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>${body}
<script type="application/json" id="data">${scriptJson(data)}</script>
<script>${script}</script>
</body></html>
`;
}

const DRILL_LOOK = {
  both: { mark: '✓', label: 'expected, fired', cls: 's-pass' },
  missing: { mark: '✗', label: 'expected, not fired', cls: 's-fail' },
  unexpected: { mark: '!', label: 'fired, not expected', cls: 's-degraded' },
} as const;

/** The drill's fault × check matrix: what each fault should fire against what it did. */
export function renderHtmlDrill(rows: readonly DrillRow[], options: { target: string; startedAt: string }): string {
  const checks = [...new Set(rows.flatMap((row) => [...row.expected, ...row.got].map((e) => e.checkId)))].sort((a, b) =>
    a.localeCompare(b),
  );
  const cells: {
    fault: string;
    checkId: string;
    kind: keyof typeof DRILL_LOOK;
    expected: unknown[];
    got: unknown[];
  }[] = [];
  const body = rows
    .map((row) => {
      if (row.skipped !== undefined) {
        return `<tr data-fault="${escapeHtml(row.fault)}"><th scope="row">${escapeHtml(row.fault)}</th><td colspan="${checks.length + 1}" class="s-skipped">– skipped: ${escapeHtml(row.skipped)}</td></tr>`;
      }
      const tds = checks.map((checkId) => {
        const expected = row.expected.filter((e) => e.checkId === checkId);
        const got = row.got.filter((e) => e.checkId === checkId);
        if (expected.length === 0 && got.length === 0) return '<td></td>';
        // As `compare` judged it: anything expected and not fired, else anything fired unexpected.
        const kind: keyof typeof DRILL_LOOK = row.missing.some((e) => e.checkId === checkId)
          ? 'missing'
          : row.unexpected.some((e) => e.checkId === checkId)
            ? 'unexpected'
            : 'both';
        const look = DRILL_LOOK[kind];
        cells.push({ fault: row.fault, checkId, kind, expected, got });
        const tier = [...new Set([...expected, ...got].map((e) => e.tier))].join('/');
        return `<td class="c ${look.cls}" tabindex="0" data-i="${cells.length - 1}" data-check="${escapeHtml(checkId)}" title="${escapeHtml(`${checkId}: ${look.label}`)}" aria-label="${escapeHtml(`${row.fault} ${checkId} ${look.label}`)}">${look.mark} ${escapeHtml(tier)}</td>`;
      });
      const verdict = row.ok ? '✓ ok' : '✗ mismatch';
      return `<tr data-fault="${escapeHtml(row.fault)}"><th scope="row">${escapeHtml(row.fault)}</th><td class="${row.ok ? 's-pass' : 's-fail'}">${verdict}</td>${tds.join('')}</tr>`;
    })
    .join('');
  const drilled = rows.filter((row) => row.skipped === undefined);
  const ok = drilled.filter((row) => row.ok).length;
  const html = `
<header><h1>tenant-canary drill</h1><div>${escapeHtml(options.startedAt)} · ${escapeHtml(options.target)} · ${ok} of ${drilled.length} drills ok</div></header>
<main><p class="muted">${Object.values(DRILL_LOOK)
    .map((l) => `${l.mark} ${l.label}`)
    .join(' · ')}</p>
<table id="matrix"><thead><tr><th>fault</th><th>drill</th>${checks.map((c) => `<th class="check" scope="col">${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table></main>
<section id="details" aria-live="polite"><p class="muted">Select a cell to see what was expected and what fired.</p></section>`;
  return page('tenant-canary drill', html, cells, DRILL_SCRIPT);
}

const DRILL_SCRIPT = `
const cells = JSON.parse(document.getElementById('data').textContent);
const details = document.getElementById('details');
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const list = (items) => items.length ? items.map((e) => esc(e.checkId + ' ' + e.status + ' ' + e.tier + (e.tenantId ? ' (' + e.tenantId + ')' : ''))).join('<br>') : 'nothing';
function show(td) {
  const cell = cells[Number(td.dataset.i)];
  if (!cell) return;
  details.innerHTML = '<h2 id="details-title">' + esc(cell.fault) + ' · ' + esc(cell.checkId) + '</h2><p><strong>expected</strong><br>' + list(cell.expected) + '</p><p><strong>fired</strong><br>' + list(cell.got) + '</p>';
}
document.addEventListener('click', (e) => { const td = e.target.closest('td.c'); if (td) show(td); });
document.addEventListener('focusin', (e) => { const td = e.target.closest?.('td.c'); if (td) show(td); });`;
