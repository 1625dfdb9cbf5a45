// The work package on the phone: houses, people and organisations of the collector's villages.
// Stored as {plain fields needed to list and search, sealed: everything else}. Houses keep their
// address and door code in the clear (the list and the search need them without the PIN); owner and
// tenant names and phones, and every field of a person or organisation, are sealed (crypto.js).
import * as db from './db.js';
import { seal, open } from './crypto.js';

const HOUSE_PLAIN = ['uid', 'village_id', 'door_code', 'address', 'group_name', 'road', 'lane', 'number',
  'building', 'room', 'use', 'collected', 'version'];

function sealedRecord(record, plainNames) {
  const plain = {};
  for (const n of plainNames) if (n in record) plain[n] = record[n];
  return seal(record, record.uid).then((sealed) => ({ ...plain, sealed }));
}

// A door code as printed on its label (K7M3-Q9PX); stored and looked up without the hyphen.
export const showCode = (code) => (code && code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code || '');

// The door QR's token opens the house offline; it is kept only as a hash (a copy of the phone's
// storage must not be enough to print working door labels).
export async function tokenHash(token) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sealHouse(house) {
  const { door_token: token, token_hash: kept, sealed: _s, search: _q, ...h } = house;
  const r = await sealedRecord(h, HOUSE_PLAIN);
  const hash = token ? await tokenHash(token) : kept;
  const code = h.door_code || '';
  return { ...r, ...(hash ? { token_hash: hash } : {}), search: `${h.address || ''} ${code} ${showCode(code)}`.toLowerCase() };
}
export const sealPerson = (p) => sealedRecord(p, ['uid', 'house_uid', 'status', 'version', 'local']);
export const sealOrg = (o) => sealedRecord(o, ['uid', 'house_uid', 'status', 'version', 'local']);

// Upsert keeping the higher version; a record this phone changed (local) yields to the server's.
async function upsert(store, records, sealer) {
  if (!records.length) return;
  const current = await db.getMany(store, records.map((r) => r.uid));
  const fresh = records.filter((r, i) => {
    const mine = current[i];
    return !mine || r.version > mine.version || (r.version === mine.version && !mine.local);
  });
  const sealed = await Promise.all(fresh.map(sealer)); // encrypt first: no await inside the transaction
  await db.put(store, sealed);
}

// One page of /api/sync/package into the stores.
export async function ingest(page) {
  await upsert('houses', page.houses || [], sealHouse);
  await upsert('people', page.people || [], sealPerson);
  await upsert('orgs', page.organisations || [], sealOrg);
  const removed = page.removed || {};
  if (removed.people?.length) await db.del('people', removed.people);
  if (removed.organisations?.length) await db.del('orgs', removed.organisations);
  if (page.people?.length || removed.people?.length) await db.delMeta('living_counts');
  // The collector's tip tasks: a whole list on the last page, replacing the one kept (sealed: a
  // tip's details may name people).
  if (page.tip_tasks) await db.setMeta('tip_tasks', await seal(page.tip_tasks, 'tip_tasks'));
  // A tips sender's own tips and how each was checked (tips.js shows them).
  if (page.my_tips) await db.setMeta('my_tips', await seal(page.my_tips, 'my_tips'));
  // Changes a reviewer returned to this collector (returns.js): the whole list, sealed (a reason
  // may name a person); corrections marked on this phone are kept only for items still listed.
  if (page.returned) await keepReturned(page.returned);
}

async function keepReturned(list) {
  await db.setMeta('returned', await seal(list, 'returned'));
  await db.setMeta('returned_received', Date.now());
  const fixed = (await db.meta('returned_fixed')) || {};
  const listed = new Set(list.map((r) => r.uid));
  await db.setMeta('returned_fixed', Object.fromEntries(Object.entries(fixed).filter(([uid]) => listed.has(uid))));
}

export async function wipe() {
  await db.clear(db.PACKAGE_STORES);
  await db.delMeta('living_counts');
  await db.delMeta('tip_tasks');
  await db.delMeta('my_tips');
  await db.delMeta('returned');
  await db.delMeta('returned_fixed');
}

async function sealedList(key) {
  const sealed = await db.meta(key);
  return sealed ? open(sealed, key) : [];
}
export const tipTasks = () => sealedList('tip_tasks');
export const myTips = () => sealedList('my_tips');
export const returned = () => sealedList('returned');

export const houses = (villageId) => db.all('houses', 'village', villageId);

// The house a door QR's token or a typed (normalised) door code names, if it is in the package.
export async function houseByToken(token) {
  const [hit] = await db.all('houses', 'token', await tokenHash(token));
  return hit ? house(hit.uid) : null;
}
export async function houseByCode(code) {
  const [hit] = await db.all('houses', 'code', code);
  return hit ? house(hit.uid) : null;
}
// People per house, kept in one meta record: counted once after each download (a key cursor over
// every resident is too slow to run each time the list opens on a cheap phone), adjusted by
// what the collector saves in between.
export async function recount() {
  const counts = await db.countBy('people', 'house');
  await db.setMeta('living_counts', counts);
  return counts;
}
export const livingCounts = async () => (await db.meta('living_counts')) || recount();
async function adjustCount(houseUid, delta) {
  const counts = await livingCounts();
  counts[houseUid] = Math.max(0, (counts[houseUid] || 0) + delta);
  await db.setMeta('living_counts', counts);
}

export async function house(uid) {
  const h = await db.get('houses', uid);
  if (!h) return h;
  const { sealed, search: _q, ...plain } = h;
  return { ...plain, ...(await open(sealed, uid)) };
}

async function openAll(list) {
  return Promise.all(list.map(async (r) => ({ ...(await open(r.sealed, r.uid)), local: r.local, version: r.version })));
}

export const residents = async (houseUid) => openAll(await db.all('people', 'house', houseUid));
export const organisations = async (houseUid) => openAll(await db.all('orgs', 'house', houseUid));

export async function organisation(uid) {
  const o = await db.get('orgs', uid);
  return o && { ...(await open(o.sealed, uid)), local: o.local, version: o.version };
}

export async function person(uid) {
  const p = await db.get('people', uid);
  return p && { ...(await open(p.sealed, uid)), local: p.local, version: p.version };
}

// The phone's own copies of people the server answered for under another name (outbox.settle):
// they go, with their place in the house's living count. Server copies are never touched.
export async function forgetLocal(people) {
  for (const { uid, house_uid: houseUid } of people) {
    const mine = await db.get('people', uid);
    if (!mine || !mine.local) continue;
    await db.del('people', uid);
    if (houseUid) await adjustCount(houseUid, -1);
  }
}

// What the collector just saved, shown at once (the server's copy replaces it after the sync).
export async function applyLocal(op, entityUid, houseUid, data, extra = {}) {
  if (op === 'person.leave') {
    const gone = await db.get('people', entityUid);
    await db.del('people', entityUid);
    if (gone) await adjustCount(gone.house_uid, -1);
    return;
  }
  if (op === 'organisation.close') { await db.del('orgs', entityUid); return; } // the package lists open ones only
  const [kind, verb] = op.split('.');
  const store = { house: 'houses', person: 'people', organisation: 'orgs' }[kind];
  const current = verb === 'new' ? null : await (kind === 'house' ? house(entityUid)
    : kind === 'person' ? person(entityUid) : organisation(entityUid));
  const record = { ...(current || { uid: entityUid, house_uid: houseUid, version: 0, status: kind === 'organisation' ? 'open' : 'living' }),
    ...data, local: true };
  if (op === 'house.new') {
    record.village_id = extra.village_id;
    record.collected = true;
    record.door_code = null; // the server gives it one
  }
  if (kind === 'house') record.address = formatAddress(record, extra.village_name ?? current?.village_name) || current?.address;
  const sealer = { house: sealHouse, person: sealPerson, organisation: sealOrg }[kind];
  await db.put(store, await sealer(record));
  if (op === 'person.new') await adjustCount(houseUid, 1);
}

// fieldapp/rules/address.py format_address: village, group (组), road, lane (弄), number (号), building
// (栋), room (室); a part already ending in its suffix is not suffixed twice.
export function formatAddress(parts, villageName) {
  let out = villageName || '';
  for (const [key, suffix] of [['group_name', '组'], ['road', ''], ['lane', '弄'], ['number', '号'], ['building', '栋'], ['room', '室']]) {
    const value = String(parts[key] ?? '').trim();
    if (value) out += !suffix || value.endsWith(suffix) ? value : value + suffix;
  }
  return out;
}
