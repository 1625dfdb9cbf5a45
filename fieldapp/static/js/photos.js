// Photos: shrunk on the phone (long edge <= 1280 px, JPEG quality stepped down until about
// 200 KB), sealed in IndexedDB, and uploaded after their record has reached the server, in chunks
// that resume where the last attempt stopped (PUT /api/photos/<uid> with Content-Range).
import * as db from './db.js';
import { sealBytes, openBytes } from './crypto.js';
import { t } from './i18n.js';

export const LONG_EDGE = 1280;
export const TARGET_BYTES = 200 * 1024;
const CHUNK = 64 * 1024; // small: a dropped connection loses little

const toBlob = (canvas, quality) => new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));

export async function shrink(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  let scale = Math.min(1, LONG_EDGE / Math.max(bitmap.width, bitmap.height));
  let blob = null;
  for (let round = 0; round < 4; round += 1) {
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    for (const quality of [0.85, 0.75, 0.65, 0.55, 0.45]) {
      blob = await toBlob(canvas, quality);
      if (blob.size <= TARGET_BYTES) break;
    }
    if (blob.size <= TARGET_BYTES) break;
    scale *= 0.75;
  }
  bitmap.close?.();
  return blob;
}

// A form's photo field (<input type=file> with a .photo-note beside it): the chosen file is shrunk
// at once and the note says how it went. Returns a function giving the shrunk photo, or null.
export function field(form) {
  let photo = null;
  const input = form.querySelector('input[type=file]');
  const note = form.querySelector('.photo-note');
  input?.addEventListener('change', async () => {
    const file = input.files[0];
    photo = null;
    if (!file) return;
    note.textContent = t('photo_working');
    try {
      photo = await shrink(file);
      note.textContent = t('photo_ready', { kb: Math.round(photo.size / 1024) });
    } catch (e) {
      note.textContent = t('photo_unreadable');
    }
  });
  return () => photo;
}

// of: 'person:<uid>' | 'house:<uid>' | 'tip:<uid>'; after: the outbox item that must reach the server first.
export async function keep(of, blob, after) {
  const uid = crypto.randomUUID();
  const sealed = await sealBytes(await blob.arrayBuffer(), uid);
  await db.put('photos', { uid, of, after, size: blob.size, state: 'pending', created: Date.now(), sealed });
  return uid;
}

export const pending = () => db.all('photos');

// A rejected record fixed by the collector is a new outbox item: its photos now wait for that one.
export async function follow(oldItemUid, newItemUid) {
  const moved = (await pending()).filter((p) => p.after === oldItemUid).map((p) => ({ ...p, after: newItemUid }));
  if (moved.length) await db.put('photos', moved);
}

async function ready(photo) {
  if (photo.state !== 'pending') return false;
  const item = photo.after && (await db.get('outbox', photo.after));
  return !item || item.state === 'conflict'; // its record exists on the server
}

export async function uploadAll(api) {
  for (const photo of await pending()) {
    if (!(await ready(photo))) continue;
    const bytes = new Uint8Array(await openBytes(photo.sealed, photo.uid));
    let { received } = await api('GET', `/api/photos/${photo.uid}/status`);
    let answer = null;
    while (received < bytes.length) {
      const end = Math.min(received + CHUNK, bytes.length) - 1;
      try {
        answer = await api('PUT', `/api/photos/${photo.uid}`, {
          body: bytes.slice(received, end + 1),
          headers: { 'Content-Range': `bytes ${received}-${end}/${bytes.length}`, 'X-Photo-Of': photo.of,
            'Content-Type': 'application/octet-stream' },
        });
      } catch (error) {
        // Not an image / too large (422), or not this account's to attach (400, 403, 404): retrying cannot help.
        if ([400, 403, 404, 422].includes(error.status)) {
          await db.put('photos', { ...photo, state: 'refused', reason: error.answer?.message || error.answer?.error });
          answer = null;
          break;
        }
        throw error;
      }
      received = answer.received;
    }
    if (answer?.complete || received >= bytes.length) await db.del('photos', photo.uid);
  }
}
