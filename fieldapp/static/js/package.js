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

export const sealHouse = (h) => sealedRecord(h, HOUSE_PLAIN)
  .then((r) => ({ ...r, search: `${h.address || ''} ${h.door_code || ''}`.toLowerCase() }));
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
}

export async function wipe() {
  await db.clear(db.PACKAGE_STORES);
  await db.delMeta('living_counts');
}

export const houses = (villageId) => db.all('houses', 'village', villageId);
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
  return h && { ...h, ...(await open(h.sealed, uid)) };
}

async function openAll(list) {
  return Promise.all(list.map(async (r) => ({ ...(await open(r.sealed, r.uid)), local: r.local, version: r.version })));
}

export const residents = async (houseUid) => openAll(await db.all('people', 'house', houseUid));
export const organisations = async (houseUid) => openAll(await db.all('orgs', 'house', houseUid));

export async function person(uid) {
  const p = await db.get('people', uid);
  return p && { ...(await open(p.sealed, uid)), local: p.local, version: p.version };
}

// What the collector just saved, shown at once (the server's copy replaces it after the sync).
export async function applyLocal(op, entityUid, houseUid, data) {
  if (op === 'person.leave') {
    const gone = await db.get('people', entityUid);
    await db.del('people', entityUid);
    if (gone) await adjustCount(gone.house_uid, -1);
    return;
  }
  const [kind, verb] = op.split('.');
  const store = { house: 'houses', person: 'people', organisation: 'orgs' }[kind];
  const current = verb === 'new' ? null : await (kind === 'house' ? house(entityUid)
    : kind === 'person' ? person(entityUid) : null);
  const record = { ...(current || { uid: entityUid, house_uid: houseUid, version: 0, status: kind === 'organisation' ? 'open' : 'living' }),
    ...data, local: true };
  if (kind === 'house') record.address = current?.address;
  const sealer = { house: sealHouse, person: sealPerson, organisation: sealOrg }[kind];
  await db.put(store, await sealer(record));
  if (op === 'person.new') await adjustCount(houseUid, 1);
}
