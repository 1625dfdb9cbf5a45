// One address is one house (rules/address.py address_identity, ported here): before a new house is
// saved, the phone looks for a house of the work package at the same address and offers to open it
// instead. The collector may still save (the server then keeps the house and flags it for a reviewer).
import * as pkg from './package.js';
import { h } from './dom.js';
import { t } from './i18n.js';

// Same as IDENTITY_SUFFIXES in rules/address.py (longest first).
const SUFFIXES = {
  group_name: ['组'], road: [], lane: ['弄'], number: ['号'], building: ['号楼', '栋', '幢', '楼'], room: ['室', '号'],
};
const PARTS = ['group_name', 'road', 'lane', 'number', 'building', 'room'];

// identity_part: NFKC (full-width to half-width), no spaces or hyphens, lower case, suffix dropped,
// leading zeros of a number dropped.
export function identityPart(value, suffixes = []) {
  let text = String(value ?? '').normalize('NFKC').replace(/[\s-]+/g, '').toLowerCase();
  for (const suffix of suffixes) {
    if (text.endsWith(suffix) && text.length > suffix.length) { text = text.slice(0, -suffix.length); break; }
  }
  if (/^[0-9]+$/.test(text)) text = text.replace(/^0+/, '') || '0';
  return text;
}

export function identity(villageId, parts) {
  const values = PARTS.map((name) => identityPart(parts[name], SUFFIXES[name]));
  if (!values[PARTS.indexOf('number')]) return null;
  return [String(villageId), ...values].join('|').slice(0, 255);
}

// The house of the work package at this address (other than exceptUid), or null.
export async function sameAddress(villageId, parts, exceptUid = null) {
  const wanted = identity(villageId, parts);
  if (!wanted) return null;
  const houses = await pkg.houses(villageId);
  return houses.find((x) => x.uid !== exceptUid && identity(x.village_id ?? villageId, x) === wanted) || null;
}

// The form's hook: shows the warning the first time a save names an address already held and
// returns true (the save waits); a second press of Save with the same address goes on.
export async function warn(form, villageId, data, exceptUid = null) {
  const found = await sameAddress(villageId, data, exceptUid);
  const box = form.querySelector('#dupe-warning');
  if (!found) { box?.remove(); return false; }
  const key = identity(villageId, data);
  if (box && box.dataset.identity === key) return false; // warned already: the collector saves anyway
  box?.remove();
  const address = found.address || pkg.formatAddress(found);
  const warning = h('div', { class: 'flash error', role: 'alert', id: 'dupe-warning' },
    h('p', {}, t('dupe_found', { address, code: pkg.showCode(found.door_code) })),
    h('a', { class: 'button', href: `#/h/${found.uid}`, id: 'dupe-open' }, t('dupe_open')));
  warning.dataset.identity = key;
  form.prepend(warning);
  warning.scrollIntoView?.({ block: 'nearest' });
  return true;
}
