// The cache map of a /generate response ("return_cache_map": true) drawn as a token strip: each
// token shaded by the share of layers × KV heads whose cache still holds it, evicted tokens struck
// through, tokens whose slot stands for merged tokens outlined; a per-layer view on demand.
import { chart, disposeWithin, GRID, title } from './charts.js';
import { el, percent } from './format.js';

/**
 * Per layer, per position: how many of the layer's KV heads keep it, and how many tokens its slots
 * stand for when merged ({@code cache_map}: kept = [first, length] runs, merged = position → count).
 */
export function coverage(map) {
  const seen = map.seen_tokens;
  return map.layers.map(heads => {
    const kept = new Array(seen).fill(0);
    const merged = new Array(seen).fill(0);
    for (const head of heads) {
      for (const [first, length] of head.kept) {
        for (let p = first; p < first + length && p < seen; p++) kept[p]++;
      }
      for (const [position, count] of Object.entries(head.merged || {})) {
        merged[Number(position)] = Math.max(merged[Number(position)], count);
      }
    }
    return { heads: heads.length, kept, merged };
  });
}

/** The share of heads (of one layer, or of all) that keep each position, and the largest merge count. */
export function shares(layers, layer = 'all') {
  const chosen = layer === 'all' ? layers : [layers[layer]];
  const heads = chosen.reduce((n, l) => n + l.heads, 0);
  const seen = layers[0]?.kept.length ?? 0;
  const out = [];
  for (let p = 0; p < seen; p++) {
    const kept = chosen.reduce((n, l) => n + l.kept[p], 0);
    const merged = chosen.reduce((n, l) => Math.max(n, l.merged[p]), 0);
    out.push({ share: heads === 0 ? 0 : kept / heads, merged });
  }
  return out;
}

function label(pieces, p) {
  const piece = pieces[p];
  if (piece === undefined) return '·';
  if (piece === '') return p === 0 ? '<s>' : '·';
  return piece.replace(/\n/g, '⏎');
}

/**
 * The strip for one column: {@code pieces} labels positions (prompt pieces, then generated ones);
 * positions from {@code promptTokens} on are generated.
 */
export function renderCacheMap(container, map, pieces, promptTokens) {
  disposeWithin(container);
  container.replaceChildren();
  const layers = coverage(map);
  const select = el('select', { class: 'layer-select', 'aria-label': 'layer' },
    el('option', { value: 'all', text: `all ${layers.length} layers` }),
    layers.map((_, i) => el('option', { value: String(i), text: `layer ${i}` })));
  const strip = el('div', { class: 'strip' });
  const byLayer = el('div', { class: 'by-layer', hidden: '' });
  const toggle = el('button', { type: 'button', text: 'per layer', class: 'layers-toggle' });
  const draw = () => drawStrip(strip, shares(layers, select.value), pieces, promptTokens);
  select.addEventListener('change', draw);
  toggle.addEventListener('click', () => {
    byLayer.hidden = !byLayer.hidden;
    if (!byLayer.hidden && !byLayer.firstChild) drawLayers(byLayer, layers);
  });
  container.append(
    el('div', { class: 'legend' }, 'cache map: shade = share of layers × heads that kept the token; ',
      el('span', { class: 'tok evicted', text: 'evicted' }), ' ', el('span', { class: 'tok merged', text: 'merged' }),
      ' ', select, ' ', toggle),
    strip, byLayer);
  draw();
}

function drawStrip(strip, tokenShares, pieces, promptTokens) {
  strip.replaceChildren(...tokenShares.map(({ share, merged }, p) => {
    const classes = ['tok'];
    if (share === 0) classes.push('evicted');
    else if (share > 0.55) classes.push('dark');
    if (merged > 1) classes.push('merged');
    if (p >= promptTokens) classes.push('generated');
    const tip = `position ${p}: kept by ${percent(share)} of heads` + (merged > 1 ? `, a slot merges ${merged} tokens` : '');
    const node = el('span', { class: classes.join(' '), title: tip, text: label(pieces, p),
      dataset: { position: String(p), share: share.toFixed(3) } });
    node.style.setProperty('--share', String(0.12 + 0.88 * share));
    return node;
  }));
}

/** Layers × positions as a heatmap: the share of each layer's heads that kept each token. */
function drawLayers(container, layers) {
  const data = [];
  layers.forEach((l, i) => l.kept.forEach((k, p) => data.push([p, i, l.heads ? k / l.heads : 0])));
  chart(container, {
    title: title('kept per layer (share of KV heads)'),
    tooltip: { formatter: x => `layer ${x.value[1]}, position ${x.value[0]}: ${percent(x.value[2])}` },
    grid: { ...GRID, left: 40, bottom: 40, top: 30 },
    xAxis: { type: 'category', data: layers[0].kept.map((_, p) => p), name: 'position', nameLocation: 'middle',
      nameGap: 24 },
    yAxis: { type: 'category', data: layers.map((_, i) => `L${i}`) },
    visualMap: { min: 0, max: 1, show: false, inRange: { color: ['#ffffff', '#0072B2'] } },
    series: [{ type: 'heatmap', data }],
  }, 'layers-chart');
}
