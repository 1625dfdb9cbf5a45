// The progress map: houses as shaped points by state on a canvas, clustered; village markers with
// their progress; a popup per house fetched on tap. Leaflet and Leaflet.markercluster are vendored
// classic scripts (window.L), loaded with `defer` before this module runs.
//
// Why canvas: 10,000+ SVG or DOM markers make a cheap phone crawl; one canvas redraws them fast.
// Why shapes: colour is not the only cue (ring, dot, triangle, square; the legend says which).
// UI text comes from the page (data-l-* attributes and <template>), translated on the server.
import { h } from './dom.js';

const L = window.L;
const el = document.getElementById('map');
const statusEl = document.getElementById('map-status');

// Index = the state index in the points JSON (rules/map_state.py STATES).
const STYLES = [
  { shape: 'ring', color: '#57606a', fillColor: '#ffffff', weight: 2.5, radius: 6 },
  { shape: 'dot', color: '#ffffff', fillColor: '#1a7f37', weight: 1.5, radius: 6 },
  { shape: 'triangle', color: '#ffffff', fillColor: '#bc4c00', weight: 1.5, radius: 7 },
  { shape: 'square', color: '#ffffff', fillColor: '#cf222e', weight: 1.5, radius: 6 },
];

// Pie colours of a cluster, by state (the legend's; "not yet visited" a darker grey to show on white).
const PIE = ['#8c959f', '#1a7f37', '#bc4c00', '#cf222e'];

const text = (name, params = {}) =>
  (el.dataset[name] || '').replace(/\{(\w+)\}/g, (m, key) => (key in params ? String(params[key]) : m));

const number = (n) => Number(n).toLocaleString(document.documentElement.lang || undefined);

// A circle marker that draws its state's shape; hit-testing stays the circle's (good enough for a tap).
const ShapeMarker = L.CircleMarker.extend({
  _updatePath() {
    const renderer = this._renderer;
    if (!renderer._drawing || this._empty()) return;
    const ctx = renderer._ctx;
    const p = this._point;
    const r = Math.max(Math.round(this._radius), 1);
    ctx.beginPath();
    if (this.options.shape === 'triangle') {
      ctx.moveTo(p.x, p.y - r * 1.2);
      ctx.lineTo(p.x + r * 1.1, p.y + r * 0.85);
      ctx.lineTo(p.x - r * 1.1, p.y + r * 0.85);
      ctx.closePath();
    } else if (this.options.shape === 'square') {
      ctx.rect(p.x - r * 0.9, p.y - r * 0.9, r * 1.8, r * 1.8);
    } else {
      ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
    }
    renderer._fillStroke(ctx, this);
  },
});

const canvas = L.canvas({ padding: 0.5, tolerance: 6 }); // tolerance: a fingertip, not a mouse pixel
// maxZoom on the map itself: without a tile layer nothing else sets it, and clustering needs it.
const map = L.map(el, { preferCanvas: true, renderer: canvas, zoomSnap: 0.5, maxZoom: 19, minZoom: 3 });
const tileUrl = el.dataset.tileUrl;
if (tileUrl) {
  L.tileLayer(tileUrl, { attribution: el.dataset.attribution, subdomains: el.dataset.tileSubdomains,
                         maxZoom: 19, crossOrigin: false }).addTo(map);
} else {
  el.classList.add('plain'); // no tiles configured: points on a plain background
}
map.attributionControl.setPrefix(false);

const cluster = L.markerClusterGroup({
  chunkedLoading: true, // add thousands of points without freezing the page
  showCoverageOnHover: false,
  spiderfyOnMaxZoom: true,
  disableClusteringAtZoom: 18,
  maxClusterRadius: 50,
  chunkProgress(done, total) {
    // !pendingChunks: the group's own re-add when the map first gets a view (nothing of ours yet).
    if (done < total || !pendingChunks) return;
    pendingChunks -= 1;
    if (!pendingChunks) summarise();
  },
  iconCreateFunction(group) {
    // A pie of the states inside the group (so "not yet visited" shows from afar), around the count.
    const n = group.getChildCount();
    const tally = [0, 0, 0, 0];
    for (const marker of group.getAllChildMarkers()) tally[marker.options.state] += 1;
    const stops = [];
    let from = 0;
    tally.forEach((k, i) => {
      if (!k) return;
      const to = from + (360 * k) / n;
      stops.push(`${PIE[i]} ${from}deg ${to}deg`);
      from = to;
    });
    const box = h('div', { class: 'pie' }, h('span', { 'aria-hidden': 'true' }, number(n)),
      h('span', { class: 'visually-hidden' }, text('lHouses', { n: number(n) })));
    box.style.background = `conic-gradient(${stops.join(', ')})`; // CSSOM: allowed by the CSP
    const size = n < 100 ? 40 : n < 1000 ? 48 : 56;
    return L.divIcon({ html: box, className: 'house-cluster', iconSize: L.point(size, size) });
  },
}).addTo(map);
// Zoomed out over a whole town, house bubbles would bury the village markers (and a 360 px phone
// has no room for both): below DETAIL_FROM_ZOOM the map shows villages only (class "far" hides the
// houses' bubbles and canvas), each with its percentage, and villages too close to tell apart
// grouped with their combined progress. From DETAIL_FROM_ZOOM on: every village with its name,
// and the houses. Every marker keeps its full name and figures as its title and in its popup.
const DETAIL_FROM_ZOOM = 14;
const villageLayer = L.markerClusterGroup({
  showCoverageOnHover: false,
  disableClusteringAtZoom: DETAIL_FROM_ZOOM,
  animate: false, // a handful of markers: no fade (which also leaves them half-transparent for a moment)
  maxClusterRadius: 80, // px: a badge is about 75 px wide
  iconCreateFunction(group) {
    const inside = group.getAllChildMarkers().map((m) => m.options.block);
    const people = inside.reduce((sum, b) => sum + (b.quota ? b.people : 0), 0);
    const quota = inside.reduce((sum, b) => sum + (b.quota || 0), 0);
    const percent = quota ? `${Math.round((100 * people) / quota)}%` : '';
    const names = inside.map((b) => b.name).join('、');
    // A small count badge and the percentage (a phone's width has room for little more); the
    // count's words and the villages' names for screen readers.
    return L.divIcon({ className: 'village-marker village-group', iconSize: null,
                       html: `<b aria-hidden="true">${inside.length}</b> <span>${percent}</span>`
                             + `<span class="visually-hidden">${escapeHtml(text('lVillages', { n: inside.length }))}: ${escapeHtml(names)}</span>` });
  },
}).addTo(map);
const showDetail = () => el.classList.toggle('far', map.getZoom() < DETAIL_FROM_ZOOM);
map.on('zoomend', showDetail);

const blocks = new Map(); // village id -> its block from the points JSON
const markers = new Map(); // village id -> the house markers drawn for it
const villageMarkers = new Map();
const etags = new Map(); // url -> the ETag of the copy we hold (responses are no-store)
let fitted = false;
let pendingChunks = 0; // addLayers() calls still adding points in chunks

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function houseMarker(row) {
  const [id, lat, lon, state] = row;
  const marker = new ShapeMarker([lat, lon], { ...STYLES[state], fillOpacity: 1, opacity: 1,
                                               renderer: canvas, houseId: id, state });
  marker.on('click', () => openHouse(marker));
  return marker;
}

function villageLabel(block) {
  if (block.quota) {
    return text('lPeople', { collected: number(block.people), quota: number(block.quota),
                             percent: block.percent.toFixed(1) });
  }
  return text('lPeopleNoQuota', { collected: number(block.people) });
}

function showVillage(block) {
  if (villageMarkers.has(block.id)) villageLayer.removeLayer(villageMarkers.get(block.id));
  villageMarkers.delete(block.id);
  if (block.lat == null || block.lon == null) return;
  const percent = block.percent == null ? '' : `${Math.round(block.percent)}%`;
  const icon = L.divIcon({ className: 'village-marker', iconSize: null,
                           html: `<strong>${escapeHtml(block.name)}</strong> <span>${percent}</span>` });
  const marker = L.marker([block.lat, block.lon], { icon, keyboard: true, zIndexOffset: 1000, block,
                                                    title: `${block.name}: ${villageLabel(block)}` });
  // Zoomed out, a village is the way to its houses: tapping it zooms there (and shows its figures).
  marker.on('click', () => { if (map.getZoom() < DETAIL_FROM_ZOOM) map.setView(marker.getLatLng(), DETAIL_FROM_ZOOM + 1); });
  marker.bindPopup(() => {
    return h('div', {}, h('strong', {}, block.name), h('p', {}, villageLabel(block)),
      h('p', {}, text('lHouses', { n: number(block.counts.reduce((a, b) => a + b, 0)) })));
  });
  villageLayer.addLayer(marker);
  villageMarkers.set(block.id, marker);
}

// The filter "show only flagged houses": the index of "flagged" in the legend (= STATES), and
// whether a house row passes. Counts stay the whole village's; only what is drawn changes.
const onlyFlagged = document.getElementById('map-only-flagged');
const FLAGGED = [...document.querySelectorAll('#map-legend li')].findIndex((li) => li.dataset.state === 'flagged');
const shown = (row) => !(onlyFlagged && onlyFlagged.checked) || row[3] === FLAGGED;

function apply(data) {
  if (!fitted) fit(data.villages); // a view first: a cluster group on a map without one only queues
  const stale = [];
  const fresh = [];
  for (const block of data.villages) {
    stale.push(...(markers.get(block.id) || []));
    const made = block.houses.filter(shown).map(houseMarker);
    fresh.push(...made);
    markers.set(block.id, made);
    blocks.set(block.id, block);
    showVillage(block);
  }
  if (stale.length) cluster.removeLayers(stale);
  if (!fresh.length) { summarise(); return; } // nothing to add (e.g. no flagged house under the filter)
  pendingChunks += 1; // chunkProgress below calls summarise() when the last chunk is in
  cluster.addLayers(fresh);
}

function summarise() {
  const totals = [0, 0, 0, 0];
  let unplaced = 0;
  for (const block of blocks.values()) {
    block.counts.forEach((n, i) => { totals[i] += n; });
    unplaced += block.unplaced;
  }
  const drawn = [0, 0, 0, 0];
  for (const layer of cluster.getLayers()) drawn[layer.options.state] += 1;
  const states = [...document.querySelectorAll('#map-legend li')].map((li) => li.dataset.state);
  states.forEach((state, i) => {
    document.querySelector(`#map-legend [data-count="${state}"]`).textContent = number(totals[i]);
  });
  // For tests and curious readers: what the legend counts and what the cluster layer holds.
  el.dataset.counts = JSON.stringify(Object.fromEntries(states.map((s, i) => [s, totals[i]])));
  el.dataset.drawn = JSON.stringify(Object.fromEntries(states.map((s, i) => [s, drawn[i]])));
  el.dataset.unplaced = String(unplaced);
  const parts = [text('lLoaded', { n: number(drawn.reduce((a, b) => a + b, 0)) })];
  if (unplaced) parts.push(text('lUnplaced', { n: number(unplaced) }));
  statusEl.textContent = parts.join(' ');
  el.dataset.ready = 'true';
}

function fit(villages) {
  const bounds = L.latLngBounds([]);
  for (const block of villages) {
    if (block.lat != null && block.lon != null) bounds.extend([block.lat, block.lon]);
    for (const [, lat, lon] of block.houses) bounds.extend([lat, lon]);
  }
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
  else map.setView([35, 105], 4); // nothing placed yet: all of China
  showDetail();
  fitted = true;
}

async function load(village) {
  const url = village ? `${el.dataset.pointsUrl}?village=${encodeURIComponent(village)}` : el.dataset.pointsUrl;
  const headers = etags.has(url) ? { 'If-None-Match': etags.get(url) } : {};
  const response = await fetch(url, { headers, cache: 'no-store', credentials: 'same-origin' });
  if (response.status === 304) return false;
  if (!response.ok) throw new Error(`points: HTTP ${response.status}`);
  const data = await response.json();
  if (response.headers.get('ETag')) etags.set(url, response.headers.get('ETag'));
  apply(data);
  return true;
}

async function openHouse(marker) {
  const url = el.dataset.houseUrl.replace(/\/0\.json$/, `/${marker.options.houseId}.json`);
  marker.bindPopup('…').openPopup();
  let info;
  try {
    const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) throw new Error(String(response.status));
    info = await response.json();
  } catch (error) {
    marker.setPopupContent(text('lPopupFailed'));
    return;
  }
  const box = document.getElementById('house-popup').content.cloneNode(true);
  const label = document.querySelector(`#map-legend li[data-state="${info.state}"] span`);
  const values = { ...info, state: label ? label.textContent : info.state };
  for (const dd of box.querySelectorAll('[data-field]')) {
    const field = dd.dataset.field;
    if (values[field] == null || values[field] === '') {
      dd.previousElementSibling?.remove();
      dd.remove();
    } else {
      dd.textContent = typeof values[field] === 'number' ? number(values[field]) : values[field];
    }
  }
  const link = box.querySelector('[data-needs="link"]');
  if (info.url) link.href = info.url;
  else link.remove();
  marker.setPopupContent(h('div', {}, box));
}

// Live updates: the dashboard's event stream names villages that changed; refetch only those
// (each village has its own ETag, so an unchanged one costs a 304).
function listen() {
  const url = el.dataset.eventsUrl;
  if (!url || !window.EventSource) return false;
  const source = new EventSource(url);
  const pending = new Set();
  let timer = null;
  const refresh = () => {
    timer = null;
    const ids = [...pending].filter((id) => blocks.has(id));
    pending.clear();
    ids.forEach((id) => load(id).catch(() => {}));
  };
  const onEvent = (event) => {
    let ids = [];
    try {
      ids = JSON.parse(event.data).villages ?? [];
    } catch (error) {
      return;
    }
    ids.forEach((id) => pending.add(Number(id)));
    timer ??= setTimeout(refresh, 300); // a burst of events: one fetch per village
  };
  // progress/events (live.stream): `change` names villages; `reset` means "refetch everything"
  // (the cursor fell behind the pruned feed); `revoked` means this sign-in no longer sees them.
  source.addEventListener('change', onEvent);
  source.addEventListener('reset', () => load(null).catch(() => {}));
  source.addEventListener('revoked', () => source.close());
  return true;
}

async function start() {
  try {
    await load(null);
  } catch (error) {
    console.error(error);
    statusEl.textContent = text('lFailed');
    el.dataset.ready = 'error';
    return;
  }
  if (!listen()) {
    // No live stream: check now and then; an unchanged map costs one 304.
    setInterval(() => { if (!document.hidden) load(null).catch(() => {}); }, 60_000);
  }
}

// Redraw what is held (no fetch) when the filter changes.
onlyFlagged?.addEventListener('change', () => apply({ villages: [...blocks.values()] }));

window.fieldappMap = { map, cluster, load }; // for tests
start();
