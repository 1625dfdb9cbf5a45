// Live dashboard: listen to the server's event stream and refetch the figures of the villages that
// changed. Without JavaScript the page is complete and correct as of when it loaded.
import { h } from './dom.js';

const root = document.getElementById('dashboard');

const number = (n) => Number(n).toLocaleString('en-US');

function meterText(fig) {
  if (!fig.quota) return number(fig.collected);
  return `${number(fig.collected)} / ${number(fig.quota)} · ${fig.percent.toFixed(1)}%`;
}

function updateFigures(container, row) {
  for (const kind of ['people', 'houses', 'orgs']) {
    const fig = row[kind];
    const el = container.querySelector(`[data-fig="${kind}"]`);
    if (!el || !fig) continue;
    const bar = el.querySelector('progress');
    if (bar) bar.value = fig.bar;
    const text = el.querySelector('[data-text]');
    if (text) {
      text.textContent = kind === 'orgs' && !bar
        ? (fig.quota ? `${number(fig.collected)} / ${fig.quota}` : number(fig.collected))
        : meterText(fig);
    }
  }
  const cell = container.querySelector('[data-status-cell]');
  if (cell) {
    cell.replaceChildren();
    if (row.status) {
      const mark = { behind: '▼ ', done: '✓ ' }[row.status];
      cell.append(h('span', { class: `tag ${row.status}`, 'data-status': '' },
        mark ? h('span', { 'aria-hidden': 'true' }, mark) : null,
        root.dataset[`label-${row.status}`.replace(/-(\w)/g, (_m, c) => c.toUpperCase())] || row.status));
    }
  }
  if (container.tagName === 'TR') {
    container.className = row.status || '';
    // Keep the client-side sort keys in step with the figures.
    const RANK = { behind: 0, on_track: 1, not_started: 2, done: 3 };
    container.dataset.rank = String(RANK[row.status] ?? 4);
    for (const kind of ['people', 'houses', 'orgs']) {
      if (row[kind] && row[kind].percent !== null) container.dataset[`pct${kind[0].toUpperCase()}${kind.slice(1)}`] = row[kind].percent;
    }
  }
}

// Sorting without a reload: the same order as the server's ?sort= links (which work without JS).
function sortKey(tr, key) {
  if (key === 'name') return tr.dataset.name;
  if (key === 'status') return Number(tr.dataset.rank);
  const pct = tr.dataset[`pct${key[0].toUpperCase()}${key.slice(1)}`];
  return pct === undefined ? null : Number(pct);
}

function sortTable(table, key, descending) {
  const body = table.tBodies[0];
  const rows = [...body.rows].sort((a, b) => Number(a.dataset.order) - Number(b.dataset.order));
  const withKey = rows.filter((r) => sortKey(r, key) !== null);
  const without = rows.filter((r) => sortKey(r, key) === null);
  const cmp = (a, b) => {
    const x = sortKey(a, key);
    const y = sortKey(b, key);
    const order = typeof x === 'string' ? x.localeCompare(y) : x - y;
    return descending ? -order : order;
  };
  body.append(...withKey.sort(cmp), ...without);
  for (const th of table.tHead.rows[0].cells) {
    const link = th.querySelector('a');
    if (!link) continue; // a column with no order of its own (the on-time rate)
    const active = th.dataset.sort === key;
    if (active) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
    const arrow = link.querySelector('span[aria-hidden]');
    if (arrow) arrow.remove();
    const url = new URL(link.href);
    url.searchParams.set('dir', active && !descending ? 'desc' : (active ? 'asc' : 'desc'));
    link.href = url;
    if (active) {
      link.append(h('span', { 'aria-hidden': 'true' }, descending ? ' ↓' : ' ↑'));
    }
  }
}

function enhanceSorting() {
  const table = document.getElementById('villages');
  if (!table) return;
  table.tHead.addEventListener('click', (event) => {
    const link = event.target.closest('th[data-sort] a');
    if (!link) return;
    event.preventDefault();
    const url = new URL(link.href);
    sortTable(table, url.searchParams.get('sort'), url.searchParams.get('dir') === 'desc');
    history.replaceState(null, '', `${location.pathname}?${url.searchParams}`);
  });
}

let pending = new Set();
let timer = null;

async function refresh() {
  timer = null;
  const villages = [...pending];
  pending = new Set();
  const url = new URL(root.dataset.figures, location.href);
  if (villages.length && !villages.includes('*')) url.searchParams.set('villages', villages.join(','));
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (response.redirected || !response.ok) {
    status(root.dataset.msgStopped);
    return;
  }
  const data = await response.json();
  for (const row of data.rows) {
    for (const el of root.querySelectorAll(`[data-village="${row.village_id}"]`)) updateFigures(el, row);
  }
  const total = root.querySelector('[data-total]');
  if (total && data.total) updateFigures(total, data.total);
  await refreshPanels();
  const time = new Date().toLocaleTimeString(document.documentElement.lang || undefined);
  root.dataset.updated = time;
  status(root.dataset.msgUpdated.replace('{time}', time));
}

async function refreshPanels() {
  // The chart and the collectors' table are rendered on the server (no chart code in the browser).
  const panels = document.getElementById('live-panels');
  if (!panels) return;
  const response = await fetch(panels.dataset.panels, { credentials: 'same-origin' });
  if (!response.ok || response.redirected) return;
  const html = await response.text();
  const open = [...panels.querySelectorAll('details')].map((d) => d.open);
  const template = document.createElement('template');
  template.innerHTML = html;
  panels.replaceChildren(template.content);
  panels.querySelectorAll('details').forEach((d, i) => { if (open[i]) d.open = true; });
}

function status(text) {
  const el = document.getElementById('live-status');
  if (el) el.textContent = text;
}

function schedule(villages) {
  for (const v of villages) pending.add(String(v));
  // Coalesce a burst of events (a big push touches a village many times) into one request.
  if (!timer) timer = setTimeout(() => refresh().catch(() => {}), 100);
}

function connect() {
  const url = new URL(root.dataset.events, location.href);
  url.searchParams.set('after', root.dataset.cursor);
  const source = new EventSource(url);
  source.addEventListener('change', (e) => schedule(JSON.parse(e.data).villages));
  source.addEventListener('reset', () => schedule(['*']));
  source.addEventListener('revoked', () => {
    source.close();
    status(root.dataset.msgRevoked);
  });
  source.addEventListener('open', () => { root.dataset.connected = '1'; });
}

if (root) enhanceSorting();

if (root && root.dataset.live === '1' && 'EventSource' in window) {
  connect();
}
