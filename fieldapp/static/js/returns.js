// 退回修改: changes a reviewer returned to this collector (fieldapp/returned.py), kept sealed from
// the last work package (meta 'returned', package.js), so the list and the reasons work offline.
// Opening one opens the record's ordinary edit form (views.form), which asks annotate() to show
// each reason beside its field and the whole-record reason on top. Saving queues a normal update;
// the server takes the collector's next change to the record as the correction. Until the next
// package replaces the list, the item shows "corrected, waiting to sync" (meta 'returned_fixed':
// {change uid: {item: the outbox item's uid, at}}; not personal, so not sealed).
import * as db from './db.js';
import * as pkg from './package.js';
import * as outbox from './outbox.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const FORM = { house: 'house', person: 'person', organisation: 'organisation' };
const EDIT = { house: (u) => `#/h/${u}/edit`, person: (u) => `#/p/${u}/edit`, organisation: (u) => `#/o/${u}/edit` };
const OP_KEY = { house: 'op_house_update', person: 'op_person_update', organisation: 'op_org_update' };
const NEW_KEY = { house: 'op_house_new', person: 'op_person_new', organisation: 'op_org_new' };

// The list with each item's state: 'fixed' when this phone saved a correction that is waiting in
// the outbox (or was sent after this list arrived), else 'open'. A refused correction is open again.
export async function items() {
  const [list, fixed, received, queued] = await Promise.all([pkg.returned(), db.meta('returned_fixed'),
    db.meta('returned_received'), outbox.all()]);
  const inOutbox = new Map(queued.map((i) => [i.uid, i]));
  return list.map((r) => {
    const mark = fixed?.[r.uid];
    const item = mark && inOutbox.get(mark.item);
    const isFixed = Boolean(mark) && (item ? item.state !== 'rejected' : mark.at > (received || 0));
    return { ...r, state: isFixed ? 'fixed' : 'open' };
  });
}

export async function summary() {
  const all = await items();
  return { total: all.length, open: all.filter((r) => r.state === 'open').length, fixed: all.filter((r) => r.state === 'fixed').length };
}

// The home screen's way in: "退回修改 (N)", N = how many still wait for a correction.
export async function homeLink() {
  const s = await summary();
  if (!s.total) return null;
  return h('p', {}, h('a', { class: `button${s.open ? ' primary' : ''}`, href: '#/returns', id: 'returns-link', 'data-open': String(s.open) },
    t('returns_link', { n: s.open }), s.fixed ? [' ', h('span', { class: 'tag pending' }, t('returns_fixed_n', { n: s.fixed }))] : null));
}

function fieldLabel(entity, name) {
  const label = document.getElementById(`form-${FORM[entity]}`)?.content.querySelector(`label[for="${CSS.escape(name)}"]`);
  return label ? label.textContent.trim() : name;
}

async function recordName(r) {
  if (r.entity === 'person') return (await pkg.person(r.record_uid))?.name;
  if (r.entity === 'organisation') return (await pkg.organisation(r.record_uid))?.name;
  const house = await pkg.house(r.record_uid);
  return house && (house.address || pkg.showCode(house.door_code));
}

export async function list() {
  const all = await items();
  const rows = await Promise.all(all.map(async (r) => {
    const name = await recordName(r);
    const when = r.returned_at ? new Date(r.returned_at).toLocaleDateString() : '';
    return h('li', { 'data-uid': r.uid, 'data-state': r.state, 'data-record': r.record_uid },
      h('strong', {}, name || '—'), ' ', h('span', { class: 'muted' }, t(r.kind === 'new' ? NEW_KEY[r.entity] : OP_KEY[r.entity])),
      r.state === 'fixed' ? h('span', { class: 'tag pending' }, t('return_fixed')) : null,
      r.whole ? h('p', { class: 'returned-reason' }, t('return_whole', { reason: r.whole })) : null,
      Object.keys(r.reasons || {}).length ? h('ul', { class: 'reasons' }, Object.entries(r.reasons).map(([field, reason]) =>
        h('li', {}, h('strong', {}, fieldLabel(r.entity, field)), `：${reason}`))) : null,
      h('p', { class: 'muted' }, t('return_by', { date: when, id: r.reviewer || '—' })),
      name ? h('p', {}, h('a', { class: `button${r.state === 'open' ? ' primary' : ''}`, href: EDIT[r.entity](r.record_uid) },
        t(r.state === 'open' ? 'return_open' : 'return_again')))
        : h('p', { class: 'help' }, t('return_not_here')));
  }));
  return [h('p', { class: 'crumbs' }, h('a', { href: '#/' }, t('back'))), h('h1', {}, t('returns_title')),
    rows.length ? h('ul', { class: 'list returns', id: 'returns' }, rows) : h('p', { class: 'muted', id: 'returns' }, t('returns_none')),
    h('p', { class: 'help' }, t('returns_help'))];
}

// views.form's hook: the returns of the record this form edits (corrected ones too: the collector
// may open it again before the sync), shown on the form (reason beside each field, highlighted;
// the whole-record reason on top). Returns their change uids, for markFixed() when it is saved.
export async function annotate(el, entityUid) {
  const open = (await items()).filter((r) => r.record_uid === entityUid);
  if (!open.length) return [];
  const loose = [];
  for (const r of open) {
    for (const [field, reason] of Object.entries(r.reasons || {})) {
      const input = el.elements[field];
      const box = input?.closest?.('.field');
      if (!box) { loose.push(`${fieldLabel(r.entity, field)}：${reason}`); continue; }
      box.classList.add('returned');
      const note = h('p', { class: 'returned-reason', id: `${input.id || field}-returned` }, t('return_reason', { reason }));
      box.append(note);
      input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), note.id].filter(Boolean).join(' '));
    }
  }
  const wholes = open.map((r) => r.whole).filter(Boolean);
  el.prepend(h('div', { class: 'flash returned-banner', role: 'status', id: 'returned-banner' },
    h('strong', {}, t('returns_title')), ' ', t('return_fields_banner'),
    [...wholes, ...loose].map((text) => h('p', { class: 'returned-reason' }, text))));
  return open.map((r) => r.uid);
}

// The form was saved as outbox item `itemUid`: these returns are corrected, waiting to sync.
export async function markFixed(changeUids, itemUid) {
  if (!changeUids.length) return;
  const fixed = (await db.meta('returned_fixed')) || {};
  for (const uid of changeUids) fixed[uid] = { item: itemUid, at: Date.now() };
  await db.setMeta('returned_fixed', fixed);
}
