// Element builder: text always goes through textContent (device-reported strings are never parsed as HTML).
const SVG_NS = 'http://www.w3.org/2000/svg';

/** h('div', {class: 'x', onclick: fn}, child, 'text', [more]) -> HTMLElement */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** Same for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** A panel with a heading. */
export function panel(title, ...children) {
  return h('section', { class: 'panel' }, title ? h('h2', null, title) : null, ...children);
}

/** A table from column definitions [{title, value: row => node|string, num}] and rows. */
export function table(columns, rows, empty = 'nothing yet') {
  if (!rows || rows.length === 0) return h('div', { class: 'empty' }, empty);
  return h('table', null,
    h('thead', null, h('tr', null, columns.map(c => h('th', { class: c.num ? 'num' : null }, c.title)))),
    h('tbody', null, rows.map(r => h('tr', null, columns.map(c => h('td', { class: c.num ? 'num' : null }, c.value(r)))))));
}

export function badge(text, cls) {
  return h('span', { class: `badge ${cls || String(text).toLowerCase()}` }, text);
}

export function card(label, value, cls) {
  return h('div', { class: `panel card ${cls || ''}` }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}
