// Registered model versions and signed releases (when this hub serves the release API).
import { api, hasRoute } from '../api.js';
import { h, panel, table, badge } from '../dom.js';
import { fmtInt, fmtTime } from '../format.js';

export const title = 'Models & releases';

function publishButton(m, ctx) {
  return h('button', {
    type: 'button', class: 'secondary', dataset: { action: 'publish', model: m.name, version: m.version },
    onclick: async e => {
      e.target.disabled = true;
      try {
        const r = await api('releases', { method: 'POST', body: { model: m.name, version: m.version } });
        ctx.flash(`Published ${r.target} (targets v${r.targetsVersion})`);
      } catch (err) {
        ctx.flash(`Publishing ${m.name}@${m.version} refused: ${err.message}`, true);
      }
      await ctx.refresh();
    },
  }, 'Publish release');
}

export async function render(params, ctx) {
  const [models, overview, releasesServed] = await Promise.all([api('models'), api('dashboard/overview'), hasRoute('GET', '/api/v1/releases')]);
  const running = new Map(overview.activeModels.map(k => [k.key, k.count]));
  const runningOf = m => (running.get(`${m.name}@${m.version}`) ?? 0);
  const releases = releasesServed ? await api('releases') : null;
  const releaseList = releases;
  const published = new Set((releases || []).map(r => `${r.model}@${r.version}`));
  return h('div', null,
    h('h1', null, 'Models & releases'),
    panel(`Registered models (${models.length})`, table([
      { title: 'Model', value: m => m.name },
      { title: 'Version', value: m => m.version },
      { title: 'Devices running', value: m => fmtInt(runningOf(m)), num: true },
      { title: 'Size', value: m => `${fmtInt(Math.round(m.sizeBytes / 1024))} KiB`, num: true },
      { title: 'SHA-256', value: m => h('code', { title: m.sha256 }, m.sha256.slice(0, 12)) },
      { title: 'Drift reference', value: m => m.hasReferenceProfile ? h('a', { href: `#/drift/${encodeURIComponent(m.name)}/${encodeURIComponent(m.version)}` }, badge('profile', 'ok')) : badge('none', 'warn') },
      { title: 'Registered', value: m => `${fmtTime(m.registeredAt)} by ${m.registeredBy}` },
      { title: 'Release', value: m => releases === null ? '–' : published.has(`${m.name}@${m.version}`) ? badge('published', 'ok') : ctx.session.canOperate ? publishButton(m, ctx) : badge('not published', 'label') },
    ], models, 'no models registered: POST /api/v1/models')),
    panel('Releases', releaseList === null
      ? h('div', { class: 'empty', id: 'no-releases' }, 'no releases: this hub does not serve /api/v1/releases')
      : table([
        { title: 'Release', value: r => `${r.model}@${r.version}` },
        { title: 'Counter', value: r => fmtInt(r.releaseCounter), num: true },
        { title: 'TUF target', value: r => h('code', null, r.target) },
        { title: 'Size', value: r => `${fmtInt(Math.round(r.length / 1024))} KiB`, num: true },
        { title: 'SHA-256', value: r => h('code', { title: r.sha256 }, r.sha256.slice(0, 12)) },
        { title: 'Targets version', value: r => fmtInt(r.targetsVersion), num: true },
        { title: 'Published', value: r => `${fmtTime(r.publishedAt)} by ${r.publishedBy}` },
      ], [...releaseList].reverse(), 'no releases published yet')));
}
