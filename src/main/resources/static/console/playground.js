// The playground: one prompt, up to four kv_cache settings side by side. Each column streams its
// generation from POST /generate ("stream": true), then shows its cache figures and cache map.
import { events, postJson } from './api.js';
import { renderCacheMap } from './cachemap.js';
import { bytes, el, number, percent } from './format.js';

const POLICIES = ['full', 'streaming', 'h2o', 'tova', 'snapkv', 'knorm', 'entropy-merge', 'random'];
const MAX_COLUMNS = 4;

const columns = document.getElementById('columns');

function column({ policy = 'full', budgetKind = 'budget', budget = '', params = '' } = {}) {
  const policySelect = el('select', { class: 'policy', 'aria-label': 'policy' },
    POLICIES.map(p => el('option', { value: p, text: p })));
  policySelect.value = policy;
  const kind = el('select', { class: 'budget-kind', 'aria-label': 'budget kind' },
    el('option', { value: 'budget', text: 'budget' }), el('option', { value: 'budget_ratio', text: 'budget_ratio' }));
  kind.value = budgetKind;
  const budgetInput = el('input', { class: 'budget', type: 'number', min: '0', step: 'any', value: budget,
    placeholder: 'slots', 'aria-label': 'budget' });
  const paramsInput = el('input', { class: 'params', value: params, placeholder: '{"recent": 8, "sinks": 4}',
    'aria-label': 'parameters (JSON)' });
  const remove = el('button', { type: 'button', text: '×', title: 'remove this setting' });
  const node = el('div', { class: 'column' },
    el('div', { class: 'settings' }, policySelect, kind, budgetInput, remove, paramsInput),
    el('div', { class: 'output' }), el('table', { class: 'figures' }), el('div', { class: 'cache-map' }),
    el('div', { class: 'error' }));
  const sync = () => {
    const bounded = policySelect.value !== 'full';
    kind.disabled = !bounded;
    budgetInput.disabled = !bounded;
  };
  policySelect.addEventListener('change', sync);
  remove.addEventListener('click', () => {
    node.remove();
    updateAdd();
  });
  sync();
  return node;
}

function updateAdd() {
  document.getElementById('add-column').disabled = columns.children.length >= MAX_COLUMNS;
}

/** The column's kv_cache object; throws a message for a reader when a field is wrong. */
function kvCache(node) {
  const policy = node.querySelector('.policy').value;
  const text = node.querySelector('.params').value.trim();
  let extra = {};
  if (text) {
    try {
      extra = JSON.parse(text);
    } catch (e) {
      throw new Error(`parameters: not JSON (${e.message})`);
    }
  }
  const kv = { policy, ...extra };
  const budget = node.querySelector('.budget').value;
  if (policy !== 'full' && budget !== '') kv[node.querySelector('.budget-kind').value] = Number(budget);
  return kv;
}

/** Each prompt token's text, for the strip's labels: /tokenize, then /detokenize per token. */
async function promptPieces(prompt) {
  const { tokens } = await postJson('/tokenize', { prompt });
  return Promise.all(tokens.map(async t => (await postJson('/detokenize', { tokens: [t] })).prompt));
}

function figures(table, r) {
  const kv = r.kv_cache;
  const perToken = r.timings.tokens_per_second > 0 ? 1000 / r.timings.tokens_per_second : null;
  const rows = [
    ['stored / seen tokens', `${kv.stored_tokens} / ${kv.seen_tokens}`],
    ['KV bytes (peak)', `${bytes(kv.bytes)} (${bytes(kv.peak_bytes)})`],
    ['full cache would hold', bytes(kv.full_cache_bytes)],
    ['compression ratio', percent(kv.compression_ratio)],
    ['evicted', String(kv.evicted)],
    ['merged', String(kv.merged)],
    ['time to first token', `${number(r.timings.ttft_ms, 1)} ms`],
    ['time per token', perToken === null ? '–' : `${number(perToken, 2)} ms`],
    ['finish', r.finish_reason],
  ];
  table.replaceChildren(...rows.map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { text: v }))));
}

async function runColumn(node, body, piecesPromise) {
  const output = node.querySelector('.output');
  const error = node.querySelector('.error');
  const generated = [];
  node.dataset.state = 'running';
  await events('/generate', { method: 'POST', body }, async (name, data) => {
    if (name === 'token') {
      output.textContent += data.text;
      if (data.token_id !== null) generated.push(data.text);
    } else if (name === 'done') {
      output.textContent = data.text;
      figures(node.querySelector('.figures'), data);
      const pieces = [...await piecesPromise, ...generated];
      renderCacheMap(node.querySelector('.cache-map'), data.cache_map, pieces, data.usage.prompt_tokens);
      node.dataset.state = 'done';
    } else if (name === 'error') {
      error.textContent = data.detail || JSON.stringify(data);
      node.dataset.state = 'failed';
    }
  });
}

async function run() {
  const button = document.getElementById('run');
  const prompt = document.getElementById('prompt').value;
  const common = {
    prompt,
    max_new_tokens: Number(document.getElementById('max-new-tokens').value),
    temperature: Number(document.getElementById('temperature').value),
    seed: 0,
    stream: true,
    return_cache_map: true,
  };
  button.disabled = true;
  const pieces = promptPieces(prompt).catch(() => []);
  const runs = [...columns.children].map(node => {
    node.querySelector('.output').textContent = '';
    node.querySelector('.error').textContent = '';
    node.querySelector('.figures').replaceChildren();
    node.querySelector('.cache-map').replaceChildren();
    let body;
    try {
      body = { ...common, kv_cache: kvCache(node) };
    } catch (e) {
      node.querySelector('.error').textContent = e.message;
      return Promise.resolve();
    }
    return runColumn(node, body, pieces).catch(e => {
      node.querySelector('.error').textContent = e.message;
      node.dataset.state = 'failed';
    });
  });
  await Promise.all(runs);
  button.disabled = false;
}

export function initPlayground() {
  columns.append(column({ policy: 'full' }), column({ policy: 'h2o', budget: '32' }));
  document.getElementById('add-column').addEventListener('click', () => {
    if (columns.children.length < MAX_COLUMNS) columns.append(column({ policy: 'streaming', budget: '32' }));
    updateAdd();
  });
  document.getElementById('run').addEventListener('click', run);
  updateAdd();
}
