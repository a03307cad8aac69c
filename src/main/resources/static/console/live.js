// The live panel: requests running and queued, the KV bytes running requests hold, and device
// memory, from GET /status every 1.5 s, with the last two minutes of KV bytes as a sparkline.
import { getJson } from './api.js';
import { chart } from './charts.js';
import { bytes } from './format.js';

const PERIOD_MS = 1500;
const POINTS = 80;

export function startLive() {
  const history = [];
  const spark = chart(document.getElementById('live-chart'), {
    grid: { left: 0, right: 0, top: 2, bottom: 2 },
    tooltip: { trigger: 'axis', formatter: p => `KV ${bytes(p[0].value[1])}` },
    xAxis: { type: 'time', show: false },
    yAxis: { type: 'value', show: false, min: 0 },
    series: [{ type: 'line', showSymbol: false, areaStyle: { opacity: 0.2 }, data: history }],
  }, 'sparkline-chart');
  const set = (id, text) => { document.getElementById(id).textContent = text; };
  const tick = async () => {
    try {
      const s = await getJson('/status');
      set('live-running', `${s.requests.running}/${s.requests.max_concurrent}`);
      set('live-waiting', String(s.requests.waiting));
      set('live-kv', `${bytes(s.kv_cache.live_bytes)} (reserved ${bytes(s.kv_cache.reserved_bytes)})`);
      set('live-memory', `${s.memory.device} ${bytes(s.memory.used_bytes)} / ${bytes(s.memory.total_bytes)}`);
      history.push([Date.now(), s.kv_cache.live_bytes]);
      if (history.length > POINTS) history.shift();
      spark.setOption({ series: [{ data: history }] });
    } catch (e) {
      set('live-running', '?');
    }
  };
  tick();
  setInterval(tick, PERIOD_MS);
}
