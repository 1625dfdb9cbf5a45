// Blank door labels (issue 12, "New houses can get door proof"). Offices print label stock whose
// codes belong to no house yet. While creating a new house the collector scans one: a label that is
// a house of the work package is that house (offered to open it); any other is kept with the new
// house (sealed, like everything the collector types), goes with its house.new as `label_token`,
// and the visit to the new house is recorded as a scan carrying the same token. The server binds
// the label (the house takes its code) or says why not (docs/sync-protocol.md, "Blank labels");
// that reason is shown on the house. Works the same offline.
import * as db from './db.js';
import * as pkg from './package.js';
import * as visits from './visits.js';
import { seal, open } from './crypto.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const keptKey = (houseUid) => `label:${houseUid}`;
const NOTES = 'label_notes'; // {house uid: the server's reason a label did not bind}, kept by outbox.settle

async function kept(houseUid) {
  const sealed = await db.meta(keptKey(houseUid));
  return sealed ? open(sealed, keptKey(houseUid)) : null;
}

// The section above a new house's form: scan the label, or see the one kept and remove it.
export async function section(ctx, spec) {
  const box = h('div', { class: 'card', id: 'label-scan' });
  const uid = spec.entity_uid;
  const draw = async (message = null) => {
    const label = await kept(uid);
    const note = message ? h('p', { class: 'flash', role: 'status', id: 'label-message' }, message) : null;
    if (label) {
      box.replaceChildren(note || '', h('p', { class: 'tag proof', id: 'label-kept', role: 'status' }, t('label_kept')),
        h('p', {}, h('button', { type: 'button', id: 'label-drop', onclick: async () => { await db.delMeta(keptKey(uid)); draw(); } }, t('remove'))));
    } else {
      box.replaceChildren(note || '', h('p', { class: 'muted' }, t('label_help')),
        h('p', {}, h('button', { type: 'button', class: 'primary', id: 'label-scan-start', onclick: start }, t('label_scan'))));
    }
  };
  const existing = (house) => {
    box.replaceChildren(h('p', { class: 'flash error', role: 'alert', id: 'label-message' }, t('label_is_house', { address: house.address || pkg.showCode(house.door_code) })),
      h('p', {}, h('a', { class: 'button primary', id: 'label-open-house', href: `#/h/${house.uid}`, onclick: () => { ctx.openMethod = 'scan'; } }, t('label_open_house')),
        h('button', { type: 'button', onclick: () => draw() }, t('back'))));
  };
  const pick = async (door) => {
    if (door.door_code) { // a typed code cannot bind a label: only its QR carries the token
      const house = await pkg.houseByCode(door.door_code);
      if (house) existing(house); else draw(t('label_need_qr'));
      return;
    }
    const house = await pkg.houseByToken(door.door_token);
    if (house) { existing(house); return; }
    await db.setMeta(keptKey(uid), await seal({ token: door.door_token }, keptKey(uid)));
    draw();
  };
  async function start() {
    const scan = await import('./scan.js');
    const [, ...nodes] = await scan.screen(ctx, { pick, title: t('label_scan'), button: t('label_use') });
    box.replaceChildren(...nodes, h('p', {}, h('button', { type: 'button', id: 'label-cancel', onclick: () => { ctx.stopScan?.(); draw(); } }, t('back'))));
  }
  await draw();
  return box;
}

// The label kept for a new house being saved: its token for the house.new item, or null.
export async function tokenFor(houseUid) {
  return (await kept(houseUid))?.token || null;
}

// After the house.new is in the outbox: the label opens the new house offline (its token hash),
// and the visit to it is the scan, carrying the token (the server counts it only if the label binds).
export async function saved(houseUid, token) {
  const record = await db.get('houses', houseUid);
  if (record) await db.put('houses', { ...record, token_hash: await pkg.tokenHash(token) });
  await visits.open(houseUid, 'scan', { label_token: token });
  await db.delMeta(keptKey(houseUid));
}

// What the house's page says about its label, if the server refused it.
export async function houseNote(houseUid) {
  const sealed = ((await db.meta(NOTES)) || {})[houseUid];
  if (!sealed) return null;
  return h('p', { class: 'flash error', role: 'status', id: 'label-refused' }, await open(sealed, `${NOTES}:${houseUid}`));
}
