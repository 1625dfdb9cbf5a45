// Tap a photo to see it large on the same page (fieldapp/photoview): the link's 640 px photo in the
// page's <dialog id="photo-dialog">, closed by its button, Esc or a tap beside the photo. Without
// this script, or a browser without <dialog>, the link simply opens the photo.
'use strict';
(function () {
  const dialog = document.getElementById('photo-dialog');
  if (!dialog || typeof dialog.showModal !== 'function') return;
  const image = dialog.querySelector('img');
  const full = document.getElementById('photo-full');
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.photo-link');
    if (!link) return;
    event.preventDefault();
    const thumb = link.querySelector('img');
    image.src = link.href;
    image.alt = thumb ? thumb.alt : '';
    if (full) full.href = link.dataset.full || link.href;
    dialog.showModal();
  });
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close(); // the backdrop, not the photo or the buttons
  });
  dialog.addEventListener('close', () => { image.removeAttribute('src'); });
})();
