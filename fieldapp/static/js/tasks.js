// Tip tasks on the collector's phone (fieldapp/tips/phone.py), loaded only when a task screen
// opens: the tips this collector may act on, kept sealed from the last work package, and the form
// that records what was found at the door (op tip.verify). Verifying needs the collector at the
// door: the verdict carries the visit in progress at the tip's house (opened by scanning its QR,
// typing its code or from the list, like every record), and the server checks that visit again.
// The task list is the server's; a verdict waiting in the outbox marks its task as checked here.
import * as pkg from './package.js';
import * as outbox from './outbox.js';
import * as forms from './forms.js';
import * as visits from './visits.js';
import { h } from './dom.js';
import { t } from './i18n.js';

export const NOTE_MAX = 255; // fieldapp/rules/tips.py NOTE_MAX (the server counts code points too)
const FIELD = { verdict: 'outcome' }; // the server's field names -> this form's

function kindLabel(kind) {
  const option = document.getElementById('form-tip').content.querySelector(`[name="kind"] option[value="${CSS.escape(kind || '')}"]`);
  return option ? option.textContent : kind || '';
}

// Verdicts saved on this phone and not yet accepted, by tip uid (pending or refused).
async function verdicts() {
  const items = (await outbox.all()).filter((i) => i.op === 'tip.verify');
  return new Map(items.map((i) => [i.entity_uid, i]));
}

async function place(task) {
  const house = task.house_uid ? await pkg.house(task.house_uid) : null;
  if (house) return house.address || pkg.showCode(house.door_code);
  return `${task.address_text || '—'} ${t('no_known_house')}`;
}

function dueTag(task) {
  return task.overdue ? h('span', { class: 'tag behind' }, t('task_overdue', { date: task.due_on }))
    : h('span', { class: 'tag' }, t('task_due', { date: task.due_on }));
}

// For the home screen and a house's page: how many tasks are still to check (and overdue).
export async function summary(houseUid = null) {
  const [tasks, waiting] = await Promise.all([pkg.tipTasks(), verdicts()]);
  const open = tasks.filter((x) => (!houseUid || x.house_uid === houseUid) && waiting.get(x.uid)?.state !== 'pending');
  return { open: open.length, overdue: open.filter((x) => x.overdue).length, first: open[0] || null };
}

export async function list() {
  const [tasks, waiting] = await Promise.all([pkg.tipTasks(), verdicts()]);
  const rows = await Promise.all(tasks.map(async (task) => {
    const verdict = waiting.get(task.uid);
    return h('li', { 'data-uid': task.uid, 'data-overdue': String(task.overdue) },
      h('a', { href: `#/task/${task.uid}` }, h('strong', {}, kindLabel(task.kind)), ' ', h('span', { class: 'muted' }, await place(task))),
      h('div', {}, dueTag(task), ' ', h('span', { class: 'tag' }, task.mine ? t('task_mine') : t('task_new')),
        verdict ? h('span', { class: 'tag pending' }, verdict.state === 'pending' ? t('task_waiting') : t('rejected_title')) : null));
  }));
  return [h('p', { class: 'crumbs' }, h('a', { href: '#/' }, t('back'))), h('h1', {}, t('tasks_title')),
    rows.length ? h('ul', { class: 'list', id: 'tasks' }, rows) : h('p', { class: 'muted', id: 'tasks' }, t('no_tasks')),
    h('p', { class: 'help' }, t('tasks_help'))];
}

// The visit that proves this check: at the tip's house, or (a tip that named no known house) at
// the house open now, which must be in the tip's village.
async function proof(task) {
  const visit = await visits.current(task.house_uid || null);
  if (!visit) return { visit: null };
  if (task.house_uid) return { visit };
  const house = await pkg.house(visit.house_uid);
  return house?.village_id === task.village_id ? { visit, house } : { visit: null, wrongVillage: true };
}

export async function screen(ctx, uid, fix = null) {
  const task = (await pkg.tipTasks()).find((x) => x.uid === uid);
  const back = fix ? '#/outbox' : '#/tasks';
  if (!task) {
    // Taken by someone else, closed, or no longer in the collector's villages since the last sync.
    return [h('p', { class: 'crumbs' }, h('a', { href: back }, t('back'))), h('h1', {}, t('tasks_title')),
      h('p', { class: 'flash error', role: 'status', id: 'task-gone' }, t('task_gone')),
      fix ? h('button', { type: 'button', id: 'task-drop', onclick: async () => { await outbox.remove(fix.uid); ctx.saved('#/outbox'); } }, t('remove')) : null];
  }
  const { visit, house: visited, wrongVillage } = await proof(task);
  const fact = (label, value) => [h('dt', {}, label), h('dd', {}, value || '—')];
  const facts = h('dl', { class: 'facts' },
    fact(t('tip_place'), await place(task)), fact(t('tip_happened'), task.happened_on), fact(t('tip_details'), task.details),
    fact(t('tip_arrived'), task.received_on), fact(t('tip_due'), dueTag(task)));
  const goToDoor = task.house_uid
    ? h('p', {}, h('a', { class: 'button primary', href: '#/scan' }, t('scan_door')),
      h('a', { class: 'button', href: `#/h/${task.house_uid}`, id: 'task-house' }, t('open_house')))
    : h('p', {}, h('a', { class: 'button primary', href: '#/scan' }, t('scan_door')));
  const where = visit
    ? h('p', { class: `tag${visit.method === 'scan' ? ' proof' : ''}`, id: 'task-visit', 'data-visit': 'yes' },
      t('task_visit_ok', { time: new Date(visit.started).toLocaleTimeString() }), visited ? ` ${visited.address || ''}` : '')
    : [h('p', { class: 'help', id: 'task-visit', 'data-visit': 'no' }, t(wrongVillage ? 'task_other_village' : 'task_visit_first')), goToDoor];

  const el = document.getElementById('form-tipverify').content.firstElementChild.cloneNode(true);
  el.id = 'verify-form';
  el.dataset.kind = 'tipverify';
  const draftKey = `tip.verify:${uid}`;
  const draft = (await forms.loadDraft(draftKey)) || (fix ? { outcome: fix.data?.verdict, note: fix.data?.note } : null);
  if (draft?.outcome) el.querySelector(`[name="outcome"][value="${CSS.escape(draft.outcome)}"]`)?.click();
  if (draft?.note) el.elements.note.value = draft.note;
  const read = () => ({ outcome: el.elements.outcome.value || null, note: el.elements.note.value.trim() || null });
  // Radios do not fit forms.autosave (it reads one value per element): this form saves its own.
  el.addEventListener('change', () => forms.saveDraft(draftKey, read()));
  el.addEventListener('input', () => forms.saveDraft(draftKey, read()));
  if (fix?.result) {
    const errors = Object.fromEntries(Object.entries(fix.result.errors || {}).map(([k, v]) => [FIELD[k] || k, v]));
    forms.showErrors(el, errors, fix.result.reason || t('rejected'));
  }
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const d = read();
    const errors = {};
    const add = (name, key) => { (errors[name] ??= []).push(t(key)); };
    if (!d.outcome) add('outcome', 'choose_outcome');
    if (d.outcome === 'invalid' && !d.note) add('note', 'note_required');
    if (d.note && [...d.note].length > NOTE_MAX) add('note', 'too_long');
    const current = await proof(task); // the collector may have opened the door meanwhile
    if (!current.visit) { forms.showErrors(el, errors, t(current.wrongVillage ? 'task_other_village' : 'task_visit_first')); return; }
    if (Object.keys(errors).length) { forms.showErrors(el, errors); return; }
    el.querySelector('button[type=submit]').disabled = true;
    if (fix) await outbox.remove(fix.uid); // a corrected verdict is a new item: the old uid was refused
    await outbox.add({ op: 'tip.verify', entity_uid: uid, house_uid: task.house_uid ? null : current.visit.house_uid,
      data: { verdict: d.outcome, note: d.note }, visit_uid: current.visit.uid });
    await forms.dropDraft(draftKey);
    ctx.saved('#/tasks');
  });
  return [h('p', { class: 'crumbs' }, h('a', { href: back }, t('back'))), h('h1', {}, kindLabel(task.kind)),
    facts, where, h('h2', {}, t('verify_title')), el];
}
