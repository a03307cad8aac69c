// Interactive charts of an experiment's results (GET /experiments/{id} → results: one row per cell,
// its parameters and figures), one builder per kind. Each builder appends its charts to a container.
import { chart, GRID, LEGEND, title, valueAxis } from './charts.js';
import { percent } from './format.js';

const MIB = 1024 * 1024;

function groupBy(rows, key) {
  const groups = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  return groups;
}

function lines(container, { heading, x, y, log, groups, point }) {
  return chart(container, {
    title: title(heading),
    tooltip: { trigger: 'axis' },
    legend: LEGEND,
    grid: GRID,
    xAxis: valueAxis(x, false, { nameGap: 28 }),
    yAxis: valueAxis(y, log),
    series: [...groups].map(([name, rows]) => ({
      name, type: 'line', showSymbol: true, data: rows.flatMap(point).sort((a, b) => a[0] - b[0]),
    })),
  });
}

const ok = rows => rows.filter(r => r.status === 'succeeded');
const policyName = r => r.kv_cache?.policy ?? r.policy;

function memoryGrowth(container, rows, log) {
  const byPolicy = groupBy(ok(rows), r => r.policy);
  lines(container, { heading: 'KV cache against tokens seen', x: 'tokens seen', y: 'KV cache (MiB)', log,
    groups: byPolicy, point: r => r.samples.map(s => [s.seen_tokens, s.kv_bytes / MIB]) });
  lines(container, { heading: 'device memory against tokens seen', x: 'tokens seen', y: 'device memory (MiB)', log,
    groups: byPolicy, point: r => r.samples.map(s => [s.seen_tokens, s.device_memory_bytes / MIB]) });
}

function oomSweep(container, rows, log) {
  const done = ok(rows);
  chart(container, {
    title: title('longest sequence before running out of memory'),
    tooltip: { trigger: 'axis' },
    legend: LEGEND,
    grid: GRID,
    xAxis: { type: 'category', data: done.map(r => r.policy) },
    yAxis: valueAxis('tokens', log),
    series: [
      { name: 'predicted', type: 'bar', data: done.map(r => r.predicted_max_tokens) },
      { name: 'measured', type: 'bar', data: done.map(r => r.max_tokens_before_oom ?? r.max_sequence_length) },
    ],
  });
}

function perplexity(container, rows, log) {
  const done = ok(rows);
  chart(container, {
    title: title('perplexity (lower is better)'),
    tooltip: { trigger: 'axis', formatter: ps => ps.map(p => `${p.name}: ${p.value.toFixed(3)}`
      + (done[p.dataIndex].ppl_change_vs_full !== undefined
        ? ` (${percent(done[p.dataIndex].ppl_change_vs_full)} vs full)` : '')).join('<br>') },
    grid: GRID,
    xAxis: { type: 'category', data: done.map(r => r.policy) },
    yAxis: valueAxis('perplexity', log),
    series: [{ name: 'perplexity', type: 'bar', data: done.map(r => r.perplexity) }],
  });
}

function throughput(container, rows, log) {
  const done = ok(rows);
  lines(container, { heading: 'decode speed against context', x: 'context (tokens)', y: 'tokens/s per sequence', log,
    groups: groupBy(done, r => `${r.policy} ×${r.concurrency ?? 1}`),
    point: r => [[r.context_length, r.decode_tokens_per_second]] });
  lines(container, { heading: 'aggregate decode speed against concurrency', x: 'concurrent sequences',
    y: 'tokens/s, all sequences', log, groups: groupBy(done, r => `${r.policy} @${r.context_length}`),
    point: r => [[r.concurrency ?? 1, r.aggregate_decode_tokens_per_second]] });
}

function passKey(container, rows) {
  for (const [policy, cells] of groupBy(ok(rows), r => r.policy)) {
    const lengths = [...new Set(cells.map(r => r.context_length))].sort((a, b) => a - b);
    const depths = [...new Set(cells.map(r => r.depth))].sort((a, b) => a - b);
    chart(container, {
      title: title(`pass-key retrieval: ${policy}`),
      tooltip: { formatter: p => `${lengths[p.value[0]]} tokens, depth ${depths[p.value[1]]}: ${percent(p.value[2])}` },
      grid: { ...GRID, bottom: 80 },
      xAxis: { type: 'category', name: 'context (tokens)', nameLocation: 'middle', nameGap: 28, data: lengths },
      yAxis: { type: 'category', name: 'needle depth', nameLocation: 'middle', nameGap: 40, data: depths },
      visualMap: { min: 0, max: 1, calculable: true, orient: 'horizontal', left: 'center', bottom: 0,
        inRange: { color: ['#D55E00', '#F0E442', '#009E73'] } },
      series: [{ name: policy, type: 'heatmap', label: { show: true, formatter: p => percent(p.value[2]) },
        data: cells.map(r => [lengths.indexOf(r.context_length), depths.indexOf(r.depth), r.accuracy]) }],
    });
  }
}

function compressionSweep(container, rows, log) {
  for (const [task, cells] of groupBy(ok(rows), r => r.task)) {
    const perplexityTask = task === 'perplexity';
    lines(container, {
      heading: perplexityTask ? 'perplexity against compression (lower is better)' : 'pass-key accuracy against compression',
      x: 'compression ratio (share of the cache removed)', y: perplexityTask ? 'perplexity' : 'accuracy',
      log: perplexityTask && log, groups: groupBy(cells, policyName),
      point: r => [[r.compression_ratio, r.score]],
    });
  }
}

const BUILDERS = {
  'memory-growth': memoryGrowth,
  'oom-sweep': oomSweep,
  perplexity,
  throughput,
  passkey: passKey,
  'compression-sweep': compressionSweep,
};

/** Draws the charts of {@code experiment} (its kind and results) into {@code container}. */
export function drawResults(container, experiment, log) {
  const builder = BUILDERS[experiment.kind];
  if (builder && ok(experiment.results).length > 0) builder(container, experiment.results, log);
}
