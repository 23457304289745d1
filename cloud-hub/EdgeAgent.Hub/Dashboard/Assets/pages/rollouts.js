// Rollouts: progress per step, device states, health vs thresholds, and operator controls.
import { api, hasRoute } from '../api.js';
import { h, panel, table, badge } from '../dom.js';
import { fmtInt, fmtPct, fmtNum, fmtTime, fmtAgo } from '../format.js';

export const title = 'Rollouts';

const ACTIONS = [
  { verb: 'pause', label: 'Pause', when: s => s === 'running', cls: 'secondary' },
  { verb: 'resume', label: 'Resume', when: s => s === 'paused', cls: 'secondary' },
  { verb: 'promote', label: 'Promote step', when: s => s === 'running' || s === 'paused', cls: '' },
  { verb: 'abort', label: 'Abort', when: s => s === 'running' || s === 'paused' || s === 'halted', cls: 'danger', confirm: true },
];

const isActive = s => s === 'running' || s === 'paused' || s === 'halted';

/** Width class of a progress bar (CSP: no inline styles), in 5 % steps. */
const pctClass = f => `pct-${Math.round(Math.max(0, Math.min(1, f || 0)) * 20) * 5}`;

function progressBar(fraction, title) {
  return h('div', { class: 'progress', title }, h('span', { class: pctClass(fraction) }));
}

function controls(r, ctx) {
  if (!ctx.session.canOperate) return h('span', { class: 'subtle' }, 'read-only token: controls hidden');
  const buttons = ACTIONS.filter(a => a.when(r.state)).map(a => h('button', {
    type: 'button', class: a.cls, dataset: { action: a.verb, rollout: r.id },
    onclick: async e => {
      if (a.confirm && !window.confirm(`${a.label} rollout ${r.id}? Devices it moved get their previous release back.`)) return;
      e.target.disabled = true;
      try {
        await api(`rollouts/${encodeURIComponent(r.id)}/${a.verb}`, { method: 'POST', body: { reason: `${a.verb} from the dashboard` } });
        ctx.flash(`${a.label}: rollout ${r.id} done`);
      } catch (err) {
        ctx.flash(`${a.label} refused: ${err.message}`, true);
      }
      await ctx.refresh();
    },
  }, a.label));
  return buttons.length ? h('div', { class: 'actions' }, buttons) : h('span', { class: 'subtle' }, 'finished: no controls');
}

function healthTable(health, thresholds) {
  if (!health) return h('div', { class: 'empty' }, 'no health figures yet');
  const t = thresholds || {};
  const none = v => v === null || v === undefined;
  // verdict: null while there is nothing to judge (no reports / too few predictions), else whether the limit is crossed.
  const judge = (measured, limit, over) => none(measured) || none(limit) ? null : over(measured, limit);
  const rows = [
    { name: 'Refusal ratio', value: fmtPct(health.refusalRatio), limit: t.maxRefusalRatio, fmt: fmtPct, bad: judge(health.refusalRatio, t.maxRefusalRatio, (m, l) => m > l) },
    { name: 'Rollback ratio', value: fmtPct(health.rollbackRatio), limit: t.maxRollbackRatio, fmt: fmtPct, bad: judge(health.rollbackRatio, t.maxRollbackRatio, (m, l) => m > l) },
    { name: 'Fallback rate', value: `${fmtPct(health.fallbackRate)} of ${fmtInt(health.predictions)}`, limit: t.maxFallbackRate, fmt: fmtPct, bad: judge(health.fallbackRate, t.maxFallbackRate, (m, l) => m > l) },
    { name: 'Mean confidence', value: fmtNum(health.meanConfidence), limit: t.minMeanConfidence, fmt: v => `≥ ${fmtNum(v)}`, bad: judge(health.meanConfidence, t.minMeanConfidence, (m, l) => m < l) },
    { name: 'Drift PSI', value: none(health.driftPsi) ? '–' : `${fmtNum(health.driftPsi)} (${health.driftFeature})`, limit: t.maxDriftPsi, fmt: fmtNum, bad: judge(health.driftPsi, t.maxDriftPsi, (m, l) => m > l) },
  ];
  return table([
    { title: 'Figure', value: x => x.name },
    { title: 'Measured', value: x => x.value, num: true },
    { title: 'Limit', value: x => (none(x.limit) ? 'not checked' : x.fmt(x.limit)), num: true },
    { title: '', value: x => x.bad === null ? badge('no data', 'label') : badge(x.bad ? 'over' : 'ok', x.bad ? 'bad' : 'ok') },
  ], rows);
}

function stepsTable(d) {
  return table([
    { title: 'Step', value: x => `${x.step}` },
    { title: 'Share', value: x => `${fmtNum(x.percent)} %`, num: true },
    { title: 'Status', value: x => badge(x.status, x.status === 'current' ? 'running' : x.status === 'done' ? 'ok' : 'label') },
    { title: 'Committed / target', value: x => `${fmtInt(x.committedDevices)} / ${fmtInt(x.targetDevices)}`, num: true },
    { title: 'Progress', value: x => progressBar(x.targetDevices ? x.committedDevices / x.targetDevices : 0, `${x.committedDevices} of ${x.targetDevices} devices committed`) },
    { title: 'Bake', value: x => `${Math.round(x.bakeSeconds / 60)} min, ≥ ${x.minDevices} device(s)` },
    { title: 'Started', value: x => x.startedAt ? fmtAgo(x.startedAt) : '–' },
  ], d.steps || []);
}

function rolloutPanel(r, d, ctx) {
  const committed = d && d.health ? d.health.committed : null;
  return h('section', { class: 'panel rollout', dataset: { rollout: r.id, state: r.state } },
    h('div', { class: 'feature-head' },
      h('h2', null, `${r.family}@${r.version}`),
      badge(r.state, r.state),
      h('span', { class: 'subtle' }, `rollout ${r.id} · step ${r.step} of ${d ? d.steps.length : r.steps} · ${fmtNum(r.percent)} % of the cohort`),
      h('span', { class: 'spacer' }),
      controls(r, ctx)),
    r.reason ? h('div', { class: r.state === 'halted' || r.state === 'rolled-back' ? 'error' : 'notice', id: `reason-${r.id}` }, r.reason) : null,
    d && d.waitingFor ? h('div', { class: 'subtle' }, `waiting for: ${d.waitingFor}`) : null,
    d ? h('div', { class: 'subtle' }, `cohort ${Object.entries(d.cohort || {}).map(([k, v]) => `${k}=${v}`).join(', ') || 'every device'} (${fmtInt(d.cohortSize)} devices), ${committed === null ? '–' : fmtInt(committed)} committed, ${fmtInt(d.unpublished)} assignment(s) not yet published; created ${fmtTime(r.createdAt)} by ${r.createdBy}`) : null,
    d ? h('div', null, h('h2', null, 'Steps'), stepsTable(d)) : null,
    d ? h('div', { class: 'grid two' },
      h('div', null, h('h2', null, 'Devices by state'), table([
        { title: 'State', value: x => badge(x[0], x[0]) },
        { title: 'Devices', value: x => fmtInt(x[1]), num: true },
      ], Object.entries(d.deviceStates || {}), 'no devices assigned yet')),
      h('div', null, h('h2', null, 'Health vs thresholds'), healthTable(d.health, d.thresholds))) : null,
    d && d.history && d.history.length ? h('div', null, h('h2', null, 'History'), table([
      { title: 'At', value: x => fmtTime(x.at) },
      { title: 'Who', value: x => x.actor },
      { title: 'What', value: x => x.action },
      { title: 'Detail', value: x => x.detail ?? '' },
    ], d.history.slice(-8).reverse())) : null);
}

export async function render(params, ctx) {
  if (!await hasRoute('GET', '/api/v1/rollouts'))
    return h('div', null, h('h1', null, 'Rollouts'), panel(null, h('div', { class: 'empty', id: 'no-rollouts' }, 'no rollouts: this hub does not serve /api/v1/rollouts')));
  const listed = await api('rollouts');
  const list = Array.isArray(listed) ? listed : (listed.rollouts || []);
  const active = list.filter(r => isActive(r.state));
  const details = await Promise.all(active.map(r => api(`rollouts/${encodeURIComponent(r.id)}`).catch(() => null)));
  const finished = list.filter(r => !isActive(r.state));
  return h('div', null,
    h('h1', null, 'Rollouts'),
    active.length === 0 ? panel(null, h('div', { class: 'empty', id: 'no-rollouts' }, 'no active rollouts')) : active.map((r, i) => rolloutPanel(r, details[i], ctx)),
    panel(`Finished (${finished.length})`, table([
      { title: 'Release', value: r => `${r.family}@${r.version}` },
      { title: 'State', value: r => badge(r.state, r.state) },
      { title: 'Reason', value: r => r.reason ?? '' },
      { title: 'Step', value: r => `${r.step} of ${r.steps}` },
      { title: 'Finished', value: r => fmtTime(r.finishedAt ?? r.updatedAt) },
      { title: 'Id', value: r => h('code', null, r.id) },
    ], finished, 'none finished yet')));
}
