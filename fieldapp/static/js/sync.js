// Talking to the server: connectivity check, device registration, push, photo upload, pull.
// One sync at a time (load, 'online', the service worker's Background Sync message and the button
// may all fire together); failures retry with exponential backoff and full jitter; a fatal 401
// (revoked, expired, unknown device) stops everything until the collector signs in again, and
// wipes the downloaded work package, never the outbox.
import * as db from './db.js';
import * as outbox from './outbox.js';
import * as pkg from './package.js';
import * as photos from './photos.js';

const BASE_DELAY = 2000;
const MAX_DELAY = 5 * 60 * 1000;
const PAGE = 500;
// Bumped when the phone keeps something new from the package (2: door QR token hashes): the next
// pull starts from cursor 0 so houses downloaded before get it too.
const PACKAGE_FORMAT = 2;

export class Fatal extends Error {
  constructor(code, message) { super(message || code); this.code = code; }
}
class Retry extends Error {}

let token = null;        // the device token, in memory only (sealed in IndexedDB)
let flight = null;
let again = false;        // something was saved during a sync: go once more after it
let attempt = 0;
let leaving = false;       // signing out: a running pull stores nothing more
let timer = null;
const listeners = new Set();

export const setToken = (value) => { token = value; };
export const hasToken = () => token !== null;
export const onChange = (fn) => listeners.add(fn);
const emit = (event) => listeners.forEach((fn) => fn(event));

function withTimeout(ms) {
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), ms);
  return ctl.signal;
}

// navigator.onLine only says a network interface is up; this says the server answers.
export async function reachable() {
  try {
    const r = await fetch('/api/ping', { cache: 'no-store', signal: withTimeout(8000) });
    return r.ok;
  } catch (e) {
    return false;
  }
}

export async function api(method, path, { json, body, headers = {}, timeout = 30000 } = {}) {
  let r;
  try {
    r = await fetch(path, {
      method, cache: 'no-store', signal: withTimeout(timeout),
      headers: { Authorization: `Bearer ${token}`, ...(json ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: json ? JSON.stringify(json) : body,
    });
  } catch (e) {
    throw new Retry('network');
  }
  if (r.status === 401) {
    const answer = await r.json().catch(() => ({}));
    throw new Fatal(answer.error || 'unknown_device', answer.message);
  }
  if (r.status === 204) return null;
  const answer = await r.json().catch(() => null);
  if (!r.ok) {
    const error = new Retry(`HTTP ${r.status}`);
    error.status = r.status;
    error.answer = answer;
    throw error;
  }
  return answer;
}

// The session cookie from /login -> a device credential. Returns null when not signed in.
export async function registerDevice() {
  const session = await (await fetch('/api/session', { cache: 'no-store', credentials: 'same-origin' })).json();
  if (!session.signed_in) return null;
  const r = await fetch('/api/devices', {
    method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': session.csrf_token },
    body: JSON.stringify({ name: navigator.userAgent.slice(0, 120) }),
  });
  if (!r.ok) {
    const answer = await r.json().catch(() => ({}));
    throw new Fatal(answer.error || `http_${r.status}`, answer.message);
  }
  return r.json();
}

export async function signOutDevice() {
  if (token) await api('DELETE', '/api/devices/current').catch(() => {});
}

// Signing out of the phone: the token is revoked on the server when it can be reached, and either
// way the downloaded household data and the sealed token leave the phone now. Unsent records stay
// (sealed with the PIN); they go after the collector signs in again.
export async function signOut() {
  // A running sync ends first (a pull stops after the page it is fetching, without storing it), so
  // that nothing is stored after the wipe below, and the revocation does not cut it off midway.
  leaving = true;
  if (flight) await flight;
  await signOutDevice();
  await pkg.wipe();
  await db.delMeta('cursor');
  await db.delMeta('device');
  token = null;
  leaving = false;
}

async function push() {
  for (const batch of await outbox.batches()) {
    // sent_at: the server corrects this batch's moments if the phone's clock is set wrong.
    const answer = await api('POST', '/api/sync/push', { json: { items: batch, sent_at: new Date().toISOString() } });
    const { forget } = await outbox.settle(answer.results || []);
    if (forget.length) await pkg.forgetLocal(forget);
    emit({ type: 'progress' });
  }
}

async function pull() {
  const format = await db.meta('package_format');
  let cursor = format === PACKAGE_FORMAT ? (await db.meta('cursor')) || 0 : 0;
  for (;;) {
    const page = await api('GET', `/api/sync/package?cursor=${cursor}&limit=${PAGE}`, { timeout: 60000 });
    if (leaving) return;
    await pkg.ingest(page);
    cursor = page.cursor;
    await db.setMeta('cursor', cursor); // after the page is stored: a crash re-reads it, never skips it
    if (page.villages) await db.setMeta('villages', page.villages);
    emit({ type: 'progress' });
    if (!page.more) break;
  }
  if (format !== PACKAGE_FORMAT) await db.setMeta('package_format', PACKAGE_FORMAT);
  if (!(await db.meta('living_counts'))) await pkg.recount(); // now, not when the list opens
}

async function once() {
  if (await db.meta('fatal')) return 'stopped';
  if (!token || leaving) return 'locked';
  if (!(await reachable())) throw new Retry('offline');
  await push();
  await photos.uploadAll(api);
  await pull();
  await db.setMeta('last_sync', new Date().toISOString());
  return 'done';
}

async function fatal(error) {
  await db.setMeta('fatal', { code: error.code, message: error.message, at: new Date().toISOString() });
  await pkg.wipe();
  await db.delMeta('cursor');
  token = null;
}

function schedule() {
  clearTimeout(timer);
  const delay = Math.random() * Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt); // full jitter
  attempt += 1;
  timer = setTimeout(() => syncNow('retry'), delay);
  return delay;
}

// A new chance (the network came back, the collector pressed the button): start the backoff afresh.
export function syncNow(trigger = 'manual') {
  // Not on 'background': Chromium fires Background Sync at once while it believes it is online, so
  // resetting there would turn a server that refuses connections into a tight retry loop.
  if (trigger === 'online' || trigger === 'button') attempt = 0;
  if (flight && (trigger === 'saved' || trigger === 'visit')) again = true;
  flight ??= (async () => {
    clearTimeout(timer);
    emit({ type: 'start', trigger });
    try {
      const outcome = await once();
      attempt = 0;
      emit({ type: 'done', outcome });
      return outcome;
    } catch (error) {
      if (error instanceof Fatal) {
        await fatal(error);
        emit({ type: 'fatal', error });
        return 'fatal';
      }
      const delay = schedule();
      // Wakes us when signal returns, even with the app in the background (Chromium only).
      if (!navigator.onLine) askBackgroundSync();
      emit({ type: 'retry', error, delay, offline: error.message === 'offline' || error.message === 'network' });
      return 'retry';
    } finally {
      flight = null;
      if (again) { again = false; setTimeout(() => syncNow('again'), 0); }
    }
  })();
  return flight;
}

export async function askBackgroundSync() {
  try {
    const reg = await navigator.serviceWorker?.ready;
    if (reg && 'sync' in reg) await reg.sync.register('outbox');
  } catch (e) { /* not supported: 'online' and the button still sync */ }
}
