// The dashboard shell: sign-in with an API token, hash routing, auto-refresh every few seconds.
import { api, token, setToken, ApiError, resetRoutes } from './api.js';
import { h, panel } from './dom.js';
import * as fleet from './pages/fleet.js';
import * as device from './pages/device.js';
import * as models from './pages/models.js';
import * as rollouts from './pages/rollouts.js';
import * as drift from './pages/drift.js';
import * as latency from './pages/latency.js';

export const REFRESH_MS = 5000;

const PAGES = { '': ['fleet', fleet], devices: ['fleet', device], models: ['models', models], rollouts: ['rollouts', rollouts], drift: ['drift', drift], latency: ['latency', latency] };

const main = document.getElementById('main');
let session = null;
let timer = null;
let rendering = null;
let renders = 0;
let flashMessage = null;

/** "#/drift/m/v?days=3" -> {page, args: ['m', 'v'], query: {days: '3'}} */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(new URLSearchParams(qs || ''));
  return { page: parts[0] || '', args: parts.slice(1), query };
}

function showLogin(message) {
  clearTimeout(timer);
  session = null;
  document.getElementById('session').textContent = '';
  document.getElementById('sign-out').hidden = true;
  const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'ehub_…', required: true });
  const form = h('form', {
    id: 'login-form',
    onsubmit: async e => {
      e.preventDefault();
      setToken(input.value.trim());
      await start();
    },
  }, h('label', { for: 'token' }, 'API token'), input, h('button', { type: 'submit' }, 'Sign in'));
  main.replaceChildren(h('div', { class: 'login' }, panel('Sign in to edgehub',
    message ? h('div', { class: 'error', id: 'login-error' }, message) : null,
    h('p', { class: 'muted' }, 'Paste an API token (create one with "edgehub tokens create --role read-only"; operator tokens also get the rollout controls). It is kept in this tab only.'),
    form)));
  main.dataset.page = 'login';
  input.focus();
}

function flash(text, isError = false) {
  flashMessage = { text, isError };
}

async function refresh() {
  if (rendering) return rendering;
  const route = parseHash();
  const [navKey, page] = PAGES[route.page] || [null, null];
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === navKey);
  rendering = (async () => {
    if (!page) {
      main.replaceChildren(h('div', { class: 'error' }, `no page '${route.page}'`));
      return;
    }
    const ctx = { session, navigate: hash => { location.hash = hash; }, refresh: () => refresh(), flash };
    try {
      // Built off-screen, then swapped in: a refresh never shows a half-drawn page.
      const view = await page.render(route, ctx);
      const nodes = [];
      if (flashMessage) {
        nodes.push(h('div', { class: flashMessage.isError ? 'error' : 'notice', id: 'flash' }, flashMessage.text));
        flashMessage = null;
      }
      nodes.push(view);
      const scroll = window.scrollY;
      main.replaceChildren(...nodes);
      window.scrollTo(0, scroll);
      main.dataset.page = route.page || 'fleet';
      main.dataset.renders = String(++renders);
      document.title = `edgehub · ${page.title}`;
      document.getElementById('refresh-state').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setToken(null);
        showLogin('The hub refused the token (unknown or revoked). Sign in again.');
        return;
      }
      main.replaceChildren(h('div', { class: 'error', id: 'page-error' }, `Could not load this page: ${e.message}`));
      main.dataset.page = 'error';
    }
  })();
  try {
    await rendering;
  } finally {
    rendering = null;
  }
  // The hash changed while this render ran: draw the page now asked for.
  const now = parseHash();
  if (session && (now.page !== route.page || now.args.join('/') !== route.args.join('/') || JSON.stringify(now.query) !== JSON.stringify(route.query))) await refresh();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (session && document.visibilityState === 'visible') await refresh();
    schedule();
  }, REFRESH_MS);
}

async function start() {
  if (!token()) {
    showLogin(null);
    return;
  }
  try {
    session = await api('dashboard/session');
  } catch (e) {
    setToken(null);
    showLogin(e instanceof ApiError && e.status === 401 ? 'The hub refused this token.' : `Cannot reach the hub: ${e.message}`);
    return;
  }
  document.getElementById('session').textContent = `${session.name} (${session.role})`;
  document.getElementById('sign-out').hidden = false;
  resetRoutes();
  await refresh();
  schedule();
}

document.getElementById('sign-out').addEventListener('click', () => {
  setToken(null);
  showLogin(null);
});
window.addEventListener('hashchange', () => { if (session) refresh(); });
start();
