// The one way the app builds DOM elements: h('p', { class: 'flash', onclick: fn }, 'text', child).
// Data is only ever set as text or attribute values, never parsed as HTML, so a name typed by a
// collector cannot become markup. Its own module (not views.js) so every screen and page can use it
// without importing the screens, which is how tasks.js and views.js once imported each other.
// Inline styles are not set here: the CSP refuses style attributes (use classes, or the CSSOM).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
