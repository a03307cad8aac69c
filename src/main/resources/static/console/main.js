// The console's entry: tabs, the API key prompt, then the playground, the experiments and the live
// panel. Nothing is fetched but /model until the server accepts the request (with the key, if it needs one).
import { ApiError, apiKey, getJson, setApiKey } from './api.js';
import { initExperiments, refreshList } from './experiments.js';
import { startLive } from './live.js';
import { initPlayground } from './playground.js';

const dialog = document.getElementById('key-dialog');

function tabs() {
  for (const button of document.querySelectorAll('.tab')) {
    button.addEventListener('click', () => {
      for (const b of document.querySelectorAll('.tab')) {
        b.classList.toggle('active', b === button);
        document.getElementById(b.dataset.tab).hidden = b !== button;
      }
      if (button.dataset.tab === 'experiments') refreshList();
    });
  }
}

function askForKey(invalid) {
  dialog.hidden = false;
  document.getElementById('key-error').textContent = invalid ? 'The server did not accept that key.' : '';
  document.getElementById('key-input').focus();
}

async function connect() {
  let model;
  try {
    model = await getJson('/model');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      askForKey(apiKey() !== null);
      return;
    }
    throw e;
  }
  dialog.hidden = true;
  document.getElementById('model-info').textContent =
    `${model.model} · ${model.architecture} · ${model.layers} layers · ${model.dtype} on ${model.device}`;
  document.body.dataset.connected = 'yes';
  startLive();
  refreshList();
}

dialog.addEventListener('submit', event => {
  event.preventDefault();
  setApiKey(document.getElementById('key-input').value.trim());
  connect();
});

tabs();
initPlayground();
initExperiments();
connect();
