// Registered model versions and signed releases (when this hub serves the release API).
import { api, hasRoute } from '../api.js';
import { h, panel, table, badge } from '../dom.js';
import { fmtInt, fmtTime } from '../format.js';

export const title = 'Models & releases';

export async function render() {
  const [models, overview, releasesServed] = await Promise.all([api('models'), api('dashboard/overview'), hasRoute('GET', '/api/v1/releases')]);
  const running = new Map(overview.activeModels.map(k => [k.key, k.count]));
  const runningOf = m => (running.get(`${m.name}@${m.version}`) ?? 0);
  const releases = releasesServed ? await api('releases') : null;
  const releaseList = releases === null ? null : Array.isArray(releases) ? releases : (releases.releases || []);
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
    ], models, 'no models registered: POST /api/v1/models')),
    panel('Releases', releaseList === null
      ? h('div', { class: 'empty', id: 'no-releases' }, 'no releases: this hub does not serve /api/v1/releases')
      : table([
        { title: 'Release', value: r => `${r.family ?? r.name ?? r.model ?? ''}@${r.version ?? ''}` },
        { title: 'Counter', value: r => fmtInt(r.releaseCounter ?? r.counter), num: true },
        { title: 'Target', value: r => h('code', null, r.target ?? '') },
        { title: 'Signed', value: r => fmtTime(r.signedAt ?? r.createdAt ?? r.publishedAt) },
        { title: 'By', value: r => r.signedBy ?? r.createdBy ?? r.publishedBy ?? '' },
      ], releaseList, 'no releases published yet')));
}
