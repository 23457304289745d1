// One device: reported state, activity, gaps, its predictions over time, its update history (when served).
import { api, hasRoute } from '../api.js';
import { h, panel, table, badge } from '../dom.js';
import { fmtInt, fmtTime, fmtAgo } from '../format.js';
import { seriesCharts, totalsTable } from './latency.js';

export const title = 'Device';

export async function render(params) {
  const id = params.args[0];
  const d = await api(`dashboard/devices/${encodeURIComponent(id)}?hours=24`);
  const r = d.device;
  const updates = await hasRoute('GET', '/api/v1/devices/{id}/updates') ? await api(`devices/${encodeURIComponent(id)}/updates`) : null;
  return h('div', null,
    h('h1', null, h('a', { href: '#/' }, 'Fleet'), ' / ', r.id, ' ', badge(r.state)),
    h('div', { class: 'grid two' },
      panel('Reported state', h('dl', { class: 'kv', id: 'device-state' },
        h('dt', null, 'Agent version'), h('dd', null, r.agentVersion ?? '–'),
        h('dt', null, 'Active model'), h('dd', null, r.activeModel ?? '–'),
        h('dt', null, 'Health'), h('dd', null, r.health ?? '–'),
        h('dt', null, 'Update state'), h('dd', null, r.updateState ?? '–'),
        h('dt', null, 'Status reported'), h('dd', null, `${fmtTime(r.statusAt)} (${fmtAgo(r.statusAt)})`),
        h('dt', null, 'Last event'), h('dd', null, `${fmtTime(r.lastEventAt)} (${fmtAgo(r.lastEventAt)})`),
        h('dt', null, 'Last received'), h('dd', null, fmtTime(d.lastReceivedAt)),
        h('dt', null, 'Events stored'), h('dd', null, fmtInt(r.events)),
        h('dt', null, 'Registered'), h('dd', null, fmtTime(d.createdAt)),
        d.revokedAt ? [h('dt', null, 'Revoked'), h('dd', null, fmtTime(d.revokedAt))] : null,
        h('dt', null, 'Labels'), h('dd', { class: 'labels' }, Object.entries(r.labels).map(([k, v]) => badge(`${k}=${v}`, 'label'))))),
      panel('Status payload (as received)', d.status ? h('pre', null, JSON.stringify(d.status, null, 2)) : h('div', { class: 'empty' }, 'no status reported yet'))),
    h('h2', null, 'Predictions, last 24 h'),
    seriesCharts(d.predictions),
    panel('By model', totalsTable(d.predictions)),
    h('div', { class: 'grid two' },
      panel('Telemetry gaps (events dropped on the device)', table([
        { title: 'Stream', value: g => g.stream },
        { title: 'Boot', value: g => g.bootId.slice(0, 8) },
        { title: 'Seq range', value: g => `${g.fromSeq}–${g.toSeq}` },
        { title: 'Dropped', value: g => fmtInt(g.count), num: true },
        { title: 'Reason', value: g => g.reason },
        { title: 'Recorded', value: g => fmtTime(g.recordedAt) },
      ], d.gaps, 'no gaps: nothing was dropped')),
      updates === null ? null : panel('Update history', table([
        { title: 'At', value: u => fmtTime(u.at) },
        { title: 'Release', value: u => `${u.family}@${u.version}` },
        { title: 'Transition', value: u => [u.from, ' → ', badge(u.to, u.to)] },
        { title: 'Reason', value: u => [u.reason ?? '', u.code ? ` (${u.code})` : ''] },
      ], updates.slice(0, 20), 'no update reported'))));
}
