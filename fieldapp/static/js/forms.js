// The registry's forms on the phone. The markup is the web forms' own (same field names, labels
// and choices, rendered by the server into <template id="form-KIND"> in the shell); this module
// fills them, reads them, checks what can be checked offline, shows errors and autosaves drafts.
// The server validates again with the same WTForms rules: what it refuses comes back as "rejected".
import * as db from './db.js';
import { seal, open } from './crypto.js';
import { h } from './dom.js';
import { t, has } from './i18n.js';

const RESIDENT_ID = '111';
const POLICE_ONLY = { category: ['abroad'] };

export function mount(kind, values = {}, { police = false } = {}) {
  const form = document.getElementById(`form-${kind}`).content.firstElementChild.cloneNode(true);
  if (!police) {
    for (const [name, codes] of Object.entries(POLICE_ONLY)) {
      codes.forEach((c) => form.elements[name]?.querySelector(`option[value="${c}"]`)?.remove());
    }
    form.elements.id_type?.querySelectorAll('option').forEach((o) => { if (o.value !== RESIDENT_ID) o.remove(); });
  }
  form.dataset.kind = kind;
  fill(form, values);
  if (form.elements.known_on && !values.known_on) form.elements.known_on.value = today();
  return form;
}

export function today() {
  const d = new Date();
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

const named = (form) => [...form.elements].filter((el) => el.name && el.type !== 'file' && el.type !== 'submit');

export function fill(form, values) {
  for (const el of named(form)) {
    if (!(el.name in values)) continue;
    const v = values[el.name];
    if (el.type === 'checkbox') el.checked = Boolean(v);
    else el.value = v === null || v === undefined ? '' : String(v);
  }
}

// The form's values as the server's JSON: booleans, whole numbers, and null for "not given".
export function read(form) {
  const data = {};
  for (const el of named(form)) {
    if (el.name === 'version' || el.name === 'csrf_token') continue;
    if (el.type === 'checkbox') data[el.name] = el.checked;
    else if (el.type === 'number' && el.value !== '') data[el.name] = Number(el.value);
    else data[el.name] = el.value.trim() === '' ? null : el.value.trim();
  }
  return data;
}

// Only the fields that differ from the record as opened: an update says what the collector changed,
// so the server's field-level merge can keep what others changed meanwhile.
export function changes(data, original) {
  const out = {};
  for (const [name, value] of Object.entries(data)) {
    const before = original[name] === undefined || original[name] === '' ? null : original[name];
    const same = typeof value === 'boolean' ? Boolean(before) === value : String(before ?? '') === String(value ?? '');
    if (!same) out[name] = value;
  }
  return out;
}

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
export function residentIdOk(value) {
  const v = value.toUpperCase();
  if (!/^\d{17}[\dX]$/.test(v)) return false;
  const sum = WEIGHTS.reduce((acc, w, i) => acc + w * Number(v[i]), 0);
  return '10X98765432'[sum % 11] === v[17];
}

// fieldapp/forms.py phone(): a fixed line 0xx(x)-xxxxxxx(x) as typed (spaces removed), or a mobile
// number as rules/identifiers.validate_mobile reads it (full-width folded, spaces and hyphens
// removed, +86 / 0086 / a 13-digit 86 prefix dropped, then 1[3-9] and 9 digits).
export function phoneOk(value) {
  const text = value.normalize('NFKC').replace(/\s/g, '');
  if (/^0\d{2,3}-?\d{7,8}$/.test(text)) return true;
  let number = text.replace(/-/g, '');
  const prefix = ['+86', '0086'].find((p) => number.startsWith(p));
  if (prefix) number = number.slice(prefix.length);
  else if (number.length === 13 && number.startsWith('86')) number = number.slice(2);
  return /^1[3-9]\d{9}$/.test(number);
}

// What can be known offline; the server has the last word.
export function check(form, data) {
  const errors = {};
  const add = (name, key) => { (errors[name] ??= []).push(t(key)); };
  // The web form's own message for a missing field ("Enter the door number."), else a generic one.
  const required = (name) => (has(`${form.dataset.kind}:${name}`) ? `${form.dataset.kind}:${name}` : 'required');
  for (const el of named(form)) if (el.required && (data[el.name] === null || data[el.name] === '')) add(el.name, required(el.name));
  if (data.id_number && data.id_type === RESIDENT_ID && !residentIdOk(data.id_number)) add('id_number', 'bad_resident_id');
  for (const name of ['phone', 'owner_phone', 'tenant_phone']) if (data[name] && !phoneOk(data[name])) add(name, 'bad_phone');
  if (data.rental_registered && !data.rental_record_no) add('rental_record_no', 'need_rental_no');
  return errors;
}

export function showErrors(form, errors, reason) {
  form.querySelectorAll('.js-error').forEach((el) => el.remove());
  form.querySelectorAll('.has-error').forEach((el) => el.classList.remove('has-error'));
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  let first = null;
  const summary = h('p', { class: 'flash error js-error', role: 'alert' }, reason || t('fix_fields'));
  for (const [name, messages] of Object.entries(errors || {})) {
    const el = form.elements[name];
    if (!el || !el.closest) { summary.textContent += ` ${messages.join(' ')}`; continue; }
    const box = el.closest('.field') || el.parentElement;
    box.classList.add('has-error');
    el.setAttribute('aria-invalid', 'true');
    const p = h('p', { class: 'error js-error', id: `${el.id || name}-jserror` }, messages.join(' '));
    box.append(p);
    el.setAttribute('aria-describedby', p.id);
    first ??= el;
  }
  if (reason || Object.keys(errors || {}).length) form.prepend(summary);
  (first || summary).focus?.();
}

// Drafts: sealed, saved while typing, restored when the same form is opened again.
const DRAFT_DELAY = 400;
const timers = new Map();

export function autosave(form, key) {
  const save = () => { timers.delete(key); return saveDraft(key, read(form)); };
  form.addEventListener('input', () => { clearTimeout(timers.get(key)?.id); timers.set(key, { id: setTimeout(save, DRAFT_DELAY), save }); });
  form.addEventListener('change', () => { clearTimeout(timers.get(key)?.id); timers.set(key, { id: setTimeout(save, 0), save }); });
}

// Save what is being typed now (before an app update reloads the page).
export async function flushDrafts() {
  const pendingSaves = [...timers.values()];
  pendingSaves.forEach((p) => clearTimeout(p.id));
  await Promise.all(pendingSaves.map((p) => p.save()));
}

export const typing = () => timers.size > 0;

export async function saveDraft(key, data) {
  await db.put('drafts', { key, saved: Date.now(), sealed: await seal(data, `draft:${key}`) });
}

export async function loadDraft(key) {
  const d = await db.get('drafts', key);
  return d ? open(d.sealed, `draft:${key}`) : null;
}

export async function dropDraft(key) {
  clearTimeout(timers.get(key)?.id);
  timers.delete(key);
  await db.del('drafts', key);
}
