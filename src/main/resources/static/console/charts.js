// Every chart of the console is an ECharts instance made here: SVG renderer, the colour-blind-safe
// palette, hover tooltips and legend toggles. ECharts comes from its WebJar as globalThis.echarts.
import { PALETTE, el } from './format.js';

const echarts = globalThis.echarts;
const observers = new Map();

/** Draws {@code option} in a new div appended to {@code parent}; returns the ECharts instance. */
export function chart(parent, option, className = 'chart') {
  const node = el('div', { class: className });
  parent.append(node);
  const instance = echarts.init(node, null, { renderer: 'svg' });
  instance.setOption({
    color: PALETTE,
    backgroundColor: '#fff',
    animation: false,
    textStyle: { fontFamily: 'system-ui, sans-serif' },
    ...option,
  });
  // follows its box: grid reflows, a tab shown after the chart was drawn in it while hidden
  const observer = new ResizeObserver(() => requestAnimationFrame(() => instance.isDisposed() || instance.resize()));
  observer.observe(node);
  observers.set(instance, observer);
  return instance;
}

/** Disposes the charts inside {@code parent} before it is emptied. */
export function disposeWithin(parent) {
  for (const node of parent.querySelectorAll('div')) {
    const instance = echarts.getInstanceByDom(node);
    if (instance) {
      observers.get(instance)?.disconnect();
      observers.delete(instance);
      instance.dispose();
    }
  }
}

/** A value axis, logarithmic when asked (where the figures span orders of magnitude). */
export function valueAxis(name, log = false, extra = {}) {
  return { type: log ? 'log' : 'value', name, nameLocation: 'middle', nameGap: 56, scale: !log, ...extra };
}

export function title(text) {
  return { text, left: 'center', textStyle: { fontSize: 13, fontWeight: 600 } };
}

export const LEGEND = { type: 'scroll', bottom: 0 };
export const GRID = { left: 80, right: 24, top: 40, bottom: 64 };
