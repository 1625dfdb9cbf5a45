// The screens, drawn from IndexedDB only (so they work the same offline): villages, a village's
// houses with search, a house with its residents, the forms, and the outbox. Text comes from the
// shell's catalog (i18n.js); data is only ever set as text, never parsed as HTML.
import * as db from './db.js';
import * as pkg from './package.js';
import * as outbox from './outbox.js';
import * as forms from './forms.js';
import * as photos from './photos.js';
import * as visits from './visits.js';
import * as returns from './returns.js';
import * as labels from './labels.js';
import * as dupes from './dupes.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const LIST_LIMIT = 200;
const collator = new Intl.Collator('zh-Hans-CN', { numeric: true }); // one instance: localeCompare is 100x slower

const mask = (v, keep = 4) => (v ? `${v.slice(0, 3)}${'*'.repeat(Math.max(0, v.length - 3 - keep))}${v.slice(-keep)}` : '');

// The label of a code as the web form shows it, read from the form template's <select>.
function optionLabel(kind, field, value) {
  if (!value) return '—';
  const option = document.getElementById(`form-${kind}`).content.querySelector(`[name="${field}"] option[value="${CSS.escape(value)}"]`);
  return option ? option.textContent : value;
}

// A field's label as the form shows it (errors and conflicts name fields by their label).
function fieldLabel(op, name) {
  const kind = { 'person.leave': 'leave', 'tip.verify': 'tipverify' }[op] || op.split('.')[0];
  if (kind === 'tip') name = { village_id: 'village', door_token: 'door_code' }[name] || name; // the tip form's names
  if (kind === 'tipverify') name = { verdict: 'outcome' }[name] || name;
  const label = document.getElementById(`form-${kind}`)?.content.querySelector(`label[for="${CSS.escape(name)}"]`);
  return label ? label.textContent.trim() : name;
}

const scanButton = () => h('p', {}, h('a', { class: 'button primary', href: '#/scan', id: 'scan-button' }, t('scan_door')));

async function villages() {
  return (await db.meta('villages')) || (await db.meta('account'))?.villages || [];
}

// Tip tasks waiting for this collector (tasks.js draws them; this is only the way in).
async function taskLink(houseUid = null) {
  const tasks = await pkg.tipTasks();
  if (!tasks.length) return null;
  const { summary } = await import('./tasks.js');
  const s = await summary(houseUid);
  if (houseUid) {
    return s.open ? h('p', { class: 'flash', id: 'house-tasks' }, h('a', { href: `#/task/${s.first.uid}` }, t('house_tasks', { n: s.open }))) : null;
  }
  return h('p', {}, h('a', { class: 'button', href: '#/tasks', id: 'tasks-link' }, t('tasks_link', { n: s.open }),
    s.overdue ? [' ', h('span', { class: 'tag behind' }, t('tasks_overdue', { n: s.overdue }))] : null));
}

export async function home(ctx) {
  const list = await villages();
  return [h('h1', {}, t('your_villages')), scanButton(), await returns.homeLink(), await taskLink(),
    list.length ? h('ul', { class: 'list' }, list.map((v) => h('li', {}, h('a', { href: `#/v/${v.id}` }, h('strong', {}, v.name)))))
      : h('p', { class: 'muted' }, t('no_package'))];
}

export async function village(ctx, id) {
  const vid = Number(id);
  const v = (await villages()).find((x) => x.id === vid);
  const [houses, counts] = await Promise.all([pkg.houses(vid), pkg.livingCounts()]);
  houses.sort((a, b) => collator.compare(a.address || '', b.address || ''));
  const status = h('p', { class: 'muted', role: 'status', id: 'house-count' });
  const ul = h('ul', { class: 'list', id: 'houses' });
  const input = h('input', { id: 'q', type: 'search', autocomplete: 'off', value: ctx.query || '' });
  const draw = () => {
    const q = input.value.trim().toLowerCase();
    ctx.query = input.value;
    const hits = q ? houses.filter((x) => x.search.includes(q)) : houses;
    status.textContent = q ? t('houses_match', { n: hits.length, q: input.value.trim() }) : t('houses_n', { n: hits.length });
    ul.replaceChildren(...hits.slice(0, LIST_LIMIT).map((x) => h('li', {}, h('a', { href: `#/h/${x.uid}` },
      h('strong', {}, x.address || x.door_code),
      h('span', { class: 'muted' }, `${pkg.showCode(x.door_code) || t('code_later')} · `, x.collected ? t('n_living', { n: counts[x.uid] || 0 }) : h('em', {}, t('not_visited')))))));
    if (hits.length > LIST_LIMIT) ul.append(h('li', { class: 'muted' }, t('refine_search', { n: hits.length - LIST_LIMIT })));
    if (!hits.length) ul.append(h('li', {}, t('no_match')));
  };
  input.addEventListener('input', draw);
  draw();
  return [h('h1', {}, v ? v.name : ''),
    h('p', {}, h('a', { class: 'button primary', href: '#/scan' }, t('scan_door')),
      h('a', { class: 'button', href: `#/v/${vid}/new`, id: 'new-house' }, t('new_house'))),
    h('div', { class: 'search', role: 'search' }, h('label', { for: 'q' }, t('search_label')), input), status, ul];
}

export async function house(ctx, uid) {
  const x = await pkg.house(uid);
  if (!x) return [h('p', {}, t('not_found'))];
  const [people, orgs] = await Promise.all([pkg.residents(uid), pkg.organisations(uid)]);
  const v = (await villages()).find((y) => y.id === x.village_id);
  const visit = await visits.current(uid);
  const fact = (label, value) => [h('dt', {}, label), h('dd', {}, value || '—')];
  return [
    h('p', { class: 'crumbs' }, h('a', { href: `#/v/${x.village_id}` }, v ? v.name : t('back'))),
    h('h1', { id: 'house-title' }, x.address || pkg.formatAddress(x, v?.name)), // the address starts with the village
    // Door proof: only a visit opened by scanning the door's QR counts (records carry the visit).
    visit?.method === 'scan' ? h('p', { class: 'tag proof', id: 'door-proof', 'data-proof': 'yes' }, t('door_proof_yes'))
      : h('p', { class: 'tag', id: 'door-proof', 'data-proof': 'no' }, t('door_proof_no')),
    await taskLink(uid),
    x.local ? h('p', { class: 'tag pending' }, t('waiting_to_send')) : null,
    await labels.houseNote(uid),
    h('dl', { class: 'facts' },
      fact(t('door_code'), x.door_code ? h('span', { class: 'code' }, pkg.showCode(x.door_code)) : t('code_later')),
      fact(t('use'), optionLabel('house', 'use', x.use)),
      fact(t('owner'), [x.owner_name, x.owner_phone && ` ${mask(x.owner_phone)}`].filter(Boolean).join('')),
      fact(t('tenant'), [x.tenant_name, x.tenant_phone && ` ${mask(x.tenant_phone)}`].filter(Boolean).join(''))),
    h('p', {}, h('a', { class: 'button', href: `#/h/${uid}/edit` }, t('edit_house')),
      h('a', { class: 'button primary', href: `#/h/${uid}/person` }, t('add_person')),
      h('a', { class: 'button', href: `#/h/${uid}/org` }, t('add_org'))),
    h('h2', {}, t('residents_n', { n: people.length })),
    h('ul', { class: 'list', id: 'residents' }, people.length ? people.map((p) => h('li', {},
      h('strong', {}, p.name), ' ', h('span', { class: 'muted' }, mask(p.id_number)),
      p.local ? h('span', { class: 'tag pending' }, t('waiting_to_send')) : null,
      h('div', {}, h('a', { class: 'button', href: `#/p/${p.uid}/edit` }, t('edit')),
        p.local && !p.version ? null : h('a', { class: 'button danger', href: `#/p/${p.uid}/leave` }, t('mark_left')))))
      : h('li', { class: 'muted' }, t('nobody'))),
    orgs.length ? [h('h2', {}, t('organisations')), h('ul', { class: 'list', id: 'organisations' }, orgs.map((o) => h('li', {}, h('strong', {}, o.name), ' ',
      h('span', { class: 'muted' }, optionLabel('organisation', 'kind', o.kind)),
      o.local ? h('span', { class: 'tag pending' }, t('waiting_to_send')) : null,
      h('div', {}, h('a', { class: 'button', href: `#/o/${o.uid}/edit` }, t('edit')),
        o.local && !o.version ? null : h('a', { class: 'button danger', href: `#/o/${o.uid}/close` }, t('close_org'))))))] : null,
  ];
}

// kind: house | person | leave | organisation. spec: {op, entity_uid, house_uid, original, title, back, photoOf, fix}
export async function form(ctx, kind, spec) {
  // A new record's form is a fresh one each time it opens: its draft belongs to the house.
  const draftKey = spec.op === 'house.new' ? `house.new:v${spec.village_id}`
    : spec.op.endsWith('.new') ? `${spec.op}:${spec.house_uid}` : `${spec.op}:${spec.entity_uid}`;
  const draft = await forms.loadDraft(draftKey);
  const values = { ...(spec.original || {}), ...(spec.fix?.data || {}), ...(spec.fix?.known_on ? { known_on: spec.fix.known_on } : {}), ...(draft || {}) };
  const allVillages = await villages();
  const el = forms.mount(kind, values, { police: ctx.police });
  el.id = 'record-form';
  // A new house is registered in one of the collector's villages; other forms have no such field.
  el.querySelectorAll('.new-only').forEach((box) => {
    if (spec.op !== 'house.new') { box.remove(); return; }
    const select = box.querySelector('select');
    select.append(...allVillages.map((v) => h('option', { value: v.id }, v.name)));
    select.value = String(values.village_id ?? spec.village_id ?? '');
  });
  if (draft) el.prepend(h('p', { class: 'flash', role: 'status' }, t('draft_restored')));
  if (spec.fix?.result) forms.showErrors(el, spec.fix.result.errors, spec.fix.result.reason || t('rejected'));
  // A record a reviewer returned (退回修改): the reasons beside the fields.
  const returned = spec.op.endsWith('.update') ? await returns.annotate(el, spec.entity_uid) : [];
  const chosenPhoto = photos.field(el);
  forms.autosave(el, draftKey);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = forms.read(el);
    const errors = forms.check(el, data);
    if (Object.keys(errors).length) { forms.showErrors(el, errors); return; }
    const knownOn = data.known_on ?? null;
    delete data.known_on;
    const villageId = spec.op === 'house.new' ? Number(data.village_id) : null;
    // One address is one house: offer the house already at this address first (dupes.js).
    if (spec.op === 'house.new' && await dupes.warn(el, villageId, data)) return;
    delete data.village_id;
    // The house this record is about: a record collected while its house is open carries the visit.
    const houseOf = spec.of_house || (spec.op.startsWith('house.') ? spec.entity_uid : spec.house_uid);
    const visitUid = spec.fix ? spec.fix.visit_uid || null : spec.op === 'house.new' ? null : await visits.uidFor(houseOf);
    const whole = spec.op.endsWith('.new') || spec.op === 'person.leave' || spec.op === 'organisation.close';
    const payload = whole ? data : forms.changes(data, spec.original || {});
    // A corrected update resends what it changed: the phone's copy already shows those values.
    if (!whole && spec.fix) for (const k of Object.keys(spec.fix.data || {})) if (k in data) payload[k] = data[k];
    if (!Object.keys(payload).length && !chosenPhoto()) { forms.showErrors(el, {}, t('nothing_changed')); return; }
    el.querySelector('button[type=submit]').disabled = true;
    if (spec.fix) await outbox.remove(spec.fix.uid); // a fixed change is a new item: the old uid was refused
    let item = null;
    const labelToken = spec.op === 'house.new' && !spec.fix ? await labels.tokenFor(spec.entity_uid) : null;
    if (Object.keys(payload).length) {
      item = await outbox.add({ label_token: labelToken, op: spec.op, entity_uid: spec.entity_uid, house_uid: spec.house_uid, village_id: villageId,
        // A record made on this phone and not yet sent has version 0 here; the server creates it as 1.
        base_version: spec.op.endsWith('.new') ? null : (spec.fix?.base_version ?? (spec.original?.version || 1)),
        data: payload, known_on: knownOn, visit_uid: visitUid });
      const villageName = allVillages.find((v) => v.id === (villageId ?? spec.original?.village_id))?.name;
      await pkg.applyLocal(spec.op, spec.entity_uid, spec.house_uid, payload, { village_id: villageId, village_name: villageName });
      if (spec.fix) await photos.follow(spec.fix.uid, item.uid);
      await returns.markFixed(returned, item.uid);
      if (labelToken) await labels.saved(spec.entity_uid, labelToken);
    }
    const photo = chosenPhoto();
    if (photo && spec.photoOf) await photos.keep(spec.photoOf, photo, item?.uid || null);
    await forms.dropDraft(draftKey);
    ctx.saved(spec.done || spec.back);
  });
  return [h('p', { class: 'crumbs' }, h('a', { href: spec.back }, t('back'))), h('h1', {}, spec.title),
    spec.op === 'house.new' && !spec.fix ? await labels.section(ctx, spec) : null, el];
}

const OP_KEYS = { 'house.new': 'op_house_new', 'house.update': 'op_house_update', 'person.new': 'op_person_new',
  'person.update': 'op_person_update', 'person.leave': 'op_person_leave', 'organisation.new': 'op_org_new',
  'organisation.update': 'op_org_update', 'organisation.close': 'op_org_close', 'tip.new': 'op_tip_new',
  'tip.verify': 'op_tip_verify' };

export async function outboxPage(ctx) {
  const records = (await outbox.all()).filter((i) => i.op !== 'visit.new');
  const items = (await Promise.all(records.map((i) => outbox.details(i)))).sort((a, b) => a.created - b.created);
  const pics = await photos.pending();
  const group = (state, title, extra) => {
    const list = items.filter((i) => i.state === state);
    if (!list.length) return null;
    return [h('h2', {}, title), h('ul', { class: 'list', id: `outbox-${state}` }, list.map((i) => h('li', { 'data-uid': i.uid },
      h('strong', {}, t(OP_KEYS[i.op] || i.op)), ' ', h('span', { class: 'muted' }, i.data?.name || i.data?.number || ''),
      h('div', { class: 'muted' }, new Date(i.created).toLocaleString()), extra(i))))];
  };
  const fieldNames = (i, o) => Object.keys(o || {}).map((n) => fieldLabel(i.op, n)).join('、');
  return [h('h1', {}, t('outbox')),
    items.length || pics.length ? null : h('p', {}, t('all_sent')),
    group('rejected', t('rejected_title'), (i) => [
      h('p', { class: 'error' }, i.result?.reason || t('rejected')),
      i.result?.errors ? h('p', { class: 'error' }, Object.entries(i.result.errors).map(([k, v]) => `${fieldLabel(i.op, k)}: ${[].concat(v).join(' ')}`).join(' · ')) : null,
      h('a', { class: 'button primary', href: `#/fix/${i.uid}` }, t('fix'))]),
    group('conflict', t('conflict_title'), (i) => [
      h('p', {}, t('kept_for_reviewer', { fields: fieldNames(i, i.result?.conflicts) })),
      h('button', { type: 'button', onclick: async () => { await outbox.remove(i.uid); ctx.refresh(); } }, t('dismiss'))]),
    group('requested', t('requested_title'), (i) => [
      h('p', {}, i.result?.reason || t('requested_title')),
      h('button', { type: 'button', onclick: async () => { await outbox.remove(i.uid); ctx.refresh(); } }, t('dismiss'))]),
    group('pending', t('pending_title'), () => null),
    pics.length ? h('p', { class: 'muted' }, t('photos_waiting', { n: pics.length })) : null,
  ];
}
