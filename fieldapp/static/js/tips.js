// The informant's screens (loaded only when a tip screen opens, so collectors never pay for it):
// their tips (waiting in the outbox, refused with the server's reason, sent, and how the sent ones
// were checked, from the work package's my_tips) and the tip form.
// A tip is an outbox item (op tip.new, docs/sync-protocol.md) with its own client uuid and the
// moment it was saved (collected_at), so it can be written with no signal and is sent once.
// Informants hold no door list: the door is the scanned QR's token or the typed door code, which the
// server resolves (the code's check character is verified here first), or an address in one of
// their villages. The form is the web form's markup (<template id="form-tip"> in the shell).
import * as db from './db.js';
import * as outbox from './outbox.js';
import * as forms from './forms.js';
import * as photos from './photos.js';
import * as doorcode from './doorcode.js';
import { formatAddress, myTips } from './package.js';
import { open as openSealed } from './crypto.js';
import { h } from './dom.js';
import { t } from './i18n.js';

export const DETAILS_MAX = 1000; // fieldapp/rules/tips.py DETAILS_MAX (the server counts code points too)
// Fields the server names in a refusal -> the form's field that holds them.
const FIELD = { village_id: 'village', door_token: 'door_code', house_uid: 'door_code' };

const villages = async () => (await db.meta('villages')) || (await db.meta('account'))?.villages || [];
const length = (text) => [...(text || '')].length;

function kindLabel(kind) {
  const option = document.getElementById('form-tip').content.querySelector(`[name="kind"] option[value="${CSS.escape(kind || '')}"]`);
  return option ? option.textContent : kind || '';
}

function place(data, list) {
  if (data.door_token) return t('tip_door_scanned');
  if (data.door_code) return doorcode.format(data.door_code);
  const name = list.find((v) => v.id === data.village_id)?.name;
  return [formatAddress({ group_name: data.group, number: data.number }, name), data.address_text].filter(Boolean).join(' ');
}

const when = (ms) => h('time', { datetime: new Date(ms).toISOString() }, new Date(ms).toLocaleString());

// Sent tips as outbox.js kept them when the server accepted them (sealed like the outbox).
async function sentTips() {
  const kept = (await db.meta('tips_sent')) || [];
  return Promise.all(kept.map(async (s) => ({ ...s, ...(await openSealed(s.sealed, s.uid)), state: 'sent' })));
}

// How the server says a sent tip stands -> the row's state (data-state) and its words.
function outcome(tip) {
  if (!tip) return 'sent'; // sent from here, not yet in a downloaded list
  const verdict = tip.verdict || (['valid', 'invalid'].includes(tip.state) ? tip.state : null);
  if (verdict) return verdict;
  return tip.state === 'assigned' ? 'checking' : 'received';
}
const LABELS = { pending: 'waiting_to_send', rejected: 'rejected_title', sent: 'tip_sent', received: 'tip_received',
  checking: 'tip_checking', valid: 'tip_valid', invalid: 'tip_invalid' };
const TAGS = { valid: 'done', invalid: 'behind', sent: 'done', received: '', checking: '' };

export async function home() {
  const [list, server] = await Promise.all([villages(), myTips()]);
  const known = new Map(server.map((x) => [x.uid, x]));
  const waiting = await Promise.all((await outbox.all()).filter((i) => i.op === 'tip.new').map((i) => outbox.details(i)));
  const local = [...waiting, ...await sentTips()];
  const here = new Set(local.map((i) => i.entity_uid));
  const rows = [
    ...local.map((i) => ({ uid: i.entity_uid, item: i, kind: i.data?.kind, place: place(i.data || {}, list),
      state: i.state === 'sent' ? outcome(known.get(i.entity_uid)) : i.state, at: i.sent || i.created })),
    // Sent another way (the web page) or from an earlier phone: the server's list alone.
    ...server.filter((x) => !here.has(x.uid)).map((x) => ({ uid: x.uid, kind: x.kind, place: x.place, state: outcome(x),
      at: Date.parse(x.received_on), day: x.received_on })),
  ].sort((a, b) => b.at - a.at);
  const row = (r) => h('li', { 'data-uid': r.uid, 'data-state': r.state },
    h('strong', {}, kindLabel(r.kind)), ' ', h('span', { class: 'muted' }, r.place),
    h('div', {}, h('span', { class: `tag ${TAGS[r.state] ?? 'pending'}` }, t(LABELS[r.state] || r.state)), ' ',
      r.day ? h('span', { class: 'muted' }, r.day) : h('span', { class: 'muted' }, when(r.at))),
    r.state === 'rejected' ? [h('p', { class: 'error' }, r.item.result?.reason || t('rejected')),
      h('a', { class: 'button primary', href: `#/fix/${r.item.uid}` }, t('fix'))] : null);
  // What the rewards will count: tips found right at the door this month, in the registry's time
  // zone like the server's days (rules/days.py DEFAULT_ZONE), whatever the phone's own is.
  const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date()).slice(0, 7);
  const validThisMonth = server.filter((x) => x.verdict === 'valid' && (x.verified_on || '').startsWith(month)).length;
  return [h('h1', {}, t('tips_title')),
    h('p', {}, h('a', { class: 'button primary', href: '#/tip/new', id: 'send-tip' }, t('send_tip')),
      h('a', { class: 'button', href: '#/tip/scan', id: 'tip-scan-home' }, t('tip_scan'))),
    server.length ? h('p', { id: 'tips-valid-month' }, t('tips_valid_month', { n: validThisMonth })) : null,
    rows.length ? h('ul', { class: 'list', id: 'my-tips' }, rows.map(row)) : h('p', { class: 'muted', id: 'my-tips' }, t('no_tips')),
    h('p', { class: 'help' }, t('tip_checked'))];
}

// The server's item data -> the form's fields (a refused tip opened to be corrected).
function fromData(data = {}) {
  const { village_id: village, ...rest } = data;
  return { ...rest, ...(village ? { village } : {}) };
}

// What can be known offline; the server checks again (tips.service.submit_from_phone).
function check(el, d, list) {
  const errors = forms.check(el, d);
  const add = (name, text) => { (errors[name] ??= []).push(text); };
  if (!d.door_token && d.door_code) {
    const problem = doorcode.problem(d.door_code);
    if (problem !== 'ok') add('door_code', t(`code_${problem}`));
  } else if (!d.door_token) {
    if (!d.number && !d.address_text) add('door_code', t('no_place'));
    if (!list.some((v) => String(v.id) === String(d.village))) add('village', t('choose_village'));
  }
  if (d.happened_on && d.happened_on > forms.today()) add('happened_on', t('future'));
  if (length(d.details) > DETAILS_MAX) add('details', t('too_long'));
  for (const name of ['group', 'number', 'address_text']) if (length(d[name]) > (name === 'address_text' ? 128 : 32)) add(name, t('too_long'));
  // In the form's order: the first field in error gets the focus.
  const names = [...el.elements].map((x) => x.name);
  return Object.fromEntries(Object.entries(errors).sort(([a], [b]) => names.indexOf(a) - names.indexOf(b)));
}

export async function form(ctx, fix = null) {
  const draftKey = fix ? `tip.fix:${fix.uid}` : 'tip.new';
  const [draft, list] = await Promise.all([forms.loadDraft(draftKey), villages()]);
  const door = ctx.tipDoor; // from the scan screen, or a door QR link opened by the camera app
  ctx.tipDoor = null;
  const values = { village: list[0]?.id ?? '', ...(fix ? fromData(fix.data) : {}), ...(draft || {}),
    ...(door ? { door_token: door.door_token || '', door_code: door.door_code || '' } : {}) };
  const el = forms.mount('tip');
  el.id = 'tip-form';
  const select = el.elements.village;
  select.append(...list.map((v) => h('option', { value: v.id }, v.name)));
  if (list.length < 2) select.closest('.field').hidden = true; // one village: nothing to choose
  forms.fill(el, values);
  el.elements.happened_on.max = forms.today();
  el.elements.details.maxLength = DETAILS_MAX;
  const byScan = () => {
    const scanned = Boolean(el.elements.door_token.value);
    el.querySelector('.scanned').hidden = !scanned;
    el.querySelector('.by-hand').hidden = scanned;
  };
  byScan();
  el.querySelector('#tip-unscan').addEventListener('click', () => {
    el.elements.door_token.value = '';
    byScan();
    el.dispatchEvent(new Event('change')); // the draft forgets the scan too
    el.elements.door_code.focus();
  });
  // The scan screen comes back here; what was typed so far must be in the draft by then.
  el.querySelector('#tip-scan').addEventListener('click', () => { ctx.tipBack = window.location.hash; forms.flushDrafts(); });
  if (draft) el.prepend(h('p', { class: 'flash', role: 'status' }, t('draft_restored')));
  if (door) forms.saveDraft(draftKey, forms.read(el));
  if (fix?.result) {
    const errors = {};
    for (const [name, messages] of Object.entries(fix.result.errors || {})) (errors[FIELD[name] || name] ??= []).push(...[].concat(messages));
    forms.showErrors(el, errors, fix.result.reason || t('rejected'));
  }
  const chosenPhoto = photos.field(el);
  forms.autosave(el, draftKey);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const d = forms.read(el);
    const errors = check(el, d, list);
    if (Object.keys(errors).length) { forms.showErrors(el, errors); return; }
    const data = { kind: d.kind, happened_on: d.happened_on, details: d.details };
    if (d.door_token) data.door_token = d.door_token;
    else if (d.door_code) data.door_code = doorcode.normalise(d.door_code);
    else Object.assign(data, { village_id: Number(d.village), group: d.group, number: d.number, address_text: d.address_text });
    el.querySelector('button[type=submit]').disabled = true;
    // A refused tip left nothing on the server: the corrected one is a new item for the same tip.
    if (fix) await outbox.remove(fix.uid);
    const entity = fix?.entity_uid || crypto.randomUUID();
    const item = await outbox.add({ op: 'tip.new', entity_uid: entity, data });
    if (fix) await photos.follow(fix.uid, item.uid);
    const photo = chosenPhoto();
    if (photo) await photos.keep(`tip:${entity}`, photo, item.uid); // uploaded once the tip is accepted
    await forms.dropDraft(draftKey);
    ctx.saved('#/');
  });
  return [h('p', { class: 'crumbs' }, h('a', { href: '#/' }, t('back'))), h('h1', {}, fix ? t('fix') : t('send_tip')), el];
}

// The scan screen (scan.js) picking a door for the tip instead of opening a house.
async function scanScreen(ctx) {
  const scan = await import('./scan.js');
  const back = ctx.tipBack || '#/tip/new';
  return scan.screen(ctx, { title: t('tip_scan_title'), button: t('tip_use_door'),
    pick: (door) => { ctx.tipDoor = door; ctx.tipBack = null; window.location.hash = back; } });
}

// #/ (informants' home), #/tip/new, #/tip/scan, and #/fix/<uid> of a refused tip (`fix`: its item).
export async function screen(ctx, [a, b], fix) {
  if (fix) return form(ctx, await outbox.details(fix));
  if (a === 'tip' && b === 'new') return form(ctx);
  if (a === 'tip' && b === 'scan') return scanScreen(ctx);
  return home(ctx);
}
