// The overview: counts of what runs, a per-namespace summary with the pods' states as
// a stacked bar, and a picture of every node as a grid of small cells, one per pod,
// coloured by its state. Cells are kept by pod uid and only the changed ones are
// touched, so 3,000 pods on 100 nodes redraw in a frame.

import { h, plural } from '../dom.js';
import { acquire, priority } from '../live.js';
import { apiPath, byId, podsPath } from '../kinds.js';
import { nodeStatus, podStatus, tone } from '../status.js';
import { explain } from './states.js';

const tones = ['ok', 'warn', 'bad', 'off'];
const toneWords = { ok: 'running', warn: 'pending', bad: 'failing', off: 'other' };

export class OverviewView {
  constructor(route, nav) {
    this.nav = nav;
    this.ns = route.ns;
    this.q = '';
    this.leases = [];
    this.cells = new Map(); // pod uid → {el, node, tone, ns, name}
    this.cards = new Map(); // node name ('' for unscheduled) → card parts
    this.frame = 0;

    this.statsEl = h('div', { class: 'stats' });
    this.nsEl = h('div', { class: 'ns-summary', role: 'table', 'aria-label': 'Namespaces' });
    this.nodesEl = h('div', { class: 'node-grid' });
    this.problem = h('div', { class: 'problems' });
    this.nodesNote = h('p', { class: 'muted small', hidden: true });
    this.el = h('section', { class: 'view overview-view', 'aria-labelledby': 'view-title' },
      h('div', { class: 'view-head' },
        h('h1', { id: 'view-title' }, 'Overview'),
        h('span', { class: 'scope' }, this.ns ? `namespace ${this.ns}` : 'all namespaces')),
      h('div', { class: 'overview-scroll' },
        this.problem,
        this.statsEl,
        h('h2', { class: 'section-title' }, 'Namespaces'),
        this.nsEl,
        h('div', { class: 'section-head' },
          h('h2', { class: 'section-title' }, 'Nodes'),
          h('div', { class: 'legend', 'aria-hidden': 'true' }, tones.map((t) => h('span', { class: 'legend-item' }, h('i', { class: 'cell tone-' + t }), toneWords[t])))),
        this.nodesNote,
        this.nodesEl));
    this.nodesEl.addEventListener('click', (e) => {
      const c = e.target.closest('.cell[data-name]');
      if (c) nav.open('pods', c.dataset.namespace, c.dataset.name);
    });

    const lists = {};
    const want = {
      pods: podsPath(this.ns),
      nodes: apiPath(byId.get('nodes'), ''),
      namespaces: apiPath(byId.get('namespaces'), ''),
      replicationcontrollers: apiPath(byId.get('replicationcontrollers'), this.ns),
      deployments: apiPath(byId.get('deployments'), this.ns),
      services: apiPath(byId.get('services'), this.ns),
    };
    for (const [k, path] of Object.entries(want)) {
      const lease = acquire(path, {}, k === 'pods' || k === 'nodes' ? priority.main : priority.side);
      lists[k] = lease.list;
      const unsub = lease.list.subscribe((c) => this.onChange(k, c));
      this.leases.push(() => { unsub(); lease.release(); });
    }
    this.lists = lists;
    this.onChange('pods', { reset: true, changed: new Set(), removed: new Map() });
    this.onChange('nodes', { reset: true, changed: new Set(), removed: new Map() });
    this.schedule();
    this.update(route);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    for (const l of this.leases) l();
    this.el.remove();
  }

  refresh() {
    this.schedule();
  }

  update(route) {
    const q = (route.q || '').trim().toLowerCase();
    if (q === this.q) return;
    this.q = q;
    this.nodesEl.classList.toggle('filtering', !!q);
    for (const c of this.cells.values()) c.el.classList.toggle('match', !!q && c.name.includes(q));
  }

  onChange(which, change) {
    if (which === 'pods') this.syncPods(change);
    else if (which === 'nodes') this.syncNodes();
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  card(node) {
    let c = this.cards.get(node);
    if (c) return c;
    const title = node
      ? this.nav.link('nodes', '', node, node)
      : h('span', null, 'Not scheduled');
    const status = h('span', { class: 'badge' });
    const count = h('span', { class: 'node-count' });
    const grid = h('div', { class: 'cells' });
    const el = h('article', { class: 'node-card', 'data-node': node },
      h('header', null, h('h3', null, title), status, h('span', { class: 'spacer' }), count, h('span', { class: 'node-unit' }, 'pods')),
      grid);
    c = { el, grid, status, count, pods: 0, node };
    this.cards.set(node, c);
    this.cardsDirty = true;
    return c;
  }

  syncPods(change) {
    const list = this.lists.pods;
    if (change.reset) {
      for (const c of this.cells.values()) c.el.remove();
      this.cells.clear();
      const pods = [...list.items.values()].sort((a, b) => (a.metadata.namespace + '/' + a.metadata.name < b.metadata.namespace + '/' + b.metadata.name ? -1 : 1));
      const frags = new Map();
      for (const p of pods) {
        const c = this.cell(p);
        let f = frags.get(c.node);
        if (!f) frags.set(c.node, (f = document.createDocumentFragment()));
        f.append(c.el);
      }
      for (const [node, f] of frags) this.card(node).grid.append(f);
    } else {
      for (const uid of change.changed) {
        const p = list.items.get(uid);
        if (!p) continue;
        const old = this.cells.get(uid);
        const node = p.spec.nodeName || '';
        const status = podStatus(p);
        if (!old) {
          this.card(node).grid.append(this.cell(p).el);
          continue;
        }
        if (old.status !== status) {
          old.status = status;
          old.tone = tone(status) || 'off';
          old.el.className = this.cellClass(old);
          old.el.title = `${old.ns}/${old.name} · ${status}`;
        }
        if (old.node !== node) {
          old.node = node;
          this.card(node).grid.append(old.el);
        }
      }
      for (const uid of change.removed.keys()) {
        const c = this.cells.get(uid);
        if (!c) continue;
        c.el.remove();
        this.cells.delete(uid);
      }
    }
  }

  cellClass(c) {
    return 'cell tone-' + c.tone + (this.q && c.name.includes(this.q) ? ' match' : '');
  }

  cell(p) {
    const m = p.metadata;
    const status = podStatus(p);
    const c = { node: p.spec.nodeName || '', status, tone: tone(status) || 'off', ns: m.namespace, name: m.name, el: null };
    const el = document.createElement('div');
    el.className = this.cellClass(c);
    el.title = `${m.namespace}/${m.name} · ${status}`;
    el.dataset.name = m.name;
    el.dataset.namespace = m.namespace;
    c.el = el;
    this.cells.set(m.uid, c);
    return c;
  }

  syncNodes() {
    for (const n of this.lists.nodes.items.values()) this.card(n.metadata.name);
  }

  render() {
    this.frame = 0;
    const l = this.lists;
    this.renderProblems();
    // Per node: readiness and pod counts.
    const perNode = new Map();
    for (const c of this.cells.values()) perNode.set(c.node, (perNode.get(c.node) || 0) + 1);
    const nodes = new Map([...l.nodes.items.values()].map((n) => [n.metadata.name, n]));
    for (const [name, c] of this.cards) {
      const n = nodes.get(name);
      const count = perNode.get(name) || 0;
      // With a namespace chosen, the nodes that run none of its pods are left out.
      if (!count && (name === '' || this.ns)) {
        c.el.hidden = true;
        continue;
      }
      c.el.hidden = false;
      const st = n ? nodeStatus(n) : name ? 'Unknown' : 'Pending';
      const t = tone(st);
      c.status.className = 'badge' + (t ? ' tone-' + t : '');
      c.status.textContent = st;
      const cap = n && n.status && n.status.capacity && n.status.capacity.pods;
      c.count.textContent = cap ? `${count}/${cap}` : String(count);
      c.count.title = plural(count, 'pod') + (cap ? `, room for ${cap}` : '');
      if (!n && name && !count) {
        c.el.remove();
        this.cards.delete(name);
      }
    }
    if (this.ns) {
      const shown = [...this.cards.values()].filter((c) => !c.el.hidden && c.node).length;
      this.nodesNote.textContent = `The ${plural(shown, 'node')} that run pods of namespace ${this.ns}, of ${nodes.size}.`;
      this.nodesNote.hidden = false;
    }
    if (this.cardsDirty) {
      this.cardsDirty = false;
      const order = [...this.cards.keys()].sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b, undefined, { numeric: true })));
      this.nodesEl.replaceChildren(...order.map((k) => this.cards.get(k).el));
    }
    this.renderStats(nodes);
    this.renderNamespaces();
  }

  renderProblems() {
    const failed = Object.entries(this.lists).filter(([, list]) => list.state === 'error');
    this.problem.replaceChildren(...failed.map(([k, list]) => explain(list.error,
      { verb: 'list', resource: k, ns: byId.get(k).namespaced ? this.ns : '', namespaced: byId.get(k).namespaced }, () => list.retry())));
  }

  renderStats(nodes) {
    const l = this.lists;
    let ready = 0;
    for (const n of nodes.values()) if (nodeStatus(n).startsWith('Ready')) ready++;
    const byTone = { ok: 0, warn: 0, bad: 0, off: 0 };
    for (const c of this.cells.values()) byTone[c.tone]++;
    const q = this.ns ? { ns: this.ns } : {};
    const stat = (kind, value, label, sub, t) => h('a', { class: 'stat' + (t ? ' tone-' + t : ''), href: this.nav.listHref(kind, q) },
      h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label), sub ? h('span', { class: 'stat-sub' }, sub) : null);
    const n = (k) => (l[k].state === 'ready' ? String(l[k].items.size) : '–');
    this.statsEl.replaceChildren(
      stat('nodes', l.nodes.state === 'ready' ? `${ready}/${nodes.size}` : '–', 'Nodes ready', null, nodes.size && ready < nodes.size ? 'bad' : ''),
      stat('pods', n('pods'), 'Pods', tones.filter((t) => byTone[t]).map((t) => `${byTone[t]} ${toneWords[t]}`).join(' · '), byTone.bad ? 'bad' : ''),
      stat('deployments', n('deployments'), 'Deployments'),
      stat('replicationcontrollers', n('replicationcontrollers'), 'ReplicationControllers'),
      stat('services', n('services'), 'Services'),
    );
  }

  renderNamespaces() {
    const l = this.lists;
    const rows = new Map();
    const row = (ns) => {
      let r = rows.get(ns);
      if (!r) rows.set(ns, (r = { ok: 0, warn: 0, bad: 0, off: 0, pods: 0, replicationcontrollers: 0, deployments: 0, services: 0 }));
      return r;
    };
    for (const n of l.namespaces.items.values()) if (!this.ns || n.metadata.name === this.ns) row(n.metadata.name);
    for (const c of this.cells.values()) {
      const r = row(c.ns);
      r[c.tone]++;
      r.pods++;
    }
    for (const k of ['replicationcontrollers', 'deployments', 'services']) {
      for (const o of l[k].items.values()) row(o.metadata.namespace)[k]++;
    }
    const names = [...rows.keys()].sort();
    const head = h('div', { class: 'ns-row ns-head', role: 'row' },
      ['Namespace', 'Pods by state', 'Pods', 'RCs', 'Deployments', 'Services'].map((t) => h('span', { role: 'columnheader' }, t)));
    this.nsEl.replaceChildren(head, ...names.map((ns) => {
      const r = rows.get(ns);
      const bar = h('div', { class: 'bar', role: 'img', 'aria-label': tones.map((t) => `${r[t]} ${toneWords[t]}`).join(', ') });
      for (const t of tones) {
        if (!r[t]) continue;
        const seg = h('span', { class: 'seg tone-' + t, title: `${r[t]} ${toneWords[t]}` });
        seg.style.flexGrow = String(r[t]);
        bar.append(seg);
      }
      if (!r.pods) bar.classList.add('empty');
      const q = { ns };
      const count = (k, v) => h('a', { class: 'num', href: this.nav.listHref(k, q), role: 'cell' }, String(v));
      return h('div', { class: 'ns-row', role: 'row', 'data-namespace': ns },
        h('a', { href: this.nav.listHref('pods', q), class: 'ns-name', role: 'cell' }, ns),
        h('div', { class: 'ns-bar', role: 'cell' }, bar,
          h('span', { class: 'bar-legend' }, r.pods ? tones.filter((t) => r[t]).map((t) => `${r[t]} ${toneWords[t]}`).join(' · ') : 'no pods')),
        count('pods', r.pods), count('replicationcontrollers', r.replicationcontrollers),
        count('deployments', r.deployments), count('services', r.services));
    }));
  }
}
