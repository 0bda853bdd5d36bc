// The kinds the dashboard shows: where each lives in the API, and the columns that
// `kubectl get` prints for it. A column's get() turns an object into the cell's value;
// type "age" cells hold a timestamp and print its age when drawn, type "links" cells
// hold [{href, text}], "status" cells are coloured by tone().

import { age, memory, quantity, selectorString, time } from './dom.js';
import { deploymentStatus, jobStatus, nodeStatus, podReady, podRestarts, podStatus, replicaStatus, tone } from './status.js';

const NAME = { id: 'name', label: 'Name', width: 'minmax(200px, 2.6fr)', get: (o) => o.metadata.name };
// The Ready column and the status of a kind with spec.replicas and
// status.readyReplicas (deployments, replica sets, stateful sets, RCs).
const READY_OF_REPLICAS = { id: 'ready', label: 'Ready', width: 'minmax(64px, .6fr)', align: 'end',
  get: (o) => ratio(o.status && o.status.readyReplicas, o.spec.replicas ?? 1),
  sort: (o) => ratioKey(o.status && o.status.readyReplicas, o.spec.replicas ?? 1) };
const scaledStatus = (o) => replicaStatus(o.spec.replicas ?? 1, (o.status && o.status.readyReplicas) || 0);
const AGE = { id: 'age', label: 'Age', type: 'age', width: 'minmax(72px, .6fr)', align: 'end', get: (o) => time(o.metadata.creationTimestamp) };
const num = (id, label, get) => ({ id, label, get, width: 'minmax(64px, .6fr)', align: 'end' });
// Sorting by status puts trouble first: failing, then pending, then grey, then fine.
const severity = { bad: 0, warn: 1, off: 2, '': 3, ok: 4 };
const statusKey = (s) => severity[tone(s)] + ':' + s;
const status = (get) => ({ id: 'status', label: 'Status', type: 'status', width: 'minmax(110px, 1fr)', get, sort: (o) => statusKey(get(o)) });
const ratio = (a, b) => `${a || 0}/${b || 0}`;
const ratioKey = (a, b) => (b ? (a || 0) / b : 2) * 1e6 + (b || 0);

function replicasCols(desired, current, ready) {
  return [
    num('desired', 'Desired', desired),
    num('current', 'Current', current),
    num('ready', 'Ready', ready),
  ];
}

export const kinds = [
  {
    id: 'pods', kind: 'Pod', title: 'Pods', version: 'v1', namespaced: true, logs: true,
    status: podStatus,
    columns: [
      NAME,
      { id: 'ready', label: 'Ready', width: 'minmax(64px, .6fr)', align: 'end',
        get: (o) => podReady(o).join('/'), sort: (o) => { const [r, t] = podReady(o); return ratioKey(r, t); } },
      status(podStatus),
      num('restarts', 'Restarts', podRestarts),
      AGE,
      { id: 'node', label: 'Node', width: 'minmax(110px, 1.1fr)', get: (o) => o.spec.nodeName || '' },
      { id: 'ip', label: 'IP', width: 'minmax(116px, 1fr)', get: (o) => (o.status && o.status.podIP) || '', sort: (o) => ipKey((o.status && o.status.podIP) || '') },
    ],
  },
  {
    id: 'replicationcontrollers', kind: 'ReplicationController', title: 'ReplicationControllers', short: 'RCs', version: 'v1', namespaced: true, scalable: true,
    status: scaledStatus,
    selector: (o) => selectorString(o.spec.selector),
    columns: [
      NAME,
      ...replicasCols((o) => o.spec.replicas ?? 1, (o) => (o.status && o.status.replicas) || 0, (o) => (o.status && o.status.readyReplicas) || 0),
      status(scaledStatus),
      AGE,
      { id: 'selector', label: 'Selector', width: 'minmax(120px, 1.4fr)', get: (o) => selectorString(o.spec.selector) },
    ],
  },
  {
    id: 'deployments', kind: 'Deployment', title: 'Deployments', group: 'apps', version: 'v1', namespaced: true, scalable: true,
    status: deploymentStatus,
    selector: (o) => selectorString(o.spec.selector),
    columns: [
      NAME,
      READY_OF_REPLICAS,
      num('updated', 'Up-to-date', (o) => (o.status && o.status.updatedReplicas) || 0),
      num('available', 'Available', (o) => (o.status && o.status.availableReplicas) || 0),
      status(deploymentStatus),
      AGE,
    ],
  },
  {
    id: 'replicasets', kind: 'ReplicaSet', title: 'ReplicaSets', group: 'apps', version: 'v1', namespaced: true, scalable: true,
    status: scaledStatus,
    selector: (o) => selectorString(o.spec.selector),
    columns: [
      NAME,
      ...replicasCols((o) => o.spec.replicas ?? 1, (o) => (o.status && o.status.replicas) || 0, (o) => (o.status && o.status.readyReplicas) || 0),
      status(scaledStatus),
      AGE,
    ],
  },
  {
    id: 'daemonsets', kind: 'DaemonSet', title: 'DaemonSets', group: 'apps', version: 'v1', namespaced: true,
    status: (o) => replicaStatus((o.status && o.status.desiredNumberScheduled) || 0, (o.status && o.status.numberReady) || 0),
    selector: (o) => selectorString(o.spec.selector),
    columns: [
      NAME,
      ...replicasCols((o) => (o.status && o.status.desiredNumberScheduled) || 0, (o) => (o.status && o.status.currentNumberScheduled) || 0, (o) => (o.status && o.status.numberReady) || 0),
      num('updated', 'Up-to-date', (o) => (o.status && o.status.updatedNumberScheduled) || 0),
      num('available', 'Available', (o) => (o.status && o.status.numberAvailable) || 0),
      status((o) => replicaStatus((o.status && o.status.desiredNumberScheduled) || 0, (o.status && o.status.numberReady) || 0)),
      { id: 'nodeselector', label: 'Node selector', width: 'minmax(110px, 1fr)',
        get: (o) => Object.entries(o.spec.template.spec.nodeSelector || {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>' },
      AGE,
    ],
  },
  {
    id: 'statefulsets', kind: 'StatefulSet', title: 'StatefulSets', group: 'apps', version: 'v1', namespaced: true, scalable: true,
    status: scaledStatus,
    selector: (o) => selectorString(o.spec.selector),
    columns: [
      NAME,
      READY_OF_REPLICAS,
      status(scaledStatus),
      AGE,
    ],
  },
  {
    id: 'jobs', kind: 'Job', title: 'Jobs', group: 'batch', version: 'v1', namespaced: true,
    status: jobStatus,
    selector: (o) => selectorString(o.spec.selector),
    columns: [
      NAME,
      status(jobStatus),
      { id: 'completions', label: 'Completions', width: 'minmax(90px, .7fr)', align: 'end',
        get: (o) => ratio(o.status && o.status.succeeded, o.spec.completions ?? 1) },
      { id: 'duration', label: 'Duration', width: 'minmax(72px, .6fr)', align: 'end', get: jobDuration,
        sort: (o) => { const s = time(o.status && o.status.startTime); return s ? (time(o.status.completionTime) || Date.now()) - s : -1; } },
      AGE,
    ],
  },
  {
    id: 'cronjobs', kind: 'CronJob', title: 'CronJobs', group: 'batch', version: 'v1', namespaced: true,
    status: cronStatus,
    columns: [
      NAME,
      { id: 'schedule', label: 'Schedule', width: 'minmax(100px, 1fr)', get: (o) => o.spec.schedule },
      status(cronStatus),
      { id: 'suspend', label: 'Suspend', width: 'minmax(64px, .5fr)', get: (o) => String(!!o.spec.suspend) },
      num('active', 'Active', (o) => ((o.status && o.status.active) || []).length),
      { id: 'last', label: 'Last schedule', type: 'age', width: 'minmax(90px, .7fr)', align: 'end', get: (o) => time(o.status && o.status.lastScheduleTime) },
      AGE,
    ],
  },
  {
    id: 'services', kind: 'Service', title: 'Services', version: 'v1', namespaced: true, needsNodes: true,
    status: serviceStatus,
    selector: (o) => selectorString(o.spec.selector),
    columns: [
      NAME,
      { id: 'type', label: 'Type', width: 'minmax(96px, .9fr)', get: (o) => o.spec.type || 'ClusterIP' },
      { id: 'clusterip', label: 'Cluster-IP', width: 'minmax(116px, 1fr)', get: (o) => o.spec.clusterIP || '<none>', sort: (o) => ipKey(o.spec.clusterIP || '') },
      { id: 'externalip', label: 'External-IP', width: 'minmax(116px, 1fr)', get: externalIPs },
      { id: 'ports', label: 'Ports', width: 'minmax(100px, 1.1fr)', get: ports },
      status(serviceStatus),
      AGE,
      { id: 'urls', label: 'External URLs', type: 'links', width: 'minmax(180px, 1.8fr)', get: (o, ctx) => serviceURLs(o, ctx && ctx.nodeIPs) },
    ],
  },
  {
    id: 'nodes', kind: 'Node', title: 'Nodes', version: 'v1', namespaced: false, needsPods: true,
    status: nodeStatus,
    columns: [
      NAME,
      status(nodeStatus),
      { id: 'roles', label: 'Roles', width: 'minmax(90px, .8fr)', get: roles },
      AGE,
      { id: 'version', label: 'Version', width: 'minmax(100px, 1fr)', get: (o) => (o.status && o.status.nodeInfo && o.status.nodeInfo.kubeletVersion) || '' },
      { id: 'cpu', label: 'CPU', width: 'minmax(56px, .5fr)', align: 'end', get: (o) => cap(o, 'cpu'), sort: (o) => quantity(cap(o, 'cpu')) || 0 },
      { id: 'memory', label: 'Memory', width: 'minmax(80px, .7fr)', align: 'end', get: (o) => memory(cap(o, 'memory')), sort: (o) => quantity(cap(o, 'memory')) || 0 },
      { id: 'maxpods', label: 'Max pods', width: 'minmax(72px, .6fr)', align: 'end', get: (o) => cap(o, 'pods'), sort: (o) => Number(cap(o, 'pods')) || 0 },
      num('pods', 'Pods', (o, ctx) => (ctx && ctx.podsPerNode && ctx.podsPerNode.get(o.metadata.name)) || 0),
    ],
  },
  {
    id: 'events', kind: 'Event', title: 'Events', version: 'v1', namespaced: true,
    status: (o) => o.type || 'Normal',
    search: (o) => (o.metadata.name + ' ' + ((o.involvedObject && o.involvedObject.name) || '')).toLowerCase(),
    defaultSort: { id: 'lastseen', dir: -1 },
    columns: [
      { id: 'lastseen', label: 'Last seen', type: 'age', width: 'minmax(76px, .6fr)', align: 'end', get: eventTime },
      { id: 'status', label: 'Type', type: 'status', width: 'minmax(104px, .7fr)', get: (o) => o.type || 'Normal', sort: (o) => statusKey(o.type || 'Normal') },
      { id: 'reason', label: 'Reason', width: 'minmax(150px, 1.2fr)', get: (o) => o.reason || '' },
      { id: 'object', label: 'Object', width: 'minmax(180px, 1.8fr)', get: (o) => o.involvedObject ? `${(o.involvedObject.kind || '').toLowerCase()}/${o.involvedObject.name}` : '' },
      { id: 'message', label: 'Message', width: 'minmax(240px, 3.4fr)', get: (o) => (o.message || o.note || '').replace(/\s+/g, ' ').trim() },
      num('count', 'Count', (o) => o.count || (o.series && o.series.count) || 1),
    ],
  },
  {
    id: 'namespaces', kind: 'Namespace', title: 'Namespaces', version: 'v1', namespaced: false,
    status: (o) => (o.status && o.status.phase) || 'Active',
    columns: [
      NAME,
      status((o) => (o.metadata.deletionTimestamp ? 'Terminating' : (o.status && o.status.phase) || 'Active')),
      AGE,
    ],
  },
];

export const byId = new Map(kinds.map((k) => [k.id, k]));
export const byKind = new Map(kinds.map((k) => [k.kind, k]));

// apiPath is the API path of a kind's collection (ns may be "" for all namespaces), or
// of one object when name is given.
export function apiPath(k, ns, name) {
  let p = k.group ? `apis/${k.group}/${k.version}` : 'api/v1';
  if (k.namespaced && ns) p += '/namespaces/' + encodeURIComponent(ns);
  p += '/' + k.id;
  if (name) p += '/' + encodeURIComponent(name);
  return p;
}

// podsPath is the pods collection, in one namespace or all.
export function podsPath(ns) {
  return apiPath(byId.get('pods'), ns);
}

export function eventTime(o) {
  return time(o.lastTimestamp) || time(o.eventTime) || time(o.series && o.series.lastObservedTime) || time(o.metadata.creationTimestamp);
}

function jobDuration(o) {
  const s = time(o.status && o.status.startTime);
  if (!s) return '';
  const e = time(o.status.completionTime) || Date.now();
  return age(s, e);
}

function cronStatus(o) {
  if (o.spec.suspend) return 'Suspended';
  return ((o.status && o.status.active) || []).length ? 'Active' : 'Scheduled';
}

function serviceStatus(o) {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  if (o.spec.type === 'LoadBalancer' && !((o.status && o.status.loadBalancer && o.status.loadBalancer.ingress) || []).length) return 'Pending';
  return 'Active';
}

export function externalIPs(o) {
  const ext = [...(o.spec.externalIPs || [])];
  if (o.spec.type === 'LoadBalancer') {
    for (const i of (o.status && o.status.loadBalancer && o.status.loadBalancer.ingress) || []) ext.push(i.ip || i.hostname);
    if (!ext.length) return '<pending>';
  }
  if (o.spec.type === 'ExternalName') return o.spec.externalName || '<none>';
  return ext.join(',') || '<none>';
}

export function ports(o) {
  return (o.spec.ports || []).map((p) => `${p.port}${p.nodePort ? ':' + p.nodePort : ''}/${p.protocol || 'TCP'}`).join(',') || '<none>';
}

// serviceURLs are the addresses a browser outside the cluster can open: each load
// balancer ingress with each port, else each NodePort on each node's address.
export function serviceURLs(o, nodeIPs = []) {
  const out = [];
  const tcp = (o.spec.ports || []).filter((p) => (p.protocol || 'TCP') === 'TCP');
  const scheme = (port) => (port === 443 || port === 8443 ? 'https' : 'http');
  const host = (ip) => (ip.includes(':') ? `[${ip}]` : ip);
  const ingress = (o.status && o.status.loadBalancer && o.status.loadBalancer.ingress) || [];
  if (o.spec.type === 'LoadBalancer' && ingress.length) {
    for (const i of ingress) {
      for (const p of tcp) out.push(`${scheme(p.port)}://${host(i.ip || i.hostname)}:${p.port}`);
    }
  } else if (o.spec.type === 'NodePort' || o.spec.type === 'LoadBalancer') {
    for (const ip of nodeIPs) {
      for (const p of tcp) if (p.nodePort) out.push(`${scheme(p.port)}://${host(ip)}:${p.nodePort}`);
    }
  }
  return out.map((href) => ({ href, text: href.replace(/^https?:\/\//, '') }));
}

// nodeAddress is the address to reach a node from outside: its external IP, else internal.
export function nodeAddress(n) {
  const a = (n.status && n.status.addresses) || [];
  const ext = a.find((x) => x.type === 'ExternalIP');
  const int = a.find((x) => x.type === 'InternalIP');
  return (ext || int || {}).address || '';
}

export function roles(o) {
  const r = Object.keys(o.metadata.labels || {})
    .filter((l) => l.startsWith('node-role.kubernetes.io/'))
    .map((l) => l.slice('node-role.kubernetes.io/'.length))
    .filter(Boolean);
  return r.join(',') || '<none>';
}

function cap(o, key) {
  return (o.status && o.status.capacity && o.status.capacity[key]) || '';
}

// ipKey sorts IPv4 addresses numerically and everything else after them as text.
function ipKey(ip) {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return ip ? '~' + ip : '~~';
  return m.slice(1).map((x) => x.padStart(3, '0')).join('.');
}
