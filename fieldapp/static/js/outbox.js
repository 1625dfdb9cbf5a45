// The outbox: every change the collector saved, until the server has answered for it. Keyed by
// the item's client uuid, which is also the server's idempotency key: a retried push can only get
// "duplicate" back, never create twice. The change itself (personal data) is sealed; what the
// counts and the queue need (uid, op, state) stays readable without the PIN.
// States: pending (to send) -> gone (accepted, duplicate, held) | rejected (the collector fixes it,
// which makes a new item with a new uid) | conflict (applied partly, kept for the reviewer).
import * as db from './db.js';
import { seal, open } from './crypto.js';

export const MAX_ITEMS = 200;
export const MAX_BYTES = 1_500_000; // under the server's 2 MB, leaving room for JSON overhead

export async function add({ op, entity_uid, house_uid = null, village_id = null, base_version = null, data, known_on }) {
  const uid = crypto.randomUUID();
  const body = { data, base_version, known_on, collected_at: new Date().toISOString() };
  const item = { uid, op, entity_uid, house_uid, village_id, state: 'pending', created: Date.now(), sealed: await seal(body, uid) };
  await db.put('outbox', item);
  return item;
}

export const get = (uid) => db.get('outbox', uid);
export const all = () => db.all('outbox');
export const remove = (uid) => db.del('outbox', uid);

export async function counts() {
  const [pending, rejected, conflict] = await Promise.all(['pending', 'rejected', 'conflict'].map((s) => db.count('outbox', 'state', s)));
  return { pending, rejected, conflict };
}

// An item as the server wants it (docs/sync-protocol.md, "Push").
export async function wire(item) {
  const body = await open(item.sealed, item.uid);
  return { uid: item.uid, op: item.op, entity_uid: item.entity_uid, house_uid: item.house_uid,
    ...(item.op === 'house.new' ? { village_id: item.village_id } : {}),
    base_version: body.base_version, data: body.data, known_on: body.known_on, collected_at: body.collected_at };
}

export async function details(item) {
  const body = await open(item.sealed, item.uid);
  const result = item.result ? await open(item.result, item.uid + ':result') : null;
  return { ...item, ...body, result };
}

// Batches of pending items in the order they were saved (a person.new goes before its update).
export async function batches() {
  const pending = (await db.all('outbox', 'state', 'pending')).sort((a, b) => a.created - b.created);
  const out = [];
  let batch = [];
  let size = 0;
  for (const item of pending) {
    const w = await wire(item);
    const bytes = JSON.stringify(w).length * 3; // worst case UTF-8
    if (batch.length && (batch.length >= MAX_ITEMS || size + bytes > MAX_BYTES)) { out.push(batch); batch = []; size = 0; }
    batch.push(w);
    size += bytes;
  }
  if (batch.length) out.push(batch);
  return out;
}

// Apply the server's verdicts. Answers for uids we no longer hold are ignored.
export async function settle(results) {
  const drop = [];
  const keep = [];
  for (const r of results) {
    const item = await db.get('outbox', r.uid);
    if (!item) continue;
    if (['accepted', 'duplicate', 'held'].includes(r.status)) {
      drop.push(r.uid);
    } else if (r.status === 'rejected' || r.status === 'conflict') {
      // The reason and the conflicting values may quote personal data: sealed like the rest.
      const result = await seal({ status: r.status, reason: r.reason, code: r.code, errors: r.errors, conflicts: r.conflicts }, r.uid + ':result');
      keep.push({ ...item, state: r.status, result, answered: Date.now() });
    }
  }
  await db.write({ outbox: { del: drop, put: keep } });
  return { done: drop.length, kept: keep.length };
}

// Everything not yet accepted, readable (needs the PIN): the "export unsent records" file.
export async function exportAll() {
  const items = [];
  for (const item of await all()) items.push({ state: item.state, ...(await wire(item)) });
  return { exported_at: new Date().toISOString(), items };
}
