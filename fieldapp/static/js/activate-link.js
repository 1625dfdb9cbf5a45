// The activation letter's QR code opens /activate#id=…&code=… (roster/letters.py): the part after
// "#" never reaches the server, so the one-time code is in no access log. Fill the form from it and
// take it out of the address bar and the history at once.
const params = new URLSearchParams(window.location.hash.slice(1));
const fill = (name, value) => {
  const input = document.querySelector(`input[name="${name}"]`);
  if (input && value && !input.value) input.value = value;
};
if (params.has('id') || params.has('code')) {
  fill('collection_id', params.get('id'));
  fill('code', params.get('code'));
  history.replaceState(null, '', window.location.pathname + window.location.search);
  const pin = document.querySelector('input[name="pin"]');
  if (pin && params.get('code')) pin.focus();
}
