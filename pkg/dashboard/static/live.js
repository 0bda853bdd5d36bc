// Live lists: list once, then watch from the list's resourceVersion and keep the
// objects in a Map by uid. Subscribers hear about changes at most once per animation
// frame, with the set of uids that changed, so a burst of 3,000 watch events costs one
// re-render.
//
// A browser opens at most six HTTP/1.1 connections to one host (kubectl proxy speaks
// HTTP/1.1), and every watch holds one open. So lists are shared by path and query,
// and only the most important few watch at a time; the rest poll every few seconds,
// and move up to watching when a slot frees. Two connections always stay free for
// the requests a user makes (YAML, scale, delete).

import { ApiError, k8sURL, request, readLines } from './api.js';

const streams = 4; // watches and log streams open at once
const pollEvery = 5000;
// A list comes in two pages or more: a small first one, so that rows show before a
// long list is read, then the rest in large ones.
const firstPage = 500;
const nextPages = 5000;
const linger = 15000; // keep a list that nobody shows for this long, in case it comes back

// Errors that retrying will not cure; the user retries by hand once they are fixed.
const final = (err) => err instanceof ApiError && [400, 401, 403, 404, 405].includes(err.code);

class Gone extends Error {}

// sleep resolves after ms, or at once when signal aborts.
function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

export class LiveList {
  constructor(path, params = {}) {
    this.path = path;
    this.params = params;
    this.items = new Map();
    this.state = 'loading'; // loading | ready | error
    this.partial = false; // ready, but later pages of the list are still coming
    this.error = null;
    this.watching = false;
    this.mode = 'poll'; // watch | poll, set by the scheduler
    this.rv = '';
    this.subs = new Set();
    this.changed = new Set();
    this.removed = new Map();
    this.reset = false;
    this.frame = 0;
    this.ctrl = null;
    this.phase = '';
    this.step = null; // aborts the current watch or poll wait when the mode changes
  }

  subscribe(fn) {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  start() {
    if (this.ctrl) return;
    this.ctrl = new AbortController();
    this.run(this.ctrl.signal);
  }

  stop() {
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    this.watching = false;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    // A list in flight finishes; a watch or a wait between polls gives way at once.
    if (this.step && this.phase !== 'list') this.step.abort();
  }

  // retry lists again now, after an error the loop gave up on.
  retry() {
    this.stop();
    this.state = 'loading';
    this.error = null;
    this.rv = '';
    this.notifyNow();
    this.start();
  }

  async run(signal) {
    let backoff = 500;
    while (!signal.aborted) {
      const step = new AbortController();
      this.step = step;
      const abort = () => step.abort();
      signal.addEventListener('abort', abort, { once: true });
      try {
        if (!this.rv) {
          this.phase = 'list';
          await this.list(step.signal, true);
        } else if (this.mode === 'watch') {
          this.phase = 'watch';
          await this.watch(step.signal);
        } else {
          this.phase = 'wait';
          await sleep(pollEvery, step.signal);
          this.phase = 'list';
          if (!step.signal.aborted) await this.list(step.signal, false);
        }
        backoff = 500;
      } catch (err) {
        this.watching = false;
        if (signal.aborted) return;
        if (step.signal.aborted) continue; // the mode changed mid-way
        if (err instanceof Gone) {
          this.rv = '';
          continue;
        }
        if (!this.rv || final(err)) {
          // Listing failed: say so. A transient failure of a watch just retries below.
          this.rv = '';
          this.state = 'error';
          this.error = err;
          this.notifyNow();
          if (final(err)) return;
        }
        await sleep(backoff + Math.random() * backoff, signal);
        backoff = Math.min(backoff * 2, 15000);
      } finally {
        // Whatever ended this step, its request must not keep a connection open.
        step.abort();
        this.phase = '';
        signal.removeEventListener('abort', abort);
      }
    }
  }

  // list fetches the whole list, page by page (all pages are one snapshot, at the
  // first page's resourceVersion). reset: the first list, or a relist after 410 Gone;
  // subscribers redraw from the first page and hear of the later pages as changes.
  // Otherwise (a poll) they hear only of what changed once every page is in.
  async list(signal, reset) {
    const old = this.items;
    const next = new Map();
    const fetchPage = (cont, limit) => request(k8sURL(this.path, { ...this.params, limit: String(limit), continue: cont }), { signal })
      .then((res) => res.json());
    let rv = '';
    let body = await fetchPage('', firstPage);
    for (let page = 0; body; page++) {
      const cont = body.metadata?.continue || '';
      // Ask for the next page before drawing this one.
      const coming = cont ? fetchPage(cont, nextPages) : null;
      coming?.catch(() => {}); // its failure is met when awaited below
      for (const o of body.items || []) {
        trim(o);
        const uid = o.metadata.uid;
        next.set(uid, o);
        if (reset ? page > 0 : old.get(uid)?.metadata.resourceVersion !== o.metadata.resourceVersion) this.changed.add(uid);
      }
      rv = rv || body.metadata?.resourceVersion || '';
      if (reset) {
        this.partial = !!cont;
        if (page === 0) {
          this.items = next;
          this.state = 'ready';
          this.error = null;
          this.reset = true;
          this.notifyNow();
        } else {
          this.schedule();
        }
      }
      body = coming && await coming;
    }
    this.rv = rv;
    if (reset) return;
    for (const [uid, o] of old) if (!next.has(uid)) this.removed.set(uid, o);
    this.items = next;
    const was = this.state;
    this.state = 'ready';
    this.error = null;
    if (this.changed.size || this.removed.size || was !== 'ready') this.schedule();
  }


  async watch(signal) {
    const params = {
      ...this.params,
      watch: '1',
      resourceVersion: this.rv,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(240 + Math.floor(Math.random() * 120)),
    };
    const res = await request(k8sURL(this.path, params), { signal });
    this.watching = true;
    this.schedule();
    try {
      await readLines(res, (lines) => {
        for (const line of lines) {
          if (!line.trim()) continue;
          let ev;
          try {
            ev = JSON.parse(line);
          } catch {
            continue;
          }
          this.apply(ev);
        }
      });
    } finally {
      // Tell subscribers the list is no longer live until the watch is back.
      this.watching = false;
      this.schedule();
    }
  }

  apply(ev) {
    const o = ev.object;
    if (ev.type === 'ERROR') {
      // 410 Gone: our resourceVersion was compacted away. Anything else: list again too.
      throw new Gone(o && o.message);
    }
    if (!o || !o.metadata) return;
    if (o.metadata.resourceVersion) this.rv = o.metadata.resourceVersion;
    if (ev.type === 'BOOKMARK') return;
    const uid = o.metadata.uid;
    if (ev.type === 'DELETED') {
      const old = this.items.get(uid);
      this.items.delete(uid);
      this.removed.set(uid, old || o);
      this.changed.delete(uid);
    } else {
      trim(o);
      this.items.set(uid, o);
      this.changed.add(uid);
      this.removed.delete(uid);
    }
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  notifyNow() {
    cancelAnimationFrame(this.frame);
    this.flush();
  }

  flush() {
    this.frame = 0;
    const change = { reset: this.reset, changed: this.changed, removed: this.removed };
    this.reset = false;
    this.changed = new Set();
    this.removed = new Map();
    for (const fn of this.subs) fn(change, this);
  }
}

// managedFields are large and nothing here shows them; the YAML view fetches the object anew.
function trim(o) {
  if (o.metadata) delete o.metadata.managedFields;
}

// The scheduler. Priorities: what the user looks at (the detail's object, the main
// list) above what is around it (related lists, events) above the header's namespaces.

export const priority = { object: 30, main: 20, related: 10, side: 5, header: 1 };

const shared = new Map(); // key → {list, holds: Map<id, priority>, since, timer}
let reserved = 0; // streams held by log viewers
let holdSeq = 0;
let planned = false;

function plan() {
  if (planned) return;
  planned = true;
  queueMicrotask(() => {
    planned = false;
    const entries = [...shared.values()].sort((a, b) => rank(b) - rank(a) || b.since - a.since);
    let slots = streams - reserved;
    for (const e of entries) {
      if (slots > 0) {
        slots--;
        e.list.setMode('watch');
      } else if (e.holds.size) {
        e.list.setMode('poll');
      } else {
        drop(e); // lingering and not worth a slot: forget it now
      }
    }
  });
}

function rank(e) {
  let p = -1;
  for (const v of e.holds.values()) p = Math.max(p, v);
  return p;
}

function drop(e) {
  clearTimeout(e.timer);
  e.list.stop();
  if (shared.get(e.key) === e) shared.delete(e.key);
}

// acquire returns a lease on the shared, started LiveList for path and params.
// Call lease.release() when the view that shows it goes away.
export function acquire(path, params = {}, prio = priority.side) {
  const key = k8sURL(path, params);
  let e = shared.get(key);
  if (!e) {
    e = { key, list: new LiveList(path, params), holds: new Map(), since: 0, timer: 0 };
    shared.set(key, e);
  }
  clearTimeout(e.timer);
  const id = ++holdSeq;
  e.holds.set(id, prio);
  e.since = id;
  e.list.start();
  plan();
  let released = false;
  return {
    list: e.list,
    release() {
      if (released) return;
      released = true;
      e.holds.delete(id);
      if (e.holds.size) return plan();
      e.timer = setTimeout(() => drop(e), linger);
      plan();
    },
  };
}

// holdStream takes a connection for a stream that is not a list (pod logs); lists
// give way to it. Returns the function that gives it back.
export function holdStream() {
  reserved++;
  plan();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    reserved--;
    plan();
  };
}
