// The app: checks the browser, registers the service worker and offers its updates, unlocks the
// key with the PIN, keeps the status bar true (pending count, last sync, storage), routes between
// screens (views.js) and starts syncs (sync.js). The page is never reloaded except when the
// collector presses "update now", and their typing is saved as a draft first.
import * as db from './db.js';
import * as cryptoBox from './crypto.js';
import * as outbox from './outbox.js';
import * as sync from './sync.js';
import * as forms from './forms.js';
import * as views from './views.js';
import * as pkg from './package.js';
import * as visits from './visits.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const ctx = { police: false, informant: false, query: '' };

function show(id, on = true) { $(id).hidden = !on; }

function supported() {
  return 'serviceWorker' in navigator && 'indexedDB' in window && window.crypto?.subtle && window.isSecureContext;
}

// --- status bar -------------------------------------------------------------------------------
async function refreshStatus() {
  const c = await outbox.counts();
  $('pending-count').textContent = String(c.pending);
  $('rejected-count').textContent = String(c.rejected);
  show('rejected-note', c.rejected > 0);
  const last = await db.meta('last_sync');
  $('last-sync').textContent = last ? new Date(last).toLocaleString() : t('never');
  $('last-sync').dateTime = last || '';
}

async function refreshStorage() {
  if (!navigator.storage?.estimate) return;
  const { usage = 0, quota = 0 } = await navigator.storage.estimate();
  $('storage-usage').textContent = t('storage_used', { used: (usage / 1048576).toFixed(1), quota: (quota / 1048576).toFixed(0) });
  show('storage-warning', quota > 0 && usage / quota > 0.8);
}

function syncState(text, kind = '') {
  const el = $('sync-state');
  el.textContent = text;
  el.className = `sync-state ${kind}`;
}

// --- service worker and its updates -----------------------------------------------------------
let waiting = null;

function offerUpdate(worker) {
  waiting = worker;
  show('update-banner');
}

async function registerServiceWorker() {
  const reg = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting);
  reg.addEventListener('updatefound', () => {
    const worker = reg.installing;
    worker?.addEventListener('statechange', () => {
      // 'installed' with a controller present = a new version waits; the first install activates by itself.
      if (worker.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(worker);
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloading || !ctx.updating) return; // only the collector's own "update now" reloads the page
    reloading = true;
    window.location.reload();
  });
  navigator.serviceWorker.addEventListener('message', (event) => { if (event.data === 'sync') sync.syncNow('background'); });
  ctx.registration = reg;
  return reg;
}

async function takeUpdate() {
  if (!waiting) return;
  ctx.updating = true;
  $('update-now').disabled = true;
  await forms.flushDrafts(); // what is being typed survives the reload as a draft
  waiting.postMessage('skipWaiting');
}

// --- device, PIN, fatal state -----------------------------------------------------------------
async function showFatal() {
  const f = await db.meta('fatal');
  show('fatal', Boolean(f));
  if (f) $('fatal-message').textContent = f.message || t('fatal_generic');
  return f;
}

async function connectDevice() {
  // A signed-in session -> a device token (once). The token is sealed as soon as the key exists.
  let answer;
  try {
    answer = await sync.registerDevice();
  } catch (error) {
    if (error instanceof sync.Fatal) {
      $('setup-message').textContent = error.message && error.message !== error.code ? error.message : t('cannot_register');
      return null;
    }
    return 'offline';
  }
  if (!answer) return null;
  const previous = await db.meta('account');
  if (previous && previous.collection_id !== answer.account.collection_id && (await outbox.all()).length) {
    $('setup-message').textContent = t('other_collector', { id: previous.collection_id });
    return null;
  }
  return answer;
}

async function askPin(first) {
  show('unlock');
  show('pin2-field', first);
  $('pin-title').textContent = first ? t('pin_first') : t('pin_again');
  $('pin').value = '';
  $('pin2').value = '';
  $('pin').focus();
  return new Promise((resolve) => {
    $('unlock').onsubmit = (event) => {
      event.preventDefault();
      const pin = $('pin').value;
      if (first && pin !== $('pin2').value) { $('pin-error').textContent = t('pins_differ'); return; }
      if (!pin) { $('pin-error').textContent = t('required'); return; }
      $('pin-error').textContent = t('unlocking');
      resolve(pin);
    };
  });
}

async function unlock(registration) {
  let verifier = await db.meta('verifier');
  for (;;) {
    const pin = await askPin(!verifier);
    if (!verifier) {
      // The salt is kept with the verifier: a later re-registration must not change the key, or
      // records still in the outbox would become unreadable.
      verifier = await cryptoBox.setup(pin, cryptoBox.fromBase64(registration.pin_salt));
      await db.setMeta('verifier', verifier);
      break;
    }
    if (await cryptoBox.unlock(pin, verifier)) break;
    $('pin-error').textContent = t('wrong_pin');
  }
  $('pin-error').textContent = '';
  show('unlock', false);
  if (registration) {
    await db.setMeta('device', { device_id: registration.device_id, token: await cryptoBox.seal(registration.token, 'device-token') });
    await db.setMeta('account', registration.account);
    await db.delMeta('fatal');
    sync.setToken(registration.token);
  } else {
    const device = await db.meta('device');
    if (device) sync.setToken(await cryptoBox.open(device.token, 'device-token'));
  }
  const account = await db.meta('account');
  ctx.police = account?.role === 'police';
  ctx.informant = account?.role === 'informant'; // their home is their tips (tips.js), no house list
  $('who').textContent = account ? `${account.collection_id} ${account.name || ''}` : '';
}

async function start() {
  const device = await db.meta('device');
  const fatal = await showFatal();
  let registration = null;
  if (!device || fatal) {
    const answer = await connectDevice();
    if (answer && answer !== 'offline') {
      registration = answer;
      show('setup', false);
      show('fatal', false);
    } else {
      if (answer === 'offline') $('setup-message').textContent = t('need_signal_once');
      show('setup');
      if (!device) return false; // nothing on this phone to unlock yet
    }
  }
  await unlock(registration);
  return true;
}

// --- routing ----------------------------------------------------------------------------------
let routeSeq = 0;
const isFormRoute = (hash) => /^#\/(fix\/|scan|tip\/|task\/|v\/[^/]+\/new|[hpo]\/[^/]+\/(edit|person|org|leave|close))/.test(hash);

// Opening a house (or a form about something in it) records a visit; scan.js sets ctx.openMethod
// just before it navigates to a house it resolved from a QR or a typed code.
async function visitHouse(houseUid) {
  const method = ctx.openMethod || 'list';
  ctx.openMethod = null;
  if (!houseUid || !(await pkg.house(houseUid))) return;
  ctx.visit = await visits.open(houseUid, method);
}

function stopScanning() { ctx.stopScan?.(); ctx.stopScan = null; }

// --- door QR links: https://<host>/d/<token> ------------------------------------------------------
// The phone's camera app opens the link; the service worker answers it with this shell when the
// phone holds a signed-in work package (the marker below), offline too. The token is resolved
// here from the package; a door this phone does not know goes to the server's public door page.
const PUBLIC_DOOR = (token) => `/d/${encodeURIComponent(token)}?public=1`;
const STATE_CACHE = 'fieldapp-state';
const SIGNED_IN = '/app/state/signed-in';

async function markSignedIn(on) {
  try {
    const cache = await caches.open(STATE_CACHE);
    if (on) await cache.put(SIGNED_IN, new Response('1'));
    else await cache.delete(SIGNED_IN);
  } catch (e) { /* no Cache Storage: door links then always go to the server */ }
}

function doorTokenFromPath() {
  const m = /^\/d\/([A-Za-z0-9_-]{16,64})\/?$/.exec(window.location.pathname);
  if (!m) return null;
  window.history.replaceState(null, '', '/app/'); // a reload from here is the app, not the door
  return m[1];
}

async function openDoor(token) {
  if (ctx.informant) { // an informant at a door: a tip about it (the server resolves the token)
    ctx.tipDoor = { door_token: token };
    window.location.hash = '#/tip/new';
    return true;
  }
  const house = await pkg.houseByToken(token);
  if (house) {
    ctx.openMethod = 'scan';
    window.location.hash = `#/h/${house.uid}`;
    return true;
  }
  if (await sync.reachable()) { window.location.replace(PUBLIC_DOOR(token)); return false; }
  ctx.flash = t('door_unknown_offline');
  if (window.location.hash === '#/') route(); else window.location.hash = '#/';
  return false;
}

async function routeTo(hash) {
  const seq = ++routeSeq; // screens draw asynchronously: only the latest navigation may draw
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [a, b, c] = parts;
  let nodes;
  if (!cryptoBox.hasKey()) return;
  stopScanning();
  if (a === 'h' && b) await visitHouse(b);
  const fixing = a === 'fix' ? await outbox.get(b) : null;
  if (a === 'returns') nodes = await (await import('./returns.js')).list();
  else if (a === 'tasks') nodes = await (await import('./tasks.js')).list();
  else if (a === 'task' || fixing?.op === 'tip.verify') {
    nodes = await (await import('./tasks.js')).screen(ctx, fixing ? fixing.entity_uid : b, fixing ? await outbox.details(fixing) : null);
  } else if (a === 'tip' || (ctx.informant && !a) || fixing?.op === 'tip.new') {
    nodes = await (await import('./tips.js')).screen(ctx, parts, fixing?.op === 'tip.new' ? fixing : null);
  } else if (a === 'v' && c === 'new') {
    ctx.newUid ??= crypto.randomUUID();
    nodes = await views.form(ctx, 'house', { op: 'house.new', entity_uid: ctx.newUid, house_uid: null, village_id: Number(b),
      title: t('new_house'), back: `#/v/${b}`, done: `#/h/${ctx.newUid}`, photoOf: `house:${ctx.newUid}` });
  } else if (a === 'v') nodes = await views.village(ctx, b);
  else if (a === 'scan') nodes = await (await import('./scan.js')).screen(ctx);
  else if (a === 'h' && b && !c) nodes = await views.house(ctx, b);
  else if (a === 'h' && c === 'edit') {
    const house = await pkg.house(b);
    nodes = await views.form(ctx, 'house', { op: 'house.update', entity_uid: b, house_uid: null, original: house,
      title: t('edit_house'), back: `#/h/${b}`, photoOf: `house:${b}` });
  } else if (a === 'h' && c === 'person') {
    ctx.newUid ??= crypto.randomUUID();
    nodes = await views.form(ctx, 'person', { op: 'person.new', entity_uid: ctx.newUid, house_uid: b,
      title: t('add_person'), back: `#/h/${b}`, photoOf: `person:${ctx.newUid}` });
  } else if (a === 'h' && c === 'org') {
    nodes = await views.form(ctx, 'organisation', { op: 'organisation.new', entity_uid: ctx.newUid ??= crypto.randomUUID(), house_uid: b,
      title: t('add_org'), back: `#/h/${b}` });
  } else if (a === 'o') {
    const org = await pkg.organisation(b);
    await visitHouse(org?.house_uid);
    const closing = c === 'close';
    nodes = await views.form(ctx, closing ? 'close' : 'organisation', { op: closing ? 'organisation.close' : 'organisation.update',
      entity_uid: b, house_uid: null, of_house: org?.house_uid, original: org, title: closing ? t('close_org') : org?.name || '',
      back: `#/h/${org?.house_uid}` });
  } else if (a === 'p') {
    const person = await pkg.person(b);
    await visitHouse(person?.house_uid);
    const kind = c === 'leave' ? 'leave' : 'person';
    nodes = await views.form(ctx, kind, { op: c === 'leave' ? 'person.leave' : 'person.update', entity_uid: b, house_uid: null,
      of_house: person?.house_uid, original: person, title: c === 'leave' ? t('mark_left') : person?.name || '', back: `#/h/${person?.house_uid}`,
      photoOf: `person:${b}` });
  } else if (a === 'fix') {
    const item = await outbox.details(await outbox.get(b));
    const [kind] = item.op.split('.');
    const fkind = { 'person.leave': 'leave', 'organisation.close': 'close' }[item.op] || kind;
    const original = kind === 'house' ? await pkg.house(item.entity_uid) : kind === 'person' ? await pkg.person(item.entity_uid)
      : kind === 'organisation' ? await pkg.organisation(item.entity_uid) : null;
    nodes = await views.form(ctx, fkind, { op: item.op, entity_uid: item.entity_uid, house_uid: item.house_uid,
      village_id: item.village_id, original: original || {},
      title: t('fix'), back: '#/outbox', fix: item, photoOf: kind === 'person' ? `person:${item.entity_uid}` : null });
  } else if (a === 'outbox') nodes = await views.outboxPage(ctx);
  else nodes = await views.home(ctx);
  // person.new keeps one entity uid per open form (its draft and photo refer to it)
  if (!((a === 'h' && (c === 'person' || c === 'org')) || (a === 'v' && c === 'new'))) ctx.newUid = null;
  if (seq !== routeSeq) return;
  $('view').replaceChildren(...[nodes].flat(3).filter(Boolean));
  if (ctx.flash) { $('view').prepend(h('p', { class: 'flash error', role: 'alert' }, ctx.flash)); ctx.flash = null; }
  if (a !== 'v') $('view').querySelector('h1')?.focus?.();
}

const route = () => routeTo(window.location.hash).catch((e) => { console.error(e); });

ctx.saved = async (back) => {
  $('saved-note').hidden = false;
  setTimeout(() => { $('saved-note').hidden = true; }, 4000);
  ctx.newUid = null;
  if (window.location.hash === back) route(); else window.location.hash = back; // before any await
  await refreshStatus();
  if (navigator.onLine) sync.syncNow('saved'); else sync.askBackgroundSync();
};
ctx.refresh = async () => { await refreshStatus(); route(); };

// --- export (last resort) -----------------------------------------------------------------------
async function exportUnsent() {
  if (!cryptoBox.hasKey()) return;
  if (!window.confirm(t('export_confirm'))) return;
  const data = await outbox.exportAll();
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 1)], { type: 'application/json' }));
  const a = h('a', { href: url, download: `unsent-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '')}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// --- sign-out -----------------------------------------------------------------------------------
async function signOut() {
  const unsent = (await outbox.all()).length;
  if (!window.confirm(unsent ? t('sign_out_unsent', { n: unsent }) : t('sign_out_confirm'))) return;
  await sync.signOut();
  cryptoBox.forget();
  await markSignedIn(false);
  await endWebSession();
  window.location.assign('/app/'); // works offline too: the app then shows how to sign in again
}

async function endWebSession() {
  try {
    const session = await (await fetch('/api/session', { cache: 'no-store' })).json();
    if (session.signed_in) {
      await fetch('/logout', { method: 'POST', body: new URLSearchParams({ csrf_token: session.csrf_token }) });
    }
  } catch (e) {
    // No signal: the phone's data is gone already; the web session expires by itself.
  }
}

// --- boot -------------------------------------------------------------------------------------
async function boot() {
  const doorToken = doorTokenFromPath();
  if (!supported()) {
    if (doorToken) { window.location.replace(PUBLIC_DOOR(doorToken)); return; }
    show('loading', false); show('unsupported'); return;
  }
  document.documentElement.classList.add('js');
  $('update-now').addEventListener('click', takeUpdate);
  $('sync-now').addEventListener('click', () => sync.syncNow('button'));
  $('export').addEventListener('click', exportUnsent);
  $('sign-out').addEventListener('click', signOut);
  registerServiceWorker().catch((e) => console.warn('service worker', e));
  navigator.storage?.persist?.().catch(() => {});
  sync.onChange(async (event) => {
    if (event.type === 'start') syncState(t('syncing'));
    else if (event.type === 'done' && event.outcome === 'done') { syncState(t('synced'), 'ok'); ctx.registration?.update().catch(() => {}); }
    else if (event.type === 'retry') syncState(event.offline ? t('offline') : t('sync_failed'), 'warn');
    else if (event.type === 'fatal') { await markSignedIn(false); await showFatal(); route(); }
    if (event.type !== 'start') { await refreshStatus(); refreshStorage(); if (event.type === 'done' && !isFormRoute(window.location.hash)) route(); }
  });
  window.addEventListener('online', () => sync.syncNow('online'));
  // The phone may kill a hidden app: what is being typed is saved now, not after the autosave delay.
  document.addEventListener('visibilitychange', () => { if (document.hidden) forms.flushDrafts(); });
  window.addEventListener('hashchange', route);
  await db.open();
  await refreshStatus();
  refreshStorage();
  show('loading', false);
  visits.onSettled(() => { if (navigator.onLine) sync.syncNow('visit'); });
  if (await start()) {
    show('main-app');
    markSignedIn(!(await db.meta('fatal')));
    if (doorToken) await openDoor(doorToken); else await route(); // openDoor navigates (or leaves for the server)
    sync.syncNow('load');
  } else if (doorToken) {
    window.location.replace(PUBLIC_DOOR(doorToken)); // not set up on this phone: the public door page
  }
}

// Test and support hook: read-only views of the stores (ciphertext stays ciphertext).
window.__fieldapp = { dump: db.dump, counts: outbox.counts, syncNow: sync.syncNow, meta: db.meta, hasKey: cryptoBox.hasKey };

boot().catch((e) => { console.error(e); show('loading', false); show('unsupported'); });
