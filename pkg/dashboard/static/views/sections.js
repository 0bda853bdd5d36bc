// What the detail view says about each kind: the facts an operator looks for first,
// then the live lists of related objects (the pods a controller owns, a service's
// endpoints, the pods on a node, the object's recent events).

import { h, age, memory, selectorString, time, plural } from '../dom.js';
import { acquire, priority } from '../live.js';
import { apiPath, byId, byKind, eventTime, externalIPs, podsPath, roles, serviceURLs } from '../kinds.js';
import { podReady, podRestarts, podStatus } from '../status.js';
import { model, syncModels, VirtualTable } from '../table.js';
import { badge, card, chips, conditions, extLink, facts, some, table, when } from './parts.js';
import { emptyState, explain, loading } from './states.js';

// objectFacts returns the cards drawn from the object itself, as {top, rest}: the
// kind's summary goes above the live lists, the rest below. They are redrawn on each
// change of the object. ctx: {link(kindId, ns, name, text), listLink, nodeIPs}.
export function objectFacts(kind, o, ctx) {
  const m = o.metadata;
  const meta = card('Metadata', facts([
    ['Namespace', m.namespace ? ctx.link('namespaces', '', m.namespace) : ''],
    ['Created', when(m.creationTimestamp)],
    ['Controlled by', owner(o, ctx)],
    ['Deleting since', m.deletionTimestamp ? when(m.deletionTimestamp) : ''],
    ['UID', h('code', null, m.uid)],
  ]),
  h('h4', null, 'Labels'), chips(m.labels),
  h('h4', null, 'Annotations'), chips(m.annotations));
  const [top, ...rest] = (builders[kind.id] || (() => []))(o, ctx);
  return { top: top ? [top] : [], rest, meta };
}

function owner(o, ctx) {
  const refs = o.metadata.ownerReferences || [];
  const r = refs.find((x) => x.controller) || refs[0];
  if (!r) return '';
  const k = byKind.get(r.kind);
  const text = `${r.kind}/${r.name}`;
  return k ? ctx.link(k.id, o.metadata.namespace, r.name, text) : text;
}

const replicas = (o, desired, extra = []) => facts([
  ['Desired', String(desired)],
  ['Current', String((o.status && o.status.replicas) || 0)],
  ['Ready', String((o.status && o.status.readyReplicas) || 0)],
  ['Available', String((o.status && o.status.availableReplicas) || 0)],
  ...extra,
]);

function template(o) {
  const spec = (o.spec.template && o.spec.template.spec) || {};
  return card('Pod template', table(['Container', 'Image', 'Ports'], (spec.containers || []).map((c) => [
    c.name, h('code', null, c.image || ''), (c.ports || []).map((p) => `${p.containerPort}/${p.protocol || 'TCP'}`).join(', '),
  ])));
}

function selectorCard(o) {
  return card('Selector', chips(o.spec.selector && (o.spec.selector.matchLabels || o.spec.selector.matchExpressions) ? selectorMap(o.spec.selector) : o.spec.selector));
}

function selectorMap(sel) {
  const out = { ...(sel.matchLabels || {}) };
  for (const e of sel.matchExpressions || []) out[selectorString({ matchExpressions: [e] })] = '';
  return out;
}

const builders = {
  pods(o, ctx) {
    const st = o.status || {};
    const [ready, total] = podReady(o);
    const containers = (specs, statuses) => table(['Name', 'Image', 'State', 'Ready', 'Restarts'], (specs || []).map((c) => {
      const s = (statuses || []).find((x) => x.name === c.name) || {};
      return [c.name, h('code', null, c.image || ''), containerState(s.state), s.ready ? 'Yes' : 'No', String(s.restartCount || 0)];
    }));
    const ips = (st.podIPs || []).map((x) => x.ip).join(', ') || st.podIP || '';
    return [
      card('Pod', facts([
        ['Status', badge(podStatus(o))],
        ['Ready', `${ready}/${total} containers`],
        ['Restarts', String(podRestarts(o))],
        ['Node', o.spec.nodeName ? ctx.link('nodes', '', o.spec.nodeName) : h('span', { class: 'muted' }, 'not scheduled yet')],
        ['Pod IP', ips],
        ['Host IP', st.hostIP || ''],
        ['QoS class', st.qosClass || ''],
        ['Started', when(st.startTime)],
        ['Message', st.message || ''],
      ])),
      card('Containers', containers(o.spec.containers, st.containerStatuses)),
      (o.spec.initContainers || []).length ? card('Init containers', containers(o.spec.initContainers, st.initContainerStatuses)) : null,
      card('Conditions', conditions(o)),
    ].filter(Boolean);
  },
  replicationcontrollers(o) {
    return [card('Replicas', replicas(o, o.spec.replicas ?? 1, [['Selector', chips(o.spec.selector)]])), template(o)];
  },
  replicasets(o) {
    return [card('Replicas', replicas(o, o.spec.replicas ?? 1)), selectorCard(o), template(o)];
  },
  deployments(o) {
    const s = o.spec.strategy || {};
    return [
      card('Replicas', replicas(o, o.spec.replicas ?? 1, [
        ['Up-to-date', String((o.status && o.status.updatedReplicas) || 0)],
        ['Strategy', s.type === 'RollingUpdate' && s.rollingUpdate
          ? `RollingUpdate (max surge ${s.rollingUpdate.maxSurge ?? '25%'}, max unavailable ${s.rollingUpdate.maxUnavailable ?? '25%'})`
          : s.type || 'RollingUpdate'],
      ])),
      selectorCard(o), template(o), card('Conditions', conditions(o)),
    ];
  },
  statefulsets(o) {
    return [card('Replicas', replicas(o, o.spec.replicas ?? 1, [['Service', o.spec.serviceName || '']])), selectorCard(o), template(o)];
  },
  daemonsets(o) {
    const st = o.status || {};
    return [card('Nodes', facts([
      ['Desired', String(st.desiredNumberScheduled || 0)],
      ['Current', String(st.currentNumberScheduled || 0)],
      ['Ready', String(st.numberReady || 0)],
      ['Up-to-date', String(st.updatedNumberScheduled || 0)],
      ['Available', String(st.numberAvailable || 0)],
    ])), selectorCard(o), template(o)];
  },
  jobs(o) {
    const st = o.status || {};
    return [card('Job', facts([
      ['Completions', `${st.succeeded || 0}/${o.spec.completions ?? 1}`],
      ['Parallelism', String(o.spec.parallelism ?? 1)],
      ['Active', String(st.active || 0)],
      ['Failed', String(st.failed || 0)],
      ['Started', when(st.startTime)],
      ['Completed', when(st.completionTime)],
      ['Duration', st.startTime ? age(time(st.startTime), time(st.completionTime) || Date.now()) : ''],
    ])), template(o), card('Conditions', conditions(o))];
  },
  cronjobs(o, ctx) {
    const st = o.status || {};
    return [card('Schedule', facts([
      ['Schedule', h('code', null, o.spec.schedule)],
      ['Time zone', o.spec.timeZone || ''],
      ['Suspended', o.spec.suspend ? 'Yes' : 'No'],
      ['Concurrency', o.spec.concurrencyPolicy || 'Allow'],
      ['Last scheduled', when(st.lastScheduleTime)],
      ['Last succeeded', when(st.lastSuccessfulTime)],
      ['Active jobs', (st.active || []).length ? h('span', null, (st.active || []).map((r, i) => [i ? ', ' : '', ctx.link('jobs', r.namespace || o.metadata.namespace, r.name)])) : 'none'],
    ]))];
  },
  services(o, ctx) {
    const urls = serviceURLs(o, ctx.nodeIPs);
    return [
      card('Service', facts([
        ['Type', o.spec.type || 'ClusterIP'],
        ['Cluster IP', (o.spec.clusterIPs || [o.spec.clusterIP]).filter(Boolean).join(', ') || 'None'],
        ['External IP', some(externalIPs(o).split(',').map((ip) => h('code', null, ip)))],
        ['Session affinity', o.spec.sessionAffinity || 'None'],
        ['External URLs', urls.length ? some(urls.map((u) => extLink(u.href, u.text))) : ''],
      ])),
      card('Ports', table(['Name', 'Port', 'Target port', 'Node port', 'Protocol'], (o.spec.ports || []).map((p) => [
        p.name || '', String(p.port), String(p.targetPort ?? p.port), p.nodePort ? String(p.nodePort) : '', p.protocol || 'TCP',
      ]))),
      card('Selector', chips(o.spec.selector, 'none: endpoints are managed by hand')),
    ];
  },
  nodes(o) {
    const st = o.status || {};
    const info = st.nodeInfo || {};
    const res = ['cpu', 'memory', 'pods', 'ephemeral-storage'];
    const fmt = (k, v) => (v === undefined ? '' : k === 'memory' || k === 'ephemeral-storage' ? memory(v) : String(v));
    return [
      card('Node', facts([
        ['Roles', roles(o)],
        ['Schedulable', o.spec.unschedulable ? 'No (cordoned)' : 'Yes'],
        ['Kubelet', info.kubeletVersion || ''],
        ['OS image', info.osImage || ''],
        ['Kernel', info.kernelVersion || ''],
        ['Runtime', info.containerRuntimeVersion || ''],
        ['Architecture', [info.operatingSystem, info.architecture].filter(Boolean).join('/')],
        ['Pod CIDR', (o.spec.podCIDRs || [o.spec.podCIDR]).filter(Boolean).join(', ')],
      ])),
      card('Resources', table(['Resource', 'Capacity', 'Allocatable'], res.filter((k) => st.capacity && k in st.capacity).map((k) => [
        k, fmt(k, st.capacity[k]), fmt(k, st.allocatable && st.allocatable[k]),
      ]))),
      card('Addresses', table(['Type', 'Address'], (st.addresses || []).map((a) => [a.type, h('code', null, a.address)]))),
      card('Taints', (o.spec.taints || []).length
        ? chips(Object.fromEntries(o.spec.taints.map((t) => [`${t.key}${t.value ? '=' + t.value : ''}:${t.effect}`, ''])))
        : h('span', { class: 'muted' }, 'none')),
      card('Conditions', conditions(o)),
    ];
  },
  namespaces(o, ctx) {
    return [card('Namespace', facts([
      ['Phase', badge((o.status && o.status.phase) || 'Active')],
      ['Workloads', h('span', { class: 'links' },
        ['pods', 'deployments', 'replicationcontrollers', 'services'].map((k) => ctx.listLink(k, o.metadata.name, byId.get(k).title)))],
    ]))];
  },
  events(o, ctx) {
    const io = o.involvedObject || {};
    const k = byKind.get(io.kind);
    return [card('Event', facts([
      ['Object', k ? ctx.link(k.id, io.namespace || '', io.name, `${io.kind}/${io.name}`) : `${io.kind}/${io.name}`],
      ['Type', badge(o.type || 'Normal')],
      ['Reason', o.reason || ''],
      ['Message', o.message || o.note || ''],
      ['Source', [o.source && o.source.component, o.source && o.source.host].filter(Boolean).join(' on ') || o.reportingComponent || ''],
      ['Count', String(o.count || 1)],
      ['First seen', when(o.firstTimestamp || o.eventTime)],
      ['Last seen', o.lastTimestamp ? when(o.lastTimestamp) : ''],
    ]))];
  },
};

function containerState(s) {
  if (!s) return h('span', { class: 'muted' }, 'not started');
  if (s.running) return h('span', null, badge('Running'), ' since ', when(s.running.startedAt));
  if (s.waiting) return h('span', null, badge(s.waiting.reason || 'Waiting'), s.waiting.message ? ' ' + s.waiting.message : '');
  if (s.terminated) {
    const t = s.terminated;
    return h('span', null, badge(t.reason || (t.exitCode ? 'Error' : 'Completed')), ` exit code ${t.exitCode}`, t.finishedAt ? [' · ', when(t.finishedAt)] : '');
  }
  return '';
}

// Live related lists. Each is a value with el and destroy(), built once per detail.

// RelatedPods shows the pods of a selector or on a node, as a live virtual table.
export class RelatedPods {
  constructor({ title, ns, selector, fieldSelector, nav, what }) {
    const kind = byId.get('pods');
    this.models = new Map();
    this.heading = h('h3', null, title);
    this.el = card(null, this.heading);
    // The panel is narrow: a node's pods need no Node column, a selector's no IP.
    this.columns = kind.columns.filter((c) => c.id !== (fieldSelector ? 'node' : 'ip'));
    if (!ns && !fieldSelector) this.columns = [{ id: 'namespace', label: 'Namespace', width: 'minmax(100px, 1fr)', get: (o) => o.metadata.namespace }, ...this.columns];
    this.table = new VirtualTable({
      label: title,
      compact: true,
      rowHeight: 32,
      columns: this.columns,
      onOpen: (m) => nav.open('pods', m.namespace, m.name),
      onCount: (n) => { this.heading.textContent = `${title} (${n})`; },
      empty: () => {
        const l = this.lease.list;
        if (l.state === 'error') return explain(l.error, { verb: 'list', resource: 'pods', ns, namespaced: true }, () => l.retry());
        if (l.state === 'loading') return loading('Loading pods…');
        return emptyState(`No pods ${what}.`);
      },
    });
    this.table.onRender = (n) => {
      const rows = Math.max(n, 2);
      this.table.el.style.height = Math.min(360, 38 + rows * 32) + 'px';
    };
    this.el.append(this.table.el);
    const params = {};
    if (selector) params.labelSelector = selector;
    if (fieldSelector) params.fieldSelector = fieldSelector;
    this.lease = acquire(podsPath(ns), params, priority.related);
    const kindDef = kind;
    this.unsub = this.lease.list.subscribe((c, l) => this.onChange(c, l, kindDef));
    this.onChange({ reset: true, changed: new Set(), removed: new Map() }, this.lease.list, kindDef);
  }

  onChange(change, list, kind) {
    syncModels(this.models, change, list, (o) => model(o, kind, this.columns));
    this.table.setModels(this.models);
  }

  destroy() {
    this.unsub();
    this.lease.release();
    this.table.destroy();
  }
}

// Endpoints shows the addresses behind a service, from its Endpoints object.
export class Endpoints {
  constructor({ ns, name, nav }) {
    this.nav = nav;
    this.ns = ns;
    this.body = h('div', null, loading('Loading endpoints…'));
    this.el = card('Endpoints', this.body);
    this.lease = acquire(apiPath({ id: 'endpoints', version: 'v1', namespaced: true }, ns), { fieldSelector: 'metadata.name=' + name }, priority.related);
    this.unsub = this.lease.list.subscribe((c, l) => this.render(l));
    this.render(this.lease.list);
  }

  render(list) {
    if (list.state === 'loading') return;
    if (list.state === 'error') {
      this.body.replaceChildren(explain(list.error, { verb: 'list', resource: 'endpoints', ns: this.ns, namespaced: true }, () => list.retry()));
      return;
    }
    const ep = [...list.items.values()][0];
    const rows = [];
    let total = 0;
    for (const s of (ep && ep.subsets) || []) {
      const ports = (s.ports || []).map((p) => `${p.port}/${p.protocol || 'TCP'}${p.name ? ' (' + p.name + ')' : ''}`).join(', ');
      for (const [list2, ready] of [[s.addresses || [], true], [s.notReadyAddresses || [], false]]) {
        for (const a of list2) {
          total++;
          if (rows.length >= 200) continue;
          const t = a.targetRef;
          rows.push([
            h('code', null, a.ip),
            ports,
            t && t.kind === 'Pod' ? this.nav.link('pods', t.namespace, t.name) : t ? `${t.kind}/${t.name}` : '',
            a.nodeName ? this.nav.link('nodes', '', a.nodeName) : '',
            badge(ready ? 'Ready' : 'NotReady'),
          ]);
        }
      }
    }
    const note = total > rows.length ? h('p', { class: 'muted' }, `Showing ${rows.length} of ${total} addresses.`) : null;
    this.el.querySelector('h3').textContent = `Endpoints (${total})`;
    this.body.replaceChildren(table(['Address', 'Ports', 'Pod', 'Node', 'State'], rows,
      ep ? 'No endpoints: no ready pod matches the selector.' : 'No Endpoints object exists for this service.'), note || '');
  }

  destroy() {
    this.unsub();
    this.lease.release();
  }
}

// Events lists the most recent events about one object, newest first.
export class Events {
  constructor({ kind, ns, name }) {
    this.body = h('div', null, loading('Loading events…'));
    this.el = card('Events', this.body);
    const sel = [`involvedObject.name=${name}`, `involvedObject.kind=${kind.kind}`];
    if (kind.namespaced) sel.push(`involvedObject.namespace=${ns}`);
    this.what = { verb: 'list', resource: 'events', ns: kind.namespaced ? ns : '', namespaced: kind.namespaced };
    this.lease = acquire(apiPath(byId.get('events'), kind.namespaced ? ns : ''), { fieldSelector: sel.join(',') }, priority.side);
    this.unsub = this.lease.list.subscribe((c, l) => this.render(l));
    this.render(this.lease.list);
  }

  render(list) {
    if (list.state === 'loading') return;
    if (list.state === 'error') {
      this.body.replaceChildren(explain(list.error, this.what, () => list.retry()));
      return;
    }
    const evs = [...list.items.values()].sort((a, b) => eventTime(b) - eventTime(a));
    this.el.querySelector('h3').textContent = `Events (${evs.length})`;
    if (!evs.length) {
      this.body.replaceChildren(h('p', { class: 'muted' }, 'No recent events. Events are kept for an hour.'));
      return;
    }
    this.body.replaceChildren(h('ol', { class: 'events' }, evs.slice(0, 50).map((e) => h('li', { class: 'event' + (e.type === 'Warning' ? ' tone-warn' : '') },
      h('span', { class: 'ev-when', title: new Date(eventTime(e)).toLocaleString() }, age(eventTime(e))),
      badge(e.type || 'Normal'),
      h('span', { class: 'ev-reason' }, e.reason || ''),
      h('span', { class: 'ev-msg' }, e.message || e.note || ''),
      (e.count || 1) > 1 ? h('span', { class: 'ev-count', title: plural(e.count, 'occurrence') }, '×' + e.count) : null))));
  }

  destroy() {
    this.unsub();
    this.lease.release();
  }
}

// related builds the live sections a kind has, below its facts.
export function related(kind, o, nav) {
  const m = o.metadata;
  const out = [];
  if (['replicationcontrollers', 'replicasets', 'deployments', 'statefulsets', 'daemonsets', 'jobs'].includes(kind.id)) {
    const sel = kind.selector(o);
    if (sel) out.push(new RelatedPods({ title: 'Pods', ns: m.namespace, selector: sel, nav, what: `match ${sel}` }));
  } else if (kind.id === 'services' && o.spec.type !== 'ExternalName') {
    out.push(new Endpoints({ ns: m.namespace, name: m.name, nav }));
  } else if (kind.id === 'nodes') {
    out.push(new RelatedPods({ title: 'Pods on this node', ns: '', fieldSelector: 'spec.nodeName=' + m.name, nav, what: 'run on this node' }));
  }
  return out;
}

