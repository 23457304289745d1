// Small SVG charts drawn in the browser: time-series lines, reference-vs-current histograms, horizontal bars.
// Each returns a <figure> holding an <svg class="chart"> (viewBox-scaled to its container) and a legend.
import { h, s } from './dom.js';

const W = 720;

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(st => st >= raw) || 10 * mag;
  const ticks = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  if (ticks[ticks.length - 1] < hi) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
  return ticks;
}

function timeLabel(ms, rangeMs) {
  const d = new Date(ms);
  const p = n => String(n).padStart(2, '0');
  return rangeMs > 2 * 86400e3 ? `${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}` : `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

function legend(items) {
  return h('div', { class: 'legend' }, items.map(i => h('span', null, h('span', { class: `swatch ${i.cls}` }), i.name)));
}

/**
 * Line chart over time.
 * opts: {series: [{name, cls, points: [[timeMs, y|null], ...]}], yFormat, height, yMin, yMax,
 *        thresholds: [{y, label, cls}], xTicksAtPoints: label each x value (daily series)}
 */
export function lineChart(opts) {
  const H = opts.height || 220, L = 62, R = 16, T = 12, B = 26;
  const all = opts.series.flatMap(se => se.points);
  const xs = all.map(p => p[0]);
  const ys = all.map(p => p[1]).filter(y => y !== null && y !== undefined && Number.isFinite(y));
  (opts.thresholds || []).forEach(t => ys.push(t.y));
  const fmt = opts.yFormat || (v => String(v));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.title || 'line chart' });
  if (xs.length === 0) {
    svg.appendChild(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no data in this range'));
    return h('figure', { class: 'figure' }, svg);
  }
  const x0 = Math.min(...xs), x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  let y0 = opts.yMin ?? (ys.length ? Math.min(0, ...ys) : 0);
  let y1 = opts.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (!(y1 > y0)) y1 = y0 + 1;
  const ticks = niceTicks(y0, y1, 4);
  y0 = Math.min(y0, ticks[0]); y1 = Math.max(y1, ticks[ticks.length - 1]);
  const X = v => L + (v - x0) / (x1 - x0) * (W - L - R);
  const Y = v => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  for (const t of ticks) {
    svg.appendChild(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: Y(t), y2: Y(t) }));
    svg.appendChild(s('text', { x: L - 6, y: Y(t) + 4, 'text-anchor': 'end' }, fmt(t)));
  }
  svg.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  // Daily series label their own points (a tick between two days would repeat a date); others get 7 even ticks.
  const xticks = opts.xTicksAtPoints ? [...new Set(xs)].sort((a, b) => a - b) : [0, 1, 2, 3, 4, 5, 6].map(i => x0 + (x1 - x0) * i / 6);
  const rangeMs = opts.xTicksAtPoints ? 3 * 86400e3 : x1 - x0;
  xticks.forEach((v, i) => svg.appendChild(s('text', {
    x: X(v), y: H - 8, 'text-anchor': xticks.length === 1 ? 'middle' : i === 0 ? 'start' : i === xticks.length - 1 ? 'end' : 'middle',
  }, timeLabel(v, rangeMs))));
  for (const t of opts.thresholds || []) {
    svg.appendChild(s('line', { class: t.cls || 'threshold', x1: L, x2: W - R, y1: Y(t.y), y2: Y(t.y) }));
    svg.appendChild(s('text', { x: W - R - 2, y: Y(t.y) - 3, 'text-anchor': 'end' }, t.label));
  }
  for (const se of opts.series) {
    // Missing values break the line: a gap in telemetry must look like a gap.
    let d = '', pen = false;
    for (const [x, y] of se.points) {
      if (y === null || y === undefined || !Number.isFinite(y)) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`;
      pen = true;
    }
    if (d) svg.appendChild(s('path', { class: `series ${se.cls}`, d }));
    const defined = se.points.filter(p => p[1] !== null && p[1] !== undefined && Number.isFinite(p[1]));
    for (const [x, y] of defined) {
      const dot = s('circle', { class: `dot ${se.cls}`, cx: X(x).toFixed(1), cy: Y(y).toFixed(1), r: defined.length <= 40 ? 3 : 1.5 });
      dot.appendChild(s('title', null, `${se.name}: ${fmt(y)} at ${new Date(x).toISOString().slice(0, 16).replace('T', ' ')} UTC`));
      svg.appendChild(dot);
    }
  }
  return h('figure', { class: 'figure' }, svg, legend(opts.series));
}

/**
 * Reference vs current distribution over the same bins.
 * opts: {edges: [n+1], current: [n], reference: [n]|null, xFormat}
 */
export function histogramOverlay(opts) {
  const H = opts.height || 200, L = 46, R = 12, T = 10, B = 26;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.title || 'histogram' });
  const n = opts.current.length;
  if (n === 0) {
    svg.appendChild(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no samples'));
    return h('figure', { class: 'figure' }, svg);
  }
  const fmt = opts.xFormat || (v => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)));
  const max = Math.max(...opts.current, ...(opts.reference || [0]), 1e-9);
  const ticks = niceTicks(0, max, 3);
  const top = ticks[ticks.length - 1];
  const bw = (W - L - R) / n;
  const Y = v => T + (1 - v / top) * (H - T - B);
  for (const t of ticks) {
    svg.appendChild(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: Y(t), y2: Y(t) }));
    svg.appendChild(s('text', { x: L - 6, y: Y(t) + 4, 'text-anchor': 'end' }, `${Math.round(t * 100)}%`));
  }
  const bars = (values, cls, name) => values.forEach((v, i) => {
    const r = s('rect', { class: cls, x: (L + i * bw + 1).toFixed(1), width: Math.max(bw - 2, 1).toFixed(1), y: Y(v).toFixed(1), height: (Y(0) - Y(v)).toFixed(1) });
    r.appendChild(s('title', null, `${name} ${fmt(opts.edges[i])} … ${fmt(opts.edges[i + 1])}: ${(v * 100).toFixed(1)} %`));
    svg.appendChild(r);
  });
  if (opts.reference) bars(opts.reference, 'bar-ref', 'reference');
  bars(opts.current, 'bar-cur', 'current');
  svg.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: Y(0), y2: Y(0) }));
  const step = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i <= n; i += step)
    svg.appendChild(s('text', { x: L + i * bw, y: H - 8, 'text-anchor': i === 0 ? 'start' : 'middle' }, fmt(opts.edges[i])));
  const items = [{ name: 'current (fleet, latest day)', cls: 'cur' }];
  if (opts.reference) items.unshift({ name: 'reference (training)', cls: 'ref' });
  return h('figure', { class: 'figure' }, svg, legend(items));
}

/** Horizontal bars: opts {bars: [{label, value}], format}. */
export function barChart(opts) {
  const rowH = 24, L = 170, R = 60, T = 4;
  const bars = opts.bars;
  const H = Math.max(rowH * bars.length + T * 2, 40);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.title || 'bar chart' });
  if (bars.length === 0) {
    svg.appendChild(s('text', { x: W / 2, y: H / 2 + 4, 'text-anchor': 'middle' }, 'nothing reported yet'));
    return h('figure', { class: 'figure' }, svg);
  }
  const max = Math.max(...bars.map(b => b.value), 1);
  const fmt = opts.format || (v => String(v));
  bars.forEach((b, i) => {
    const y = T + i * rowH;
    const label = b.label.length > 26 ? b.label.slice(0, 25) + '…' : b.label;
    svg.appendChild(s('text', { x: L - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, label));
    const w = Math.max((W - L - R) * b.value / max, 1);
    const r = s('rect', { class: `bar ${b.cls || ''}`, x: L, y: y + 4, width: w.toFixed(1), height: rowH - 8, rx: 3 });
    r.appendChild(s('title', null, `${b.label}: ${fmt(b.value)}`));
    svg.appendChild(r);
    svg.appendChild(s('text', { x: L + w + 6, y: y + rowH / 2 + 4 }, fmt(b.value)));
  });
  return h('figure', { class: 'figure' }, svg);
}
