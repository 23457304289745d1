// The hub's bearer API. The token lives in sessionStorage: it survives reloads of this tab, not the browser.
const TOKEN_KEY = 'edgehub.token';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Calls /api/v1/<path>; resolves with the parsed JSON (null for 204), throws ApiError with the hub's message. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${token() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) throw new ApiError(res.status, (json && json.error) || `${method} /api/v1/${path} answered ${res.status}`);
  return json;
}

let routes = null;

/**
 * Which API routes this hub serves, from its OpenAPI document (built from the mapped endpoints). Features
 * such as rollouts and releases may be absent on a hub; pages ask here first instead of provoking 404s.
 */
export async function hasRoute(method, path) {
  if (routes === null) {
    const res = await fetch('/openapi/v1.json');
    const doc = res.ok ? await res.json() : { paths: {} };
    routes = new Set();
    for (const [p, item] of Object.entries(doc.paths || {}))
      for (const m of Object.keys(item)) routes.add(`${m.toUpperCase()} ${p}`);
  }
  return routes.has(`${method} ${path}`);
}

export function resetRoutes() {
  routes = null;
}
