// Experiments: the list (GET /experiments), a form per kind (POST /experiments), live progress over
// GET /experiments/{id}/events, and the results as charts and a table, with the CSV and report links.
import { apiKey, events, getJson, openWithKey, postJson } from './api.js';
import { disposeWithin } from './charts.js';
import { drawResults } from './experiment-charts.js';
import { el, number } from './format.js';
import { fieldInputs, KINDS, readFields } from './kinds.js';

const list = document.querySelector('#experiment-list tbody');
const form = document.getElementById('experiment-form');
const kindSelect = document.getElementById('experiment-kind');
const view = document.getElementById('experiment-view');
let shownId = null;
let stream = null;

function progressCell(p) {
  return el('td', {}, el('progress', { max: String(p.total), value: String(p.done) }), ` ${p.done}/${p.total}`);
}

export async function refreshList() {
  const page = await getJson('/experiments?page=0&size=20');
  list.replaceChildren(...page.items.map(x => el('tr', {
    dataset: { id: x.id }, class: x.id === shownId ? 'selected' : null, onclick: () => show(x.id).catch(failed),
  },
  el('td', { text: new Date(x.created_at).toLocaleString() }), el('td', { text: x.kind }),
  el('td', { text: x.name ?? '' }), el('td', { class: `status status-${x.status}`, text: x.status }),
  progressCell(x.progress))));
}

function dataLink(id, file, text) {
  const path = `/experiments/${id}/${file}`;
  return el('a', { href: path, target: '_blank', text, onclick: e => {
    if (apiKey()) {
      e.preventDefault();
      openWithKey(path);
    }
  } });
}

function header(x) {
  const p = x.progress;
  const eta = p.eta_seconds === null || p.eta_seconds === undefined || x.status !== 'running' ? ''
    : `, about ${Math.ceil(p.eta_seconds)} s left`;
  return el('div', { class: 'experiment-header' },
    el('h2', {}, `${x.kind}${x.name ? ` · ${x.name}` : ''} `,
      el('span', { class: `status status-${x.status}`, text: x.status })),
    el('div', {}, el('progress', { max: String(p.total), value: String(p.done) }),
      ` ${p.done} of ${p.total} cells${p.failed ? `, ${p.failed} failed` : ''}${eta} · `,
      dataLink(x.id, 'results.csv', 'results.csv'), ' · ', dataLink(x.id, 'report', 'report')));
}

/** The rows' scalar figures as a table (lists and objects stay in the JSON and the CSV). */
function table(rows) {
  const keys = [];
  for (const r of rows) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v !== 'object' && !keys.includes(k) && k !== 'ran_by') keys.push(k);
    }
  }
  return el('table', { class: 'results' },
    el('thead', {}, el('tr', {}, keys.map(k => el('th', { text: k })))),
    el('tbody', {}, rows.map(r => el('tr', {}, keys.map(k => el('td', {
      text: typeof r[k] === 'number' ? number(r[k], 3) : String(r[k] ?? ''),
    }))))));
}

function render(x) {
  disposeWithin(view);
  const log = el('input', { type: 'checkbox', class: 'log-scale' });
  const charts = el('div', { class: 'charts', dataset: { kind: x.kind } });
  log.addEventListener('change', () => {
    disposeWithin(charts);
    charts.replaceChildren();
    drawResults(charts, x, log.checked);
  });
  view.dataset.id = x.id;
  view.dataset.status = x.status;
  view.replaceChildren(header(x), el('label', {}, log, ' log scale'), charts, table(x.results));
  drawResults(charts, x, false);
}

/** Shows one experiment, following its progress until it finishes. */
export async function show(id) {
  shownId = id;
  stream?.abort();
  for (const tr of list.children) tr.classList.toggle('selected', tr.dataset.id === id);
  const x = await getJson(`/experiments/${id}`);
  render(x);
  if (['succeeded', 'failed', 'cancelled'].includes(x.status)) return;
  const controller = new AbortController();
  stream = controller;
  try {
    await events(`/experiments/${id}/events`, { signal: controller.signal }, async (name, data) => {
      if (shownId !== id) return;
      if (name === 'progress') {
        const current = { ...x, status: data.status, progress: data };
        view.querySelector('.experiment-header').replaceWith(header(current));
        refreshList();
      } else if (name === 'done') {
        render(data);
        refreshList();
      }
    });
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
  }
}

function failed(e) {
  document.getElementById('experiment-error').textContent = e.message;
}

function showFields() {
  document.getElementById('experiment-fields').replaceChildren(...fieldInputs(kindSelect.value, el));
}

async function submit(event) {
  event.preventDefault();
  const error = document.getElementById('experiment-error');
  error.textContent = '';
  try {
    let policies;
    try {
      policies = JSON.parse(document.getElementById('experiment-policies').value);
    } catch (e) {
      throw new Error(`policies: not JSON (${e.message})`);
    }
    const body = { kind: kindSelect.value, policies, ...readFields(kindSelect.value, form) };
    const name = document.getElementById('experiment-name').value.trim();
    if (name) body.name = name;
    const created = await postJson('/experiments', body);
    await refreshList();
    show(created.id).catch(failed);
  } catch (e) {
    error.textContent = e.message;
  }
}

export function initExperiments() {
  kindSelect.replaceChildren(...Object.keys(KINDS).map(k => el('option', { value: k, text: k })));
  kindSelect.addEventListener('change', showFields);
  form.addEventListener('submit', submit);
  document.getElementById('refresh-experiments').addEventListener('click', refreshList);
  showFields();
}
