// WebCrypto, and the only place that holds the key. The key is derived from the collector's PIN
// (PBKDF2-SHA-256, ITERATIONS rounds, with the salt the server gave at device registration) into a
// non-extractable AES-GCM-256 key kept in memory only: a reload or a closed app asks for the PIN
// again. Every personal field is sealed before it reaches IndexedDB. Each sealed value is bound
// to its record's uid (GCM additional data), so ciphertexts cannot be swapped between records.
// A "verifier" (a known text sealed with the key) lets the app check the PIN offline.
export const ITERATIONS = 210000;
const VERIFIER_TEXT = 'fieldapp-pin-verifier-v1';
const enc = new TextEncoder();
const dec = new TextDecoder();

let key = null;

export const hasKey = () => key !== null;
export const forget = () => { key = null; };

export function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

export function randomSalt() {
  return crypto.getRandomValues(new Uint8Array(16));
}

export async function derive(pin, salt, iterations = ITERATIONS) {
  const material = await crypto.subtle.importKey('raw', enc.encode(pin.normalize('NFC')), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material,
    { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

async function sealRaw(k, bytes, aad) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(aad) }, k, bytes);
  return { iv, ct };
}

async function openRaw(k, sealed, aad) {
  return crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv, additionalData: enc.encode(aad) }, k, sealed.ct);
}

// First use on this phone: make the key and the verifier stored next to the salt.
export async function setup(pin, salt) {
  const k = await derive(pin, salt);
  const verifier = { salt, iterations: ITERATIONS, ...(await sealRaw(k, enc.encode(VERIFIER_TEXT), 'verifier')) };
  key = k;
  return verifier;
}

// Later uses: true and the key is in memory when the PIN opens the verifier (GCM authenticates).
export async function unlock(pin, verifier) {
  const k = await derive(pin, verifier.salt, verifier.iterations);
  try {
    const text = dec.decode(await openRaw(k, verifier, 'verifier'));
    if (text !== VERIFIER_TEXT) return false;
  } catch (e) {
    return false;
  }
  key = k;
  return true;
}

function need() {
  if (!key) throw new Error('locked');
  return key;
}

export async function seal(value, aad) {
  return sealRaw(need(), enc.encode(JSON.stringify(value)), aad);
}

export async function open(sealed, aad) {
  return JSON.parse(dec.decode(await openRaw(need(), sealed, aad)));
}

export const sealBytes = (buffer, aad) => sealRaw(need(), buffer, aad);
export const openBytes = (sealed, aad) => openRaw(need(), sealed, aad);
