// UI text comes from the server-rendered catalog in the shell (<script type="application/json"
// id="i18n">), translated like every other page. No UI text is written in the JS.
let strings = null;

const load = () => { strings ??= JSON.parse(document.getElementById('i18n').textContent); return strings; };
export const has = (key) => key in load();

export function t(key, params) {
  load();
  let text = strings[key];
  if (text === undefined) { console.warn('missing string', key); text = key; }
  if (params) text = text.replace(/%\((\w+)\)s/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}
