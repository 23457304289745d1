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

function stepsOf(r) {
  return Array.isArray(r.steps) ? r.steps : [];
}

/** Share of the cohort the current step targets, 0..1. */
function progressOf(r) {
  if (typeof r.progress === 'number') return r.progress > 1 ? r.progress / 100 : r.progress;
  const steps = stepsOf(r);
  if (r.state === 'completed') return 1;
  const cur = steps[r.stepIndex ?? 0];
  return cur && typeof cur.percent === 'number' ? cur.percent / 100 : 0;
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
  const rows = [
    { name: 'Refusal ratio', value: fmtPct(health.refusalRatio), limit: t.maxRefusalRatio, bad: health.refusalRatio > t.maxRefusalRatio, fmt: fmtPct },
    { name: 'Rollback ratio', value: fmtPct(health.rollbackRatio), limit: t.maxRollbackRatio, bad: health.rollbackRatio > t.maxRollbackRatio, fmt: fmtPct },
    { name: 'Fallback rate', value: `${fmtPct(health.fallbackRate)} of ${fmtInt(health.predictions)}`, limit: t.maxFallbackRate, bad: health.fallbackRate > t.maxFallbackRate, fmt: fmtPct },
    { name: 'Mean confidence', value: fmtNum(health.meanConfidence), limit: t.minMeanConfidence, bad: health.meanConfidence !== null && health.meanConfidence < t.minMeanConfidence, fmt: v => `≥ ${fmtNum(v)}` },
    { name: 'Drift PSI', value: health.driftPsi === null || health.driftPsi === undefined ? '–' : `${fmtNum(health.driftPsi)} (${health.driftFeature})`, limit: t.maxDriftPsi, bad: health.driftPsi > t.maxDriftPsi, fmt: fmtNum },
  ];
  return table([
    { title: 'Figure', value: x => x.name },
    { title: 'Measured', value: x => x.value, num: true },
    { title: 'Limit', value: x => (x.limit === null || x.limit === undefined ? 'not checked' : x.fmt(x.limit)), num: true },
    { title: '', value: x => badge(x.bad ? 'over' : 'ok', x.bad ? 'bad' : 'ok') },
  ], rows);
}

function deviceCounts(detail) {
  const hl = detail.health;
  if (hl) return ['assigned', 'committed', 'inProgress', 'pending', 'refused', 'rolledBack', 'reverted']
    .filter(k => typeof hl[k] === 'number').map(k => ({ key: k, count: hl[k] }));
  const counts = detail.deviceStates || detail.devicesByState || detail.deviceCounts || {};
  return Object.entries(counts).map(([key, count]) => ({ key, count }));
}

function rolloutPanel(r, detail, ctx) {
  const steps = stepsOf(r);
  const pct = progressOf(r);
  const d = detail || r;
  return h('section', { class: 'panel rollout', dataset: { rollout: r.id, state: r.state } },
    h('div', { class: 'feature-head' },
      h('h2', null, `${r.family ?? r.model}@${r.version}`),
      badge(r.state, r.state),
      h('span', { class: 'subtle' }, `rollout ${r.id}`),
      steps.length ? h('span', { class: 'subtle' }, `step ${Math.min((r.stepIndex ?? 0) + 1, steps.length)} of ${steps.length}`) : null,
      h('span', { class: 'spacer' }),
      controls(r, ctx)),
    r.reason ? h('div', { class: r.state === 'halted' || r.state === 'rolled-back' ? 'error' : 'notice' }, r.reason) : null,
    h('div', { class: 'progress', title: `${Math.round(pct * 100)} % of the cohort` }, h('span', { class: `pct-${Math.round(pct * 20) * 5}` })),
    h('div', { class: 'subtle' }, `${Math.round(pct * 100)} % of the cohort targeted; steps ${steps.map(x => `${x.percent}%`).join(' → ') || '–'}; created ${fmtTime(r.createdAt)} by ${r.createdBy ?? '?'}, updated ${fmtAgo(r.updatedAt)}`),
    h('div', { class: 'grid two' },
      h('div', null, h('h2', null, 'Devices'), table([
        { title: 'State', value: x => x.key },
        { title: 'Devices', value: x => fmtInt(x.count), num: true },
      ], deviceCounts(d), 'no devices assigned yet')),
      h('div', null, h('h2', null, 'Health vs thresholds'), healthTable(d.health, d.thresholds ?? r.thresholds))));
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
    active.length === 0 ? panel(null, h('div', { class: 'empty', id: 'no-rollouts' }, 'no active rollouts')) : active.map((r, i) => rolloutPanel(details[i] ? { ...r, ...details[i] } : r, details[i], ctx)),
    panel(`Finished (${finished.length})`, table([
      { title: 'Release', value: r => `${r.family ?? r.model}@${r.version}` },
      { title: 'State', value: r => badge(r.state, r.state) },
      { title: 'Reason', value: r => r.reason ?? '' },
      { title: 'Finished', value: r => fmtTime(r.finishedAt ?? r.updatedAt) },
      { title: 'Id', value: r => h('code', null, r.id) },
    ], finished, 'none finished yet')));
}
