// The only IndexedDB code. Records are keyed by uid (the server's, or one this phone generated),
// so a retried download or push can only overwrite, never duplicate. Rules (jakearchibald/idb):
// never await anything but IndexedDB inside a transaction (it would auto-commit under us), and
// upgrade the schema step by step by oldVersion so a phone that skipped releases still migrates.
const NAME = 'fieldapp';
const VERSION = 2;
// Stores holding the work package (personal data, wiped on a fatal 401); the rest is ours.
export const PACKAGE_STORES = ['houses', 'people', 'orgs'];

let opening = null;

export function open() {
  opening ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, VERSION);
    req.onupgradeneeded = (event) => {
      const db = req.result;
      if (event.oldVersion < 1) {
        db.createObjectStore('meta', { keyPath: 'key' });
        db.createObjectStore('houses', { keyPath: 'uid' }).createIndex('village', 'village_id');
        db.createObjectStore('people', { keyPath: 'uid' }).createIndex('house', 'house_uid');
        db.createObjectStore('orgs', { keyPath: 'uid' }).createIndex('house', 'house_uid');
        db.createObjectStore('outbox', { keyPath: 'uid' }).createIndex('state', 'state');
        db.createObjectStore('drafts', { keyPath: 'key' });
        db.createObjectStore('photos', { keyPath: 'uid' });
      }
      if (event.oldVersion < 2) {
        // Opening a house by its door QR (token, kept only as a SHA-256 hash) or its typed code.
        const houses = req.transaction.objectStore('houses');
        houses.createIndex('token', 'token_hash');
        houses.createIndex('code', 'door_code');
      }
      // if (event.oldVersion < 3) { ... } — add later versions here, never edit the steps above.
    };
    req.onsuccess = () => {
      const db = req.result;
      // A newer app version in another tab wants to upgrade: let it (we reopen on next use).
      db.onversionchange = () => { db.close(); opening = null; };
      resolve(db);
    };
    req.onerror = () => { opening = null; reject(req.error); };
    req.onblocked = () => console.warn('IndexedDB upgrade blocked by another tab');
  });
  return opening;
}

function run(stores, mode, body) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(stores, mode);
    let result;
    const out = body(tx, (value) => { result = value; });
    tx.oncomplete = () => resolve(result !== undefined ? result : out && out.result);
    tx.onerror = tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  }));
}

export const get = (store, key) => run([store], 'readonly', (tx) => tx.objectStore(store).get(key));

export function getMany(store, keys) {
  return run([store], 'readonly', (tx, done) => {
    const s = tx.objectStore(store);
    const out = new Array(keys.length);
    let left = keys.length;
    if (!left) done(out);
    keys.forEach((k, i) => { s.get(k).onsuccess = (e) => { out[i] = e.target.result; left -= 1; if (!left) done(out); }; });
  });
}

export function all(store, index, value) {
  return run([store], 'readonly', (tx) => {
    const source = index ? tx.objectStore(store).index(index) : tx.objectStore(store);
    return value === undefined ? source.getAll() : source.getAll(IDBKeyRange.only(value));
  });
}

export function count(store, index, value) {
  return run([store], 'readonly', (tx) => {
    const source = index ? tx.objectStore(store).index(index) : tx.objectStore(store);
    return value === undefined ? source.count() : source.count(IDBKeyRange.only(value));
  });
}

// {indexKey: number of records} for one index, read from keys only (no values are loaded).
export function countBy(store, index) {
  return run([store], 'readonly', (tx, done) => {
    const counts = {};
    const req = tx.objectStore(store).index(index).openKeyCursor();
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor) { done(counts); return; }
      counts[cursor.key] = (counts[cursor.key] || 0) + 1;
      cursor.continue();
    };
  });
}

export function put(store, values) {
  const list = Array.isArray(values) ? values : [values];
  return run([store], 'readwrite', (tx) => { const s = tx.objectStore(store); list.forEach((v) => s.put(v)); });
}

export function del(store, keys) {
  const list = Array.isArray(keys) ? keys : [keys];
  return run([store], 'readwrite', (tx) => { const s = tx.objectStore(store); list.forEach((k) => s.delete(k)); });
}

// Several stores in one atomic transaction: {store: {put: [...], del: [...]}}.
export function write(changes) {
  const stores = Object.keys(changes);
  return run(stores, 'readwrite', (tx) => {
    for (const name of stores) {
      const s = tx.objectStore(name);
      (changes[name].del || []).forEach((k) => s.delete(k));
      (changes[name].put || []).forEach((v) => s.put(v));
    }
  });
}

export function clear(stores) {
  return run(stores, 'readwrite', (tx) => { stores.forEach((s) => tx.objectStore(s).clear()); });
}

export const meta = async (key) => (await get('meta', key))?.value;
export const setMeta = (key, value) => put('meta', { key, value });
export const delMeta = (key) => del('meta', key);

// Everything, as stored (tests and the storage panel use it; ciphertext stays ciphertext).
export async function dump() {
  const out = {};
  for (const s of ['meta', 'houses', 'people', 'orgs', 'outbox', 'drafts', 'photos']) out[s] = await all(s);
  return out;
}
