// Door visits (proof of presence). Opening a house records a visit: how it was opened (scan of the
// door QR, typed door code, or picked from a list), when, and the phone's position when it gives
// one within a few seconds. The visit is an outbox item (op visit.new) saved at once, before any
// record collected there, and the records carry its uid (visit_uid); only a scanned visit is door
// proof. The collector never waits for GPS: the item is held back from sync for at most GPS_WAIT
// while the position is asked for, then sent with or without it.
import * as db from './db.js';
import * as outbox from './outbox.js';

export const GPS_WAIT = 5000;
const KEEP = 2 * 60 * 60 * 1000; // a visit older than this no longer covers new records
let onPosition = () => {};

export const onSettled = (fn) => { onPosition = fn; };

// The visit in progress, if it is this house's and not stale.
export async function current(houseUid) {
  const v = await db.meta('visit');
  if (!v || (houseUid && v.house_uid !== houseUid) || Date.now() - v.started > KEEP) return null;
  return v;
}

// Open a house: the current visit goes on if it is this house's (a scan upgrades a visit opened
// from the list or by code: it is the better proof), otherwise a new visit begins.
// extra: more for the visit item (labels.js: the blank label scanned for a new house).
export async function open(houseUid, method, extra = {}) {
  const v = await current(houseUid);
  if (v && (v.method === 'scan' || method !== 'scan')) return v;
  const uid = crypto.randomUUID();
  const at = new Date().toISOString();
  const visit = { uid, house_uid: houseUid, method, at, started: Date.now() };
  await outbox.add({ uid, op: 'visit.new', entity_uid: uid, house_uid: houseUid,
    data: { method, at, lat: null, lon: null, accuracy_m: null, ...extra }, wait_until: Date.now() + GPS_WAIT + 500 });
  await db.setMeta('visit', visit);
  locate().then((pos) => outbox.amend(uid, pos || {})).then(() => onPosition(), () => onPosition());
  return visit;
}

// The position, or null: never longer than GPS_WAIT (the permission prompt included), never
// asked when the collector refused it.
async function locate() {
  if (!navigator.geolocation) return null;
  try {
    const state = await navigator.permissions?.query({ name: 'geolocation' });
    if (state?.state === 'denied') return null;
  } catch (e) { /* no Permissions API: just ask */ }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), GPS_WAIT);
    navigator.geolocation.getCurrentPosition((p) => {
      clearTimeout(timer);
      resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy * 10) / 10 });
    }, () => { clearTimeout(timer); resolve(null); }, { enableHighAccuracy: true, timeout: GPS_WAIT, maximumAge: 30000 });
  });
}

// The visit a record about this house is collected under (its uid), if one is in progress.
export async function uidFor(houseUid) {
  return houseUid ? (await current(houseUid))?.uid || null : null;
}
