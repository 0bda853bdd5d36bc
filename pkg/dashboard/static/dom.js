// DOM and formatting helpers shared by every view. Elements are built with h() so that
// no HTML string is ever parsed: user data reaches the page as text nodes only, and no
// inline style attribute exists for the Content-Security-Policy to refuse.

// h builds an element. attrs: "class", "text", "on<event>" handlers, boolean properties
// (hidden, disabled, checked), everything else as attributes. Children may be nodes,
// strings, numbers, arrays of them, or null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'value' || k === 'selected') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// age prints a duration the way kubectl does: 45s, 12m, 3h4m, 5d, 2y.
export function age(ts, now = Date.now()) {
  if (!ts) return '';
  const t = typeof ts === 'number' ? ts : Date.parse(ts);
  if (Number.isNaN(t)) return '';
  let s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return s + 's';
  let m = Math.floor(s / 60);
  if (m < 10) return m + 'm' + (s % 60 ? (s % 60) + 's' : '');
  if (m < 180) return m + 'm';
  const hr = Math.floor(m / 60);
  if (hr < 8) return hr + 'h' + (m % 60 ? (m % 60) + 'm' : '');
  if (hr < 48) return hr + 'h';
  const d = Math.floor(hr / 24);
  if (d < 8) return d + 'd' + (hr % 24 ? (hr % 24) + 'h' : '');
  if (d < 365 * 2) return d + 'd';
  return Math.floor(d / 365) + 'y';
}

export function time(ts) {
  return ts ? Date.parse(ts) || 0 : 0;
}

export function dateTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString();
}

// bytes parses a Kubernetes quantity of memory ("16Gi", "2048Ki", "1e9") to bytes.
const units = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, m: 1e-3 };
export function quantity(q) {
  if (q === undefined || q === null || q === '') return NaN;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(String(q));
  if (!m) return NaN;
  return parseFloat(m[1]) * (units[m[2]] ?? 1);
}

export function memory(q) {
  const b = quantity(q);
  if (Number.isNaN(b)) return q || '';
  for (const [u, f] of [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]]) {
    if (b >= f) return (b / f).toFixed(b / f >= 10 ? 0 : 1).replace(/\.0$/, '') + ' ' + u;
  }
  return b + ' B';
}

export function plural(n, one, many = one + 's') {
  return n + ' ' + (n === 1 ? one : many);
}

// selectorString turns a LabelSelector (or an RC's plain map) into the text form the
// API takes as labelSelector, e.g. "app=kubia,tier in (web,api),!canary".
export function selectorString(sel) {
  if (!sel) return '';
  if (!sel.matchLabels && !sel.matchExpressions) return mapSelector(sel);
  const parts = [];
  if (sel.matchLabels) parts.push(mapSelector(sel.matchLabels));
  for (const e of sel.matchExpressions || []) {
    const vals = (e.values || []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push('!' + e.key);
  }
  return parts.filter(Boolean).join(',');
}

function mapSelector(m) {
  return Object.entries(m || {}).map(([k, v]) => `${k}=${v}`).join(',');
}

// debounce delays fn until calls have paused for ms.
export function debounce(fn, ms) {
  let t = 0;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

let toastTimer = 0;
// toast shows a short confirmation at the bottom of the page; tone is "ok" or "bad".
export function toast(text, tone = 'ok') {
  let el = document.getElementById('toast');
  if (!el) {
    el = h('div', { id: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(el);
  }
  el.className = 'toast show tone-' + tone;
  el.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 3500);
}
