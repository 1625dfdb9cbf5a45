// Door codes typed on the phone: the exact rule of fieldapp/rules/doorcode.py (read its docstring
// for why), so a mistyped code is refused before any lookup, offline. 8 characters from a
// 31-character alphabet; the last is a check character: sum(w_i * v_i) % 31 == 0 with weights 8..1,
// which catches every single wrong character and every swap of two different characters.
// tests/browser/test_pwa_scan.py compares this port with the Python rule on thousands of inputs.
export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTWXYZ';
export const CODE_LENGTH = 8;
const MODULUS = ALPHABET.length; // 31, prime
const ALIASES = { O: '0', I: '1', L: '1' };
const SEPARATORS = new Set(' \t\r\n-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00b7');

// Python's str.translate over code points (not UTF-16 units): aliases replaced, separators dropped.
function stripAndAlias(text) {
  let out = '';
  for (const ch of text) {
    if (SEPARATORS.has(ch)) continue;
    out += ALIASES[ch] ?? ch;
  }
  return out;
}

function normaliseOnce(text) {
  const upper = text.normalize('NFKC').toUpperCase();
  return stripAndAlias(stripAndAlias(upper).normalize('NFKC'));
}

// Canonical form of typed input, NOT validated: NFKC (full-width to ASCII), upper-case, spaces and
// hyphens removed, O -> 0, I/L -> 1; repeated until stable, as in Python (at most 8 passes).
export function normalise(text) {
  if (text === null || text === undefined) return '';
  text = String(text);
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return stripAndAlias(text.toUpperCase());
  for (let i = 0; i < 8; i += 1) {
    const step = normaliseOnce(text);
    if (step === text) break;
    text = step;
  }
  return text;
}

// 'ok' | 'length' (not 8 characters) | 'character' (one outside the alphabet, e.g. U or V) |
// 'check' (the check character does not match: a character is wrong or two are swapped).
export function problem(text) {
  const chars = [...normalise(text)]; // code points, as Python counts them
  if (chars.length !== CODE_LENGTH) return 'length';
  let sum = 0;
  for (let i = 0; i < CODE_LENGTH; i += 1) {
    const v = ALPHABET.indexOf(chars[i]);
    if (v < 0) return 'character';
    sum += (CODE_LENGTH - i) * v;
  }
  return sum % MODULUS === 0 ? 'ok' : 'check';
}

export const isValid = (text) => problem(text) === 'ok';

// Display form XXXX-XXXX of a valid code.
export function format(text) {
  const code = normalise(text);
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

// The token of a door QR's URL (https://<host>/d/<token>), or null for anything else.
export function tokenFromUrl(text, origin = window.location.origin) {
  let url;
  try { url = new URL(String(text).trim(), origin); } catch (e) { return null; }
  const m = /^\/d\/([A-Za-z0-9_-]{16,64})\/?$/.exec(url.pathname);
  return m ? m[1] : null;
}
