// Small building blocks of the detail view: labelled facts, chips, plain tables,
// titled cards and links to other objects.

import { h, age, dateTime } from '../dom.js';
import { tone } from '../status.js';

export function card(title, ...content) {
  return h('section', { class: 'card' }, title ? h('h3', null, title) : null, ...content);
}

// facts is a definition list of [label, value] pairs; empty values are left out.
export function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) continue;
    dl.append(h('dt', null, k), h('dd', null, v));
  }
  return dl;
}

export function chips(map, empty = 'none') {
  const entries = Object.entries(map || {});
  if (!entries.length) return h('span', { class: 'muted' }, empty);
  return h('div', { class: 'chips' }, entries.map(([k, v]) => {
    const text = v === '' ? k : `${k}=${v}`;
    return h('span', { class: 'chip', title: text }, text.length > 90 ? text.slice(0, 87) + '…' : text);
  }));
}

// badge is a status in its tone; the object's own status carries data-field="status".
export function badge(status, own = false) {
  const t = tone(status);
  return h('span', { class: 'badge' + (t ? ' tone-' + t : ''), 'data-field': own ? 'status' : null }, status);
}

export function table(headers, rows, empty = 'None') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'mini-wrap' },
    h('table', { class: 'mini' },
      h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c)))))));
}

export function when(ts) {
  if (!ts) return '';
  return h('time', { datetime: ts, title: dateTime(ts) }, age(ts) + ' ago');
}

export function conditions(obj) {
  const cs = (obj.status && obj.status.conditions) || [];
  return table(['Type', 'Status', 'Reason', 'Message', 'Last change'], cs.map((c) => [
    c.type,
    badge(c.status === 'True' ? 'True' : c.status === 'False' ? 'False' : 'Unknown'),
    c.reason || '',
    c.message || '',
    when(c.lastTransitionTime || c.lastUpdateTime),
  ]), 'No conditions reported.');
}

// some shows the first few of many items and keeps the rest behind "Show all".
export function some(items, first = 8) {
  if (items.length <= first) return h('div', { class: 'links' }, items);
  return h('div', { class: 'links' }, items.slice(0, first),
    h('details', { class: 'more-items' }, h('summary', null, `Show all ${items.length}`), h('div', { class: 'links' }, items.slice(first))));
}

export function extLink(href, text) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'ext' }, text || href);
}
