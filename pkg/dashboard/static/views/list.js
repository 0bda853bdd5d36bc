// The list of one kind: a live table of every object in the chosen namespace that
// matches the label selector, narrowed by the name filter as the user types.

import { h } from '../dom.js';
import { acquire, priority } from '../live.js';
import { apiPath, nodeAddress, podsPath, byId } from '../kinds.js';
import { model, syncModels, VirtualTable } from '../table.js';
import { explain, emptyState, loading } from './states.js';

const sorts = new Map(); // the sort each kind was last shown in, for this page's life
let podsPainted = false;

export class ListView {
  constructor(kind, route, nav) {
    this.kind = kind;
    this.ns = kind.namespaced ? route.ns : '';
    this.selector = route.l;
    this.nav = nav;
    this.q = '';
    this.models = new Map();
    this.ctx = { podsPerNode: new Map(), nodeIPs: [] };
    this.leases = [];

    this.count = h('span', { id: 'count', class: 'count', 'aria-live': 'polite' }, '0');
    this.live = h('span', { class: 'live', title: 'Updates as the cluster changes' }, 'Loading');
    const scope = !kind.namespaced ? 'cluster-wide' : this.ns ? `namespace ${this.ns}` : 'all namespaces';
    this.el = h('section', { class: 'view list-view', 'aria-labelledby': 'view-title' },
      h('div', { class: 'view-head' },
        h('h1', { id: 'view-title' }, kind.title),
        this.count,
        h('span', { class: 'scope' }, scope + (this.selector ? ` · ${this.selector}` : '')),
        h('span', { class: 'spacer' }),
        this.live));

    this.columns = kind.namespaced && !this.ns
      ? [{ id: 'namespace', label: 'Namespace', width: 'minmax(110px, 1fr)', get: (o) => o.metadata.namespace || '' }, ...kind.columns]
      : kind.columns;
    this.table = new VirtualTable({
      id: 'table',
      label: kind.title,
      columns: this.columns,
      sort: sorts.get(kind.id) || kind.defaultSort || { id: 'name', dir: 1 },
      onSort: (s) => sorts.set(kind.id, s),
      onOpen: (m) => nav.open(kind.id, m.namespace, m.name),
      onCount: (n) => { this.count.textContent = String(n); },
      empty: () => this.emptyContent(),
    });
    this.el.append(this.table.el);
    this.table.onRender = () => this.painted();

    const params = this.selector ? { labelSelector: this.selector } : {};
    this.main = this.lease(apiPath(kind, this.ns), params, (c, l) => this.onChange(c, l), priority.main);
    if (kind.needsPods) this.lease(podsPath(''), {}, (c, l) => this.onPods(l));
    if (kind.needsNodes) this.lease(apiPath(byId.get('nodes'), ''), {}, (c, l) => this.onNodes(l));
    this.update(route);
  }

  lease(path, params, fn, prio = priority.side) {
    const lease = acquire(path, params, prio);
    const unsub = lease.list.subscribe(fn);
    this.leases.push(() => { unsub(); lease.release(); });
    fn({ reset: true, changed: new Set(), removed: new Map() }, lease.list);
    return lease.list;
  }

  destroy() {
    for (const l of this.leases) l();
    this.table.destroy();
    this.el.remove();
  }

  update(route) {
    const q = (route.q || '').trim().toLowerCase();
    if (q !== this.q || !this.table.filter) {
      this.q = q;
      this.table.setFilter(q ? (m) => m.search.includes(q) : null);
    }
  }

  onChange(change, list) {
    this.setLive(list);
    if (list.state === 'error') {
      this.models.clear();
      this.table.setModels(this.models);
      return;
    }
    const quiet = !change.reset && !change.changed.size && !change.removed.size && list.state === this.lastState;
    this.lastState = list.state;
    if (quiet && this.models.size === list.items.size) return;
    syncModels(this.models, change, list, (o) => model(o, this.kind, this.columns, this.ctx));
    this.table.setModels(this.models);
    if (this.pendingSelect) this.markSelected(...this.pendingSelect);
  }

  remodel() {
    const list = this.main;
    if (!list || list.state !== 'ready') return;
    for (const [uid, o] of list.items) this.models.set(uid, model(o, this.kind, this.columns, this.ctx));
    this.table.invalidate();
  }

  onPods(list) {
    const per = new Map();
    for (const p of list.items.values()) {
      const n = p.spec.nodeName;
      if (n) per.set(n, (per.get(n) || 0) + 1);
    }
    this.ctx.podsPerNode = per;
    this.remodel();
  }

  onNodes(list) {
    const ips = [];
    for (const n of list.items.values()) {
      const a = nodeAddress(n);
      if (a) ips.push(a);
    }
    ips.sort();
    if (ips.join() === this.ctx.nodeIPs.join()) return;
    this.ctx.nodeIPs = ips;
    this.remodel();
  }

  setLive(list) {
    let state = 'Live';
    let title = 'Updates as the cluster changes.';
    if (list.state === 'error') {
      state = 'Not updating';
      title = list.error.message;
    } else if (list.state === 'loading') {
      state = 'Loading';
    } else if (list.mode === 'poll') {
      title = 'Updates every few seconds: other lists on this page hold the live connections.';
    } else if (!list.watching) {
      state = 'Reconnecting';
      title = 'The connection to the API server dropped; reconnecting.';
    }
    this.live.textContent = state;
    this.live.title = title;
    this.live.className = 'live is-' + state.toLowerCase().replace(' ', '-');
  }

  // painted marks the first time the pods list shows its rows after the whole list came
  // back; the browser tests measure time to first paint with it.
  painted() {
    if (podsPainted || this.kind.id !== 'pods' || this.main.state !== 'ready' || this.main.partial) return;
    podsPainted = true;
    performance.mark('skiff:pods-first-paint');
  }

  emptyContent() {
    const list = this.main;
    const k = this.kind;
    if (list.state === 'error') {
      return explain(list.error, { verb: 'list', resource: k.id, ns: this.ns, namespaced: k.namespaced, selector: this.selector }, () => list.retry());
    }
    if (list.state === 'loading') return loading(`Loading ${k.title.toLowerCase()}…`);
    const where = !k.namespaced ? '' : this.ns ? ` in namespace ${this.ns}` : '';
    if (this.models.size === 0) {
      return emptyState(`No ${k.title.toLowerCase()}${where}${this.selector ? ` match the label selector ${this.selector}` : ''}.`,
        k.namespaced && this.ns ? 'Choose “All namespaces” to look everywhere.' : '');
    }
    return emptyState(`No ${k.title.toLowerCase()}${where} have a name containing “${this.q}”.`, 'Press Escape in the filter box, or clear it, to see them all.');
  }

  refresh() {
    this.table.invalidate();
  }

  // markSelected highlights the row of the object open in the detail; until the row
  // is there (the list is still loading), it is looked for again on each change.
  markSelected(ns, name) {
    let uid = '';
    if (name) {
      for (const m of this.models.values()) {
        if (m.name === name && m.namespace === (ns || '')) {
          uid = m.uid;
          break;
        }
      }
    }
    this.pendingSelect = name && !uid ? [ns, name] : null;
    this.table.select(uid);
    if (uid) this.table.focusUid = uid;
  }

  get focusable() {
    return this.table;
  }
}
