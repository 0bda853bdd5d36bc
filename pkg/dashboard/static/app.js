// The Skiff dashboard: a single page that shows the cluster as the signed-in user may
// see it. State lives in location.hash ("#/pods/default/kubia-x7b2z?ns=default&q=kubia")
// so that reload, links and back/forward work; the page itself holds only what is on
// screen. This file wires the header, the navigation, the keyboard and the router.

import { h, debounce } from './dom.js';
import { whoami } from './api.js';
import { acquire, priority } from './live.js';
import { apiPath, byId } from './kinds.js';
import { session } from './session.js';
import { ListView } from './views/list.js';
import { OverviewView } from './views/overview.js';
import { Detail } from './views/detail.js';
import { emptyState } from './views/states.js';

const $ = (id) => document.getElementById(id);
const ui = {
  ns: $('namespace'),
  filter: $('filter'),
  selector: $('selector'),
  whoami: $('whoami'),
  theme: $('theme'),
  view: $('view'),
  nav: $('nav'),
};

const app = {
  route: null,
  view: null,
  viewKey: '',
  viewKind: '',
  detail: null,
  detailKey: '',
  background: null, // the route a detail was opened from, to return to on close
};

// Routes.

function parse(hash) {
  const s = hash.replace(/^#\/?/, '');
  const qi = s.indexOf('?');
  const parts = (qi >= 0 ? s.slice(0, qi) : s).split('/').filter(Boolean).map(safeDecode);
  const q = new URLSearchParams(qi >= 0 ? s.slice(qi + 1) : '');
  const kind = parts[0] || 'overview';
  const k = byId.get(kind);
  let objNs = '';
  let name = '';
  if (k && k.namespaced && parts.length >= 3) {
    objNs = parts[1];
    name = parts.slice(2).join('/');
  } else if (k && parts.length === 2) {
    // A namespaced object named without its namespace is looked for in the chosen one.
    name = parts[1];
    if (k.namespaced) objNs = q.get('ns') || 'default';
  }
  return { kind, objNs, name, ns: q.get('ns') || '', q: q.get('q') || '', l: q.get('l') || '', tab: q.get('tab') || '' };
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function format(r) {
  const k = byId.get(r.kind);
  let path = '#/' + r.kind;
  if (r.name && k) path += (k.namespaced ? '/' + encodeURIComponent(r.objNs) : '') + '/' + encodeURIComponent(r.name);
  const q = new URLSearchParams();
  if (r.ns) q.set('ns', r.ns);
  if (r.q) q.set('q', r.q);
  if (r.l) q.set('l', r.l);
  if (r.name && r.tab) q.set('tab', r.tab);
  const qs = q.toString();
  return qs ? path + '?' + qs : path;
}

function go(r, { replace = false } = {}) {
  const hash = format(r);
  if (replace) {
    history.replaceState(history.state, '', hash);
    apply();
  } else if (location.hash !== hash) {
    location.hash = hash;
  } else {
    apply();
  }
}

const list = (kind, r = app.route) => ({ kind, objNs: '', name: '', tab: '', ns: r.ns, q: '', l: '' });

// nav is what views use to move around and to make links.
const nav = {
  open(kind, ns, name) {
    go({ ...app.route, kind, objNs: ns || '', name, tab: '' });
  },
  close() {
    const back = app.background || list(app.route.kind);
    go({ ...back, ns: app.route.ns, q: app.route.q, l: app.route.l });
  },
  tab(tab) {
    go({ ...app.route, tab }, { replace: true });
  },
  href(kind, ns, name) {
    return format({ ...app.route, kind, objNs: ns || '', name, tab: '' });
  },
  link(kind, ns, name, text) {
    return h('a', { href: nav.href(kind, ns, name) }, text || name);
  },
  listHref(kind, { ns = app.route.ns } = {}) {
    return format({ kind, ns, name: '', q: '', l: '' });
  },
  listLink(kind, ns, text) {
    return h('a', { href: nav.listHref(kind, { ns }) }, text);
  },
};

function apply() {
  const prev = app.route;
  const r = parse(location.hash);
  app.route = r;
  const kind = byId.get(r.kind);
  const detail = !!(r.name && kind);
  if (detail && prev && !prev.name) app.background = prev;
  if (!detail) app.background = null;

  // The main view: the list behind a detail stays what it was.
  const viewKind = detail && app.view ? app.viewKind : r.kind;
  const vk = byId.get(viewKind);
  const key = viewKind === 'overview' ? `overview|${r.ns}` : `${viewKind}|${vk && vk.namespaced ? r.ns : ''}|${r.l}`;
  if (key !== app.viewKey) {
    if (app.view) app.view.destroy();
    app.view = makeView(viewKind, r);
    app.viewKey = key;
    app.viewKind = viewKind;
    ui.view.replaceChildren(app.view.el);
  } else if (app.view.update) {
    app.view.update(r);
  }

  const dk = detail ? `${r.kind}|${r.objNs}|${r.name}` : '';
  if (dk !== app.detailKey) {
    const hadFocus = app.detail && app.detail.el.contains(document.activeElement);
    if (app.detail) app.detail.destroy();
    app.detail = null;
    app.detailKey = dk;
    if (detail) {
      app.detail = new Detail(kind, r.objNs, r.name, r.tab, nav);
      document.body.classList.add('has-detail');
      $('main').append(app.detail.el);
      app.detail.focus();
    } else {
      document.body.classList.remove('has-detail');
      if (hadFocus || document.activeElement === document.body) focusList();
    }
  } else if (app.detail) {
    app.detail.setTab(r.tab);
  }
  if (app.view && app.view.markSelected) app.view.markSelected(r.objNs, detail && r.kind === app.viewKind ? r.name : '');

  syncHeader(r);
}

function makeView(kind, r) {
  if (kind === 'overview') return new OverviewView(r, nav);
  const k = byId.get(kind);
  if (k) return new ListView(k, r, nav);
  const el = h('section', { class: 'view' }, emptyState(`There is no page called “${kind}”.`, 'Pick a page on the left.'));
  return { el, destroy: () => el.remove() };
}

function focusList() {
  const t = app.view && app.view.focusable;
  if (t) t.focus();
}

// Header.

function syncHeader(r) {
  setNamespaceValue(r.ns);
  if (document.activeElement !== ui.filter) ui.filter.value = r.q;
  if (document.activeElement !== ui.selector) ui.selector.value = r.l;
  const current = app.viewKind;
  for (const a of ui.nav.querySelectorAll('a[data-nav]')) {
    const k = a.dataset.nav;
    a.href = format({ kind: k, ns: r.ns, name: '', q: '', l: '' });
    if (k === current) {
      if (!a.hasAttribute('aria-current')) a.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      a.setAttribute('aria-current', 'page');
    } else {
      a.removeAttribute('aria-current');
    }
  }
  const k = byId.get(current);
  document.title = (r.name ? `${r.name} · ` : '') + (k ? k.title : 'Overview') + ' · Skiff';
  ui.ns.title = k && !k.namespaced ? `${k.title} belong to no namespace; the choice applies to other pages.` : '';
}

function setNamespaceValue(ns) {
  if (ns && ![...ui.ns.options].some((o) => o.value === ns)) ui.ns.append(h('option', { value: ns }, ns));
  ui.ns.value = ns;
}

function watchNamespaces() {
  const lease = acquire(apiPath(byId.get('namespaces'), ''), {}, priority.header);
  let last = '';
  lease.list.subscribe((c, l) => {
    const names = [...l.items.values()].map((n) => n.metadata.name).sort();
    const cur = app.route ? app.route.ns : '';
    if (cur && !names.includes(cur)) names.push(cur);
    const sig = names.join('\n');
    if (sig === last) return;
    last = sig;
    ui.ns.replaceChildren(h('option', { value: '' }, 'All namespaces'), ...names.map((n) => h('option', { value: n }, n)));
    ui.ns.value = cur;
  });
}

// A label selector is applied while typing only once it reads as one; Enter always applies.
const selectorRe = /^\s*(!?[A-Za-z0-9][-A-Za-z0-9_./]*(\s*(==?|!=)\s*[A-Za-z0-9]?[-A-Za-z0-9_.]*|\s+(in|notin)\s*\([^)]*\))?\s*)(,\s*!?[A-Za-z0-9][-A-Za-z0-9_./]*(\s*(==?|!=)\s*[A-Za-z0-9]?[-A-Za-z0-9_.]*|\s+(in|notin)\s*\([^)]*\))?\s*)*$/;

function wireHeader() {
  ui.ns.addEventListener('change', () => go({ ...app.route, ns: ui.ns.value }));
  const saveFilter = debounce(() => go({ ...app.route, q: ui.filter.value.trim() }, { replace: true }), 250);
  ui.filter.addEventListener('input', () => {
    app.route.q = ui.filter.value.trim();
    if (app.view && app.view.update) app.view.update(app.route);
    saveFilter();
  });
  ui.filter.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      if (ui.filter.value) {
        ui.filter.value = '';
        ui.filter.dispatchEvent(new Event('input'));
      } else {
        ui.filter.blur();
        focusList();
      }
    } else if (e.key === 'Enter' || e.key === 'ArrowDown') {
      e.preventDefault();
      focusList();
    }
  });
  const applySelector = () => {
    const l = ui.selector.value.trim();
    if (l !== app.route.l) go({ ...app.route, l }, { replace: true });
  };
  const typed = debounce(() => {
    const l = ui.selector.value.trim();
    if (!l || selectorRe.test(l)) applySelector();
  }, 500);
  ui.selector.addEventListener('input', typed);
  ui.selector.addEventListener('change', applySelector);
  ui.selector.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      applySelector();
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      ui.selector.blur();
    }
  });
}

// Theme: the system's choice until the user picks one; their pick is remembered.

function effectiveTheme() {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

function picked() {
  try {
    return localStorage.getItem('skiff-theme');
  } catch {
    return null;
  }
}

function syncThemeButton() {
  const dark = effectiveTheme() === 'dark';
  ui.theme.textContent = dark ? '☀' : '☾';
  ui.theme.setAttribute('aria-label', dark ? 'Switch to the light theme' : 'Switch to the dark theme');
  ui.theme.title = ui.theme.getAttribute('aria-label');
}

function wireTheme() {
  ui.theme.addEventListener('click', () => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem('skiff-theme', next);
    } catch { /* private mode: the choice lasts this page */ }
    syncThemeButton();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', (e) => {
    if (picked()) return;
    document.documentElement.dataset.theme = e.matches ? 'dark' : 'light';
    syncThemeButton();
  });
  syncThemeButton();
}

// Keyboard: "/" filter, j/k or arrows move, Enter opens, Escape closes, g then a letter.

const jumps = { o: 'overview', p: 'pods', n: 'nodes', s: 'services', e: 'events', r: 'replicationcontrollers', d: 'deployments', j: 'jobs', c: 'cronjobs', m: 'namespaces' };

function wireKeys() {
  let g = 0;
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (document.querySelector('dialog[open]')) return;
    const t = e.target;
    const typing = t instanceof HTMLElement && (t.matches('input, textarea, select') || t.isContentEditable);
    if (e.key === 'Escape') {
      if (app.detail) {
        e.preventDefault();
        nav.close();
      }
      return;
    }
    if (typing) return;
    if (g) {
      clearTimeout(g);
      g = 0;
      const to = jumps[e.key];
      if (to) {
        e.preventDefault();
        go(list(to));
      }
      return;
    }
    const inDetail = app.detail && app.detail.el.contains(t);
    const table = app.view && app.view.focusable;
    switch (e.key) {
      case '/':
        e.preventDefault();
        ui.filter.focus();
        ui.filter.select();
        break;
      case 'g':
        g = setTimeout(() => { g = 0; }, 1500);
        break;
      case '?':
        e.preventDefault();
        showHelp();
        break;
      case 'j':
      case 'k':
      case 'ArrowDown':
      case 'ArrowUp':
        if (!table || inDetail || (t.closest && t.closest('.vt-scroll'))) return;
        if (e.key.startsWith('Arrow') && t !== document.body && !t.closest('#nav')) return;
        e.preventDefault();
        if (table.focusIndex() < 0) table.focus();
        else {
          table.focus();
          table.move(e.key === 'j' || e.key === 'ArrowDown' ? 1 : -1);
        }
        break;
      case 'Enter':
        if (table && (t === document.body || t === document.documentElement)) {
          e.preventDefault();
          table.open();
        }
        break;
    }
  });
}

function showHelp() {
  const rows = [
    ['/', 'Filter by name'], ['j  k  ↓  ↑', 'Move between rows'], ['Enter', 'Open the focused row'], ['Esc', 'Close the panel or dialog'],
    ['g o', 'Overview'], ['g p', 'Pods'], ['g r', 'ReplicationControllers'], ['g d', 'Deployments'], ['g s', 'Services'],
    ['g n', 'Nodes'], ['g e', 'Events'], ['g j', 'Jobs'], ['g c', 'CronJobs'], ['g m', 'Namespaces'], ['?', 'This help'],
  ];
  const close = h('button', { type: 'button', class: 'btn', 'data-action': 'close-help' }, 'Close');
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'help-title' },
    h('h2', { id: 'help-title' }, 'Keyboard shortcuts'),
    h('dl', { class: 'keys' }, rows.map(([k, v]) => [h('dt', null, k.split('  ').map((x) => h('kbd', null, x))), h('dd', null, v)])),
    h('div', { class: 'dialog-actions' }, close));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

async function start() {
  wireTheme();
  wireHeader();
  wireKeys();
  // Who the user is and the first page load side by side; the page is ready once both are.
  const who = Promise.race([whoami(), new Promise((_, no) => setTimeout(() => no(new Error('timeout')), 4000))]);
  window.addEventListener('hashchange', apply);
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/overview');
  apply();
  watchNamespaces();
  try {
    session.user = await who;
  } catch {
    session.user = null;
  }
  ui.whoami.textContent = session.user?.name || 'unknown user';
  ui.whoami.title = session.user
    ? `Signed in as ${session.user.name}${(session.user.groups || []).length ? ' (' + session.user.groups.join(', ') + ')' : ''}`
    : 'The dashboard could not tell who you are.';
  if (app.view && app.view.refresh) app.view.refresh(); // explanations name the user
  window.skiff = { ready: true };
}

start();
