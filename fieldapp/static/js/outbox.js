// The outbox: every change the collector saved, until the server has answered for it. Keyed by
// the item's client uuid, which is also the server's idempotency key: a retried push can only get
// "duplicate" back, never create twice. The change itself (personal data) is sealed; what the
// counts and the queue need (uid, op, state) stays readable without the PIN.
// States: pending (to send) -> gone (accepted, duplicate, held) | rejected (the collector fixes it,
// which makes a new item with a new uid) | conflict (applied partly, kept for the reviewer) |
// requested (a person registered elsewhere: a move request waits for a reviewer; shown until hidden).
// Door visits (op visit.new, visits.js) are sent in the same queue, in order, with state 'visit'.
import * as db from './db.js';
import { seal, open } from './crypto.js';

export const MAX_ITEMS = 200;
export const MAX_BYTES = 1_500_000; // under the server's 2 MB, leaving room for JSON overhead
const TIPS_SENT_KEPT = 100;

// visit_uid: the door visit this record was collected under (docs/sync-protocol.md, visits).
// wait_until (ms): not sent before then (a visit waiting a few seconds for its GPS position).
export async function add({ uid = crypto.randomUUID(), op, entity_uid, house_uid = null, village_id = null, base_version = null,
  data, known_on = null, visit_uid = null, wait_until = null, label_token = null }) {
  // label_token: a blank door label scanned for a new house (labels.js), sealed with the rest.
  const body = { data, base_version, known_on, collected_at: new Date().toISOString(), ...(label_token ? { label_token } : {}) };
  // Visits have their own state: they are sent like records but are not counted as records.
  const state = op === 'visit.new' ? 'visit' : 'pending';
  const item = { uid, op, entity_uid, house_uid, village_id, visit_uid, state, created: Date.now(),
    ...(wait_until ? { wait_until } : {}), sealed: await seal(body, uid) };
  await db.put('outbox', item);
  return item;
}

// Change a waiting item's data before it is sent (the visit's GPS position arrived); false when
// it has gone already or its wait is over.
export async function amend(uid, data) {
  const item = await db.get('outbox', uid);
  if (!item || !['pending', 'visit'].includes(item.state)) return false;
  // Past its wait it may be on its way already: changing it now would re-send its uid with other content.
  if (item.wait_until && item.wait_until <= Date.now()) return false;
  const body = await open(item.sealed, uid);
  const { wait_until: _w, ...rest } = item;
  const sealed = await seal({ ...body, data: { ...body.data, ...data } }, uid);
  if (!(await db.get('outbox', uid))) return false; // settled meanwhile: never bring it back
  await db.put('outbox', { ...rest, sealed });
  return true;
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
  if (item.op === 'visit.new') return { uid: item.uid, op: item.op, house_uid: item.house_uid, ...body.data };
  return { uid: item.uid, op: item.op, entity_uid: item.entity_uid, house_uid: item.house_uid,
    ...(item.op === 'house.new' ? { village_id: item.village_id } : {}),
    ...(item.visit_uid ? { visit_uid: item.visit_uid } : {}),
    ...(body.label_token ? { label_token: body.label_token } : {}),
    base_version: body.base_version, data: body.data, known_on: body.known_on, collected_at: body.collected_at };
}

export async function details(item) {
  const body = await open(item.sealed, item.uid);
  const result = item.result ? await open(item.result, item.uid + ':result') : null;
  return { ...item, ...body, result };
}

// Batches of pending items in the order they were saved (a person.new goes before its update).
export async function batches() {
  const all = [...await db.all('outbox', 'state', 'pending'), ...await db.all('outbox', 'state', 'visit')]
    .sort((a, b) => a.created - b.created);
  // Order matters (a visit before the records that name it): stop at the first item still waiting.
  // A wait more than a minute ahead means the phone's clock was set back: it is over.
  const waiting = all.findIndex((i) => i.wait_until && i.wait_until > Date.now() && i.wait_until - Date.now() < 60000);
  const pending = waiting < 0 ? all : all.slice(0, waiting);
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
// An informant's accepted tips stay listed on their phone as sent (meta tips_sent, still sealed):
// they have no other copy to look at (tips.js).
export async function settle(results) {
  const drop = [];
  const keep = [];
  const sent = [];
  const forget = [];
  const labelNotes = {};
  for (const r of results) {
    const item = await db.get('outbox', r.uid);
    if (!item) continue;
    // A person.new answered under another uid (the document was registered already) or as a move
    // request (迁入待核实, nobody moved yet): the phone's own copy of the person goes; the registered
    // one comes with the next pull, if and when it is this collector's to see.
    const answer = r.status === 'duplicate' ? r.original || {} : r;
    if (item.op === 'person.new' && (answer.status === 'requested'
        || (answer.record && answer.record.uid !== item.entity_uid))) forget.push({ uid: item.entity_uid, house_uid: item.house_uid });
    if (answer.status === 'requested') {
      const result = await seal({ status: 'requested', reason: answer.reason, code: answer.code }, r.uid + ':result');
      keep.push({ ...item, state: 'requested', result, answered: Date.now() });
    } else if (['accepted', 'duplicate', 'held'].includes(r.status)) {
      drop.push(r.uid);
      // A blank door label that did not bind (labels.js shows why on the house's page).
      if (item.op === 'house.new' && answer.label && answer.label.status !== 'bound') labelNotes[item.entity_uid] = await seal(answer.label.reason, `label_notes:${item.entity_uid}`);
      if (item.op === 'tip.new') sent.push({ uid: item.uid, entity_uid: item.entity_uid, created: item.created, sent: Date.now(), sealed: item.sealed });
    } else if (item.op === 'visit.new') {
      drop.push(r.uid); // a refused visit has nothing for the collector to correct; its records still go
    } else if (r.status === 'rejected' || r.status === 'conflict') {
      // A uid re-used with other content applied nothing: the collector corrects it like a refusal.
      const state = r.code === 'uid_reused' ? 'rejected' : r.status;
      // The reason and the conflicting values may quote personal data: sealed like the rest.
      const result = await seal({ status: state, reason: r.reason, code: r.code, errors: r.errors, conflicts: r.conflicts }, r.uid + ':result');
      keep.push({ ...item, state, result, answered: Date.now() });
    }
  }
  const changes = { outbox: { del: drop, put: keep } };
  if (Object.keys(labelNotes).length) changes.meta = { put: [{ key: 'label_notes', value: { ...((await db.meta('label_notes')) || {}), ...labelNotes } }] };
  if (sent.length) (changes.meta ??= { put: [] }).put.push({ key: 'tips_sent', value: [...((await db.meta('tips_sent')) || []), ...sent].slice(-TIPS_SENT_KEPT) });
  await db.write(changes);
  return { done: drop.length, kept: keep.length, forget };
}

// Everything not yet accepted, readable (needs the PIN): the "export unsent records" file.
export async function exportAll() {
  const items = [];
  for (const item of await all()) items.push({ state: item.state, ...(await wire(item)) });
  return { exported_at: new Date().toISOString(), items };
}
