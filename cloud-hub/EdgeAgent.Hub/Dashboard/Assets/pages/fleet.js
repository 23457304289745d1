// Fleet overview: device states, versions, models, health, ingest counters, the device table.
import { api } from '../api.js';
import { h, panel, table, badge, card } from '../dom.js';
import { barChart } from '../charts.js';
import { fmtInt, fmtPct, fmtUs, fmtAgo } from '../format.js';

export const title = 'Fleet';

export async function render() {
  const o = await api('dashboard/overview');
  const d = o.devices;
  const events = o.ingest.eventsByStream.reduce((a, k) => a + k.count, 0);
  const fallback = o.lastHour.fallbackRate;
  return h('div', null,
    h('h1', null, 'Fleet overview'),
    h('div', { class: 'grid cards' },
      card('Devices', fmtInt(d.registered)),
      card('Online', fmtInt(d.online), d.online > 0 ? 'ok' : ''),
      card('Offline', fmtInt(d.offline), d.offline > 0 ? 'bad' : ''),
      card('Never reported', fmtInt(d.unknown)),
      card('Revoked', fmtInt(d.revoked)),
      card('Predictions (1 h)', fmtInt(o.lastHour.count)),
      card('Fallback rate (1 h)', fmtPct(fallback), fallback > 0.2 ? 'bad' : fallback > 0.05 ? 'warn' : ''),
      card('Inference p95 (1 h)', fmtUs(o.lastHour.inferenceP95Us))),
    h('div', { class: 'grid two' },
      panel('Agent versions', barChart({ bars: o.agentVersions.map(k => ({ label: k.key ?? 'not reported', value: k.count })), title: 'devices by agent version' })),
      panel('Active models', barChart({ bars: o.activeModels.map(k => ({ label: k.key ?? 'none', value: k.count, cls: 'c3' })), title: 'devices by active model' }))),
    h('div', { class: 'grid two' },
      panel('Health', barChart({ bars: o.health.map(k => ({ label: k.key ?? 'not reported', value: k.count, cls: 'c4' })), title: 'devices by reported health' })),
      panel('Ingest',
        h('dl', { class: 'kv' },
          h('dt', null, 'Events stored'), h('dd', null, `${fmtInt(events)} (${o.ingest.eventsByStream.map(k => `${k.key} ${fmtInt(k.count)}`).join(', ') || 'none'})`),
          h('dt', null, 'Duplicates dropped'), h('dd', null, `${fmtInt(o.ingest.duplicatesDropped)} (this hub process)`),
          h('dt', null, 'Rejected messages'), h('dd', null, fmtInt(o.ingest.rejectedMessages)),
          h('dt', null, 'Known gaps'), h('dd', null, `${fmtInt(o.ingest.gaps)} (${fmtInt(o.ingest.gapEvents)} events dropped on devices)`),
          h('dt', null, 'Cloud tier'), h('dd', null, `${fmtInt(o.ingest.cloudAnswered)} answered, ${fmtInt(o.ingest.cloudFailed)} errors`)))),
    panel(`Devices (${o.deviceList.length})`, table([
      { title: 'Device', value: r => h('a', { href: `#/devices/${encodeURIComponent(r.id)}` }, r.id) },
      { title: 'State', value: r => badge(r.state) },
      { title: 'Agent', value: r => r.agentVersion ?? '–' },
      { title: 'Active model', value: r => r.activeModel ?? '–' },
      { title: 'Health', value: r => r.health ?? '–' },
      { title: 'Update', value: r => r.updateState ?? '–' },
      { title: 'Status', value: r => fmtAgo(r.statusAt) },
      { title: 'Last event', value: r => fmtAgo(r.lastEventAt) },
      { title: 'Events', value: r => fmtInt(r.events), num: true },
      { title: 'Labels', value: r => h('span', { class: 'labels' }, Object.entries(r.labels).map(([k, v]) => badge(`${k}=${v}`, 'label'))) },
    ], o.deviceList, 'no devices registered yet: provision one with "edgehub devices add"')));
}
