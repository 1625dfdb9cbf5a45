// The scan screen (loaded only when opened, so the app's first load stays light): the door label's
// QR through the camera, or its short code typed by hand, which always works. A QR is read with the
// browser's BarcodeDetector where it has one and the vendored jsQR otherwise (fetched on first
// use; the service worker keeps it for offline use). Whatever opens the house tells app.js how
// (ctx.openMethod: 'scan' or 'code'), which the visit records.
import { h } from './dom.js';
import * as pkg from './package.js';
import * as doorcode from './doorcode.js';
import { reachable } from './sync.js';
import { t } from './i18n.js';

const JSQR_URL = new URL('../vendor/jsqr-1.4.0/jsQR.js', import.meta.url).href;
const MAX_EDGE = 800;      // frames are scaled down before the JS decoder: enough for a door label
const FRAME_GAP = 150;     // ms between decode attempts: a cheap phone stays responsive

let detector;              // BarcodeDetector, null when missing or without QR support
let jsqr = null;

async function nativeDetector() {
  if (detector !== undefined) return detector;
  detector = null;
  try {
    if ('BarcodeDetector' in window && (await window.BarcodeDetector.getSupportedFormats()).includes('qr_code')) {
      detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    }
  } catch (e) { detector = null; }
  return detector;
}

// jsQR is a UMD bundle: imported for its side effect, it sets self.jsQR.
export async function loadJsQR() {
  jsqr ??= import(JSQR_URL).then(() => self.jsQR);
  return jsqr;
}

const sizeOf = (s) => [s.videoWidth || s.naturalWidth || s.width, s.videoHeight || s.naturalHeight || s.height];

// The text of the QR code in an image, canvas or playing video, or null.
// force: 'js' skips BarcodeDetector (tests use it to check the fallback on any browser).
export async function decode(source, { force } = {}) {
  const native = force === 'js' ? null : await nativeDetector();
  if (native) {
    try {
      const [hit] = await native.detect(source);
      return hit ? hit.rawValue : null;
    } catch (e) { /* this source or platform failed: try the JS decoder */ }
  }
  const [w, h0] = sizeOf(source);
  if (!w || !h0) return null;
  const scale = Math.min(1, MAX_EDGE / Math.max(w, h0));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(h0 * scale);
  const c = canvas.getContext('2d', { willReadFrequently: true });
  c.drawImage(source, 0, 0, canvas.width, canvas.height);
  const pixels = c.getImageData(0, 0, canvas.width, canvas.height);
  const read = await loadJsQR();
  const hit = read(pixels.data, canvas.width, canvas.height, { inversionAttempts: 'attemptBoth' });
  return hit ? hit.data : null;
}

function cameraMessage(error) {
  if (!navigator.mediaDevices?.getUserMedia) return t('camera_missing');
  if (error?.name === 'NotAllowedError' || error?.name === 'SecurityError') return t('camera_denied');
  if (error?.name === 'NotFoundError' || error?.name === 'OverconstrainedError') return t('camera_missing');
  return t('camera_failed');
}

// pick (the informant's tip form): called with {door_token} or {door_code} instead of opening a
// house (informants hold no door list: the server resolves the door); title/button: its wording.
export async function screen(ctx, { pick = null, title = t('scan_title'), button = t('open_house') } = {}) {
  const status = h('p', { id: 'scan-status', role: 'status', class: 'muted' });
  const video = h('video', { id: 'scan-video', class: 'scan-video', playsinline: true, hidden: true });
  video.muted = true;
  let stream = null;
  let timer = null;
  const stop = () => {
    clearTimeout(timer);
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    video.hidden = true;
    startButton.hidden = false;
    stopButton.hidden = true;
  };
  const open = (house, method) => {
    stop();
    ctx.openMethod = method;
    window.location.hash = `#/h/${house.uid}`;
  };

  const found = async (text) => {
    const token = doorcode.tokenFromUrl(text);
    if (pick && (token || doorcode.isValid(text))) {
      stop();
      pick(token ? { door_token: token } : { door_code: doorcode.normalise(text) });
      return true;
    }
    if (!token) {
      if (doorcode.isValid(text)) { // a label carrying the bare short code
        const house = await pkg.houseByCode(doorcode.normalise(text));
        if (house) { open(house, 'scan'); return true; }
      }
      status.textContent = t('qr_not_door');
      return false;
    }
    const house = await pkg.houseByToken(token);
    if (house) { open(house, 'scan'); return true; }
    stop();
    status.textContent = t('qr_unknown_door');
    // Not one of this collector's doors: with signal, the server's public page of that door (where
    // anyone may send a tip), as when a camera app opens the link on a phone without the app.
    if (await reachable()) window.location.assign(`/d/${encodeURIComponent(token)}?public=1`);
    return true;
  };

  const tick = async () => {
    if (!stream) return;
    try {
      if (video.readyState >= 2) {
        const text = await decode(video);
        if (text && (await found(text))) return;
      }
    } catch (e) { console.warn('decode', e); }
    if (stream) timer = setTimeout(tick, FRAME_GAP);
  };

  const start = async () => {
    status.textContent = t('scan_starting');
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error('no camera API');
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (error) {
      stream = null;
      status.textContent = cameraMessage(error);
      input.focus();
      return;
    }
    if (!video.isConnected) { stop(); return; } // the collector left the screen meanwhile
    video.srcObject = stream;
    video.hidden = false;
    startButton.hidden = true;
    stopButton.hidden = false;
    await video.play().catch(() => {});
    status.textContent = t('scan_hint');
    if (!(await nativeDetector())) loadJsQR().catch(() => {});
    tick();
  };

  const startButton = h('button', { type: 'button', class: 'primary', id: 'scan-start', onclick: start }, t('scan_camera'));
  const stopButton = h('button', { type: 'button', id: 'scan-stop', hidden: true, onclick: stop }, t('scan_stop'));
  ctx.stopScan = stop;

  const input = h('input', { id: 'door-code', name: 'door_code', autocomplete: 'off', autocapitalize: 'characters',
    spellcheck: 'false', maxlength: '24', 'aria-describedby': 'door-code-error' });
  const error = h('p', { class: 'error', id: 'door-code-error', 'aria-live': 'assertive' });
  const refuse = (text) => {
    error.textContent = text;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  const form = h('form', { class: 'card', id: 'code-form', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const problem = doorcode.problem(input.value);
    if (problem !== 'ok') { refuse(t(`code_${problem}`)); return; }
    const code = doorcode.normalise(input.value);
    if (pick) { stop(); pick({ door_code: code }); return; }
    const house = await pkg.houseByCode(code);
    if (!house) { refuse(t('code_unknown', { code: doorcode.format(code) })); return; }
    open(house, 'code');
  } },
  h('div', { class: 'field' }, h('label', { for: 'door-code' }, t('code_label')), input, error),
  h('button', { type: 'submit', class: 'primary' }, button));
  input.addEventListener('input', () => { error.textContent = ''; input.removeAttribute('aria-invalid'); });

  return [h('h1', {}, title), h('div', { class: 'card scan' }, video, status, h('p', {}, startButton, stopButton)), form];
}
