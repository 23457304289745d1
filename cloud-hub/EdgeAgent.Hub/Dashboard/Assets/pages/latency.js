// Latency and fallback rate over time (prediction telemetry), fleet-wide or for one device.
import { api } from '../api.js';
import { h, panel, table } from '../dom.js';
import { lineChart } from '../charts.js';
import { fmtInt, fmtPct, fmtUs } from '../format.js';

export const title = 'Latency & fallback';
const RANGES = [1, 6, 24, 72, 168];

/** Charts of one prediction series (shared with the device page). */
export function seriesCharts(p) {
  const t = pt => new Date(pt.t).getTime();
  return [
    h('div', { class: 'grid two' },
      panel('Predictions per bucket', lineChart({
        title: 'predictions by decider', yFormat: v => fmtInt(v), series: [
          { name: 'local', cls: 'c3', points: p.points.map(pt => [t(pt), pt.local]) },
          { name: 'cloud', cls: 'c1', points: p.points.map(pt => [t(pt), pt.cloud]) },
          { name: 'fallback', cls: 'c2', points: p.points.map(pt => [t(pt), pt.fallback]) }],
      })),
      panel('Fallback rate', lineChart({
        title: 'fallback rate', yFormat: v => `${Math.round(v * 100)}%`, yMin: 0,
        thresholds: [{ y: 0.2, label: 'rollout limit 20 %', cls: 'threshold' }],
        series: [{ name: 'fallback / predictions', cls: 'c2', points: p.points.map(pt => [t(pt), pt.fallbackRate]) }],
      }))),
    h('div', { class: 'grid two' },
      panel('On-device inference time', lineChart({
        title: 'inference time', yFormat: fmtUs, yMin: 0, series: [
          { name: 'p50', cls: 'c1', points: p.points.map(pt => [t(pt), pt.inferenceP50Us]) },
          { name: 'p95', cls: 'c4', points: p.points.map(pt => [t(pt), pt.inferenceP95Us]) }],
      })),
      panel('Decision latency (window complete → answer)', lineChart({
        title: 'decision latency', yFormat: fmtUs, yMin: 0, series: [
          { name: 'p50', cls: 'c1', points: p.points.map(pt => [t(pt), pt.latencyP50Us]) },
          { name: 'p95', cls: 'c4', points: p.points.map(pt => [t(pt), pt.latencyP95Us]) }],
      }))),
  ];
}

export function totalsTable(p) {
  const row = (name, x) => ({ name, ...x });
  return table([
    { title: 'Model', value: r => r.name },
    { title: 'Predictions', value: r => fmtInt(r.count), num: true },
    { title: 'Local', value: r => fmtInt(r.local), num: true },
    { title: 'Cloud', value: r => fmtInt(r.cloud), num: true },
    { title: 'Fallback', value: r => fmtInt(r.fallback), num: true },
    { title: 'Fallback rate', value: r => fmtPct(r.fallbackRate), num: true },
    { title: 'Inference p50 / p95', value: r => `${fmtUs(r.inferenceP50Us)} / ${fmtUs(r.inferenceP95Us)}`, num: true },
    { title: 'Latency p50 / p95', value: r => `${fmtUs(r.latencyP50Us)} / ${fmtUs(r.latencyP95Us)}`, num: true },
  ], [...p.byModel.map(m => row(m.model, m.totals)), ...(p.byModel.length > 1 ? [row('all models', p.totals)] : [])], 'no prediction telemetry in this range');
}

export async function render(params, ctx) {
  const hours = RANGES.includes(Number(params.query.hours)) ? Number(params.query.hours) : 24;
  const device = params.query.device || '';
  const q = `hours=${hours}${device ? `&device=${encodeURIComponent(device)}` : ''}`;
  const [p, overview] = await Promise.all([api(`dashboard/predictions?${q}`), api('dashboard/overview')]);
  const go = (hrs, dev) => ctx.navigate(`#/latency?hours=${hrs}${dev ? `&device=${encodeURIComponent(dev)}` : ''}`);
  return h('div', null,
    h('h1', null, 'Latency & fallback rate'),
    h('div', { class: 'toolbar' },
      h('label', null, 'Range ', h('select', { id: 'range', onchange: e => go(e.target.value, device) },
        RANGES.map(r => h('option', { value: r, selected: r === hours }, r < 24 ? `${r} h` : `${r / 24} d`)))),
      h('label', null, 'Device ', h('select', { id: 'device', onchange: e => go(hours, e.target.value) },
        h('option', { value: '' }, 'whole fleet'),
        overview.deviceList.map(d => h('option', { value: d.id, selected: d.id === device }, d.id)))),
      h('span', { class: 'subtle' }, `${fmtInt(p.samples)} predictions, ${p.bucketSeconds / 60}-minute buckets${p.truncated ? ' (oldest left out: too many to chart)' : ''}`)),
    seriesCharts(p),
    panel('By model', totalsTable(p)));
}
