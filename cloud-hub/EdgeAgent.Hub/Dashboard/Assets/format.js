// Number and time formatting shared by the pages.
export function fmtInt(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
}

export function fmtNum(n, digits = 3) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const a = Math.abs(n);
  if (a !== 0 && (a < 0.001 || a >= 1e6)) return Number(n).toExponential(2);
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function fmtPct(r) {
  return r === null || r === undefined ? '–' : `${(r * 100).toFixed(1)} %`;
}

/** Microseconds, shown in µs below 1 ms, else ms. */
export function fmtUs(us) {
  if (us === null || us === undefined) return '–';
  return us < 1000 ? `${Math.round(us)} µs` : `${(us / 1000).toFixed(us < 10000 ? 2 : 1)} ms`;
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

/** "3 min ago" style, from an ISO time. */
export function fmtAgo(iso, now = Date.now()) {
  if (!iso) return 'never';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** PSI band by convention (REFERENCE.md): < 0.1 stable, 0.1–0.25 moderate, > 0.25 drift. */
export function psiBand(psi) {
  if (psi === null || psi === undefined) return null;
  return psi > 0.25 ? 'drift' : psi >= 0.1 ? 'moderate' : 'stable';
}
