// Drift per model version and feature: the fleet's distribution vs the reference profile, PSI over time.
import { api } from '../api.js';
import { h, panel, table, badge } from '../dom.js';
import { lineChart, histogramOverlay } from '../charts.js';
import { fmtInt, fmtNum, psiBand } from '../format.js';

export const title = 'Drift';

function seriesTable(list) {
  return table([
    { title: 'Model', value: x => h('a', { href: `#/drift/${encodeURIComponent(x.model)}/${encodeURIComponent(x.version)}` }, `${x.model}@${x.version}`) },
    { title: 'Latest day', value: x => x.latestDay },
    { title: 'Days', value: x => fmtInt(x.days), num: true },
    { title: 'Windows', value: x => fmtInt(x.windows), num: true },
    { title: 'Reference', value: x => x.hasReference ? badge('profile', 'ok') : badge(x.registered ? 'no profile' : 'model not registered', 'warn') },
  ], list, 'no drift windows received yet (agents send them on edgeagent/v1/{id}/drift)');
}

function featurePanel(f, hasReference) {
  const l = f.latest;
  const band = psiBand(l.psi);
  const byDay = f.byDay.map(p => [Date.parse(`${p.day}T12:00:00Z`), p.psi]);
  return h('section', { class: 'panel feature', dataset: { feature: f.feature } },
    h('div', { class: 'feature-head' },
      h('h2', null, f.feature),
      band ? badge(`PSI ${fmtNum(l.psi)} · ${band}`, band === 'drift' ? 'drift' : band === 'moderate' ? 'warn' : 'ok') : badge(hasReference ? 'not in reference' : 'no reference', 'warn'),
      l.ksDrift === null ? null : badge(`KS ${fmtNum(l.ks)}${l.ksDrift ? ' rejects' : ''}`, l.ksDrift ? 'drift' : 'ok'),
      l.wasserstein1Normalized === null ? null : h('span', { class: 'subtle' }, `W1/σ ${fmtNum(l.wasserstein1Normalized)}`),
      h('span', { class: 'subtle' }, `${fmtInt(l.count)} samples from ${l.devices} device(s), median ${fmtNum(l.median)}`)),
    h('div', { class: 'grid two' },
      h('div', null, h('div', { class: 'subtle' }, 'Distribution, latest day'),
        histogramOverlay({ edges: f.histogram.edges, current: f.histogram.current, reference: f.histogram.reference, title: `${f.feature} distribution` })),
      h('div', null, h('div', { class: 'subtle' }, 'PSI by day'),
        lineChart({
          title: `${f.feature} PSI by day`, yMin: 0, xTicksAtPoints: true, yFormat: v => fmtNum(v, 2),
          thresholds: [{ y: 0.1, label: '0.1 moderate', cls: 'threshold-warn' }, { y: 0.25, label: '0.25 drift', cls: 'threshold' }],
          series: [{ name: 'PSI vs reference', cls: 'c4', points: byDay }],
        }))));
}

export async function render(params, ctx) {
  const list = await api('dashboard/drift');
  let [model, version] = params.args;
  if (!model && list.length > 0) ({ model, version } = list[0]);
  const top = [h('h1', null, 'Drift'), panel('Model versions with drift data', seriesTable(list))];
  if (!model) return h('div', null, ...top);
  const d = await api(`dashboard/drift/${encodeURIComponent(model)}/${encodeURIComponent(version)}?days=14`);
  return h('div', null, ...top,
    h('div', { class: 'toolbar' },
      h('label', null, 'Model ', h('select', { id: 'drift-model', onchange: e => ctx.navigate(`#/drift/${e.target.value}`) },
        list.map(x => h('option', { value: `${encodeURIComponent(x.model)}/${encodeURIComponent(x.version)}`, selected: x.model === model && x.version === version }, `${x.model}@${x.version}`)))),
      h('span', { class: 'subtle' }, d.latestDay ? `latest day ${d.latestDay}; PSI < 0.1 stable, 0.1–0.25 moderate, > 0.25 drift` : 'no drift windows for this version')),
    d.features.length === 0 ? h('div', { class: 'empty' }, 'no features') : d.features.map(f => featurePanel(f, d.hasReference)));
}
