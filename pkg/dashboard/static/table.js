// A virtual table: thousands of rows, of which only the visible ones (and a small
// margin) exist in the DOM. Rows have a fixed height inside a fixed-height scroller;
// a spacer gives the scrollbar its full length. Row elements are pooled and refilled
// in place, so a watch event or a keystroke in the filter costs a filter-and-sort of
// plain arrays plus a refill of some thirty rows.

import { h, age } from './dom.js';
import { tone } from './status.js';

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

// model turns an object into what the table draws and sorts: the cells' values and
// sort keys are computed once per object version, not per frame.
export function model(obj, kind, columns, ctx) {
  const m = obj.metadata;
  const cells = new Array(columns.length);
  const keys = new Array(columns.length);
  let status = '';
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i];
    const v = c.get(obj, ctx);
    cells[i] = v;
    keys[i] = c.sort ? c.sort(obj, ctx) : c.type === 'links' ? v.map((l) => l.text).join(' ') : v;
    if (c.type === 'status') status = v;
  }
  return {
    uid: m.uid,
    name: m.name,
    namespace: m.namespace || '',
    search: kind.search ? kind.search(obj) : m.name.toLowerCase(),
    cells,
    keys,
    status,
    obj,
  };
}

// syncModels brings models (a Map by uid) up to date with a LiveList change: all of
// them after a relist, else only the objects that changed.
export function syncModels(models, change, list, build) {
  if (change.reset) {
    models.clear();
    for (const [uid, o] of list.items) models.set(uid, build(o));
    return;
  }
  for (const uid of change.changed) {
    const o = list.items.get(uid);
    if (o) models.set(uid, build(o));
  }
  for (const uid of change.removed.keys()) models.delete(uid);
}

export class VirtualTable {
  // opts: columns, label, rowHeight, onOpen(model), onCount(n), empty() → node|string,
  // sort {id, dir}, onSort(sort)
  constructor(opts) {
    this.opts = opts;
    this.rowHeight = opts.rowHeight || 36;
    this.margin = 8;
    this.models = new Map();
    this.view = [];
    this.filter = null;
    this.sort = opts.sort || { id: 'name', dir: 1 };
    this.focusUid = '';
    this.selectedUid = '';
    this.pool = [];
    this.frame = 0;
    this.dirty = true;
    this.onRender = null;

    this.head = h('div', { class: 'vt-head', role: 'row' });
    this.body = h('div', { class: 'vt-body', role: 'rowgroup' });
    this.spacer = h('div', { class: 'vt-spacer' }, this.body);
    this.emptyEl = h('div', { class: 'vt-empty', hidden: true });
    this.scroller = h('div', {
      class: 'vt-scroll',
      tabindex: '0',
      role: 'grid',
      'aria-label': opts.label || 'Table',
    }, this.head, this.spacer, this.emptyEl);
    this.el = h('div', { class: 'vt' + (opts.compact ? ' vt-compact' : '') }, this.scroller);
    this.el.id = opts.id || '';
    if (!this.el.id) this.el.removeAttribute('id');

    this.scroller.addEventListener('scroll', () => this.schedule(false), { passive: true });
    this.scroller.addEventListener('click', (e) => this.onClick(e));
    this.scroller.addEventListener('keydown', (e) => this.onKey(e));
    this.resize = new ResizeObserver(() => this.schedule(false));
    this.resize.observe(this.scroller);
    this.ticker = setInterval(() => this.refreshAges(), 1000);
    this.setColumns(opts.columns);
  }

  destroy() {
    clearInterval(this.ticker);
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.el.remove();
  }

  setColumns(columns) {
    this.columns = columns;
    const widths = columns.map((c) => c.width || 'minmax(80px, 1fr)');
    this.el.style.setProperty('--vt-cols', widths.join(' '));
    // The rows' least width, so that a narrow window scrolls sideways instead of squeezing.
    const least = widths.reduce((sum, w) => sum + (parseFloat((/(\d+(?:\.\d+)?)px/.exec(w) || [0, 80])[1]) || 0), 0);
    this.el.style.setProperty('--vt-min', least + 'px');
    if (!columns.some((c) => c.id === this.sort.id)) this.sort = { id: columns[0].id, dir: 1 };
    this.head.replaceChildren(...columns.map((c) => {
      const b = h('button', { type: 'button', class: 'vt-sort', 'data-col': c.id, title: `Sort by ${c.label}` }, c.label, h('span', { class: 'vt-arrow', 'aria-hidden': 'true' }));
      b.addEventListener('click', () => this.setSort(c.id));
      return h('div', { class: 'vt-th' + (c.align === 'end' ? ' end' : ''), role: 'columnheader' }, b);
    }));
    for (const r of this.pool) r.remove();
    this.pool = [];
    this.updateSortMarks();
    this.invalidate();
  }

  setSort(id) {
    this.sort = this.sort.id === id ? { id, dir: -this.sort.dir } : { id, dir: 1 };
    if (this.opts.onSort) this.opts.onSort(this.sort);
    this.updateSortMarks();
    this.invalidate();
  }

  updateSortMarks() {
    this.columns.forEach((c, i) => {
      const th = this.head.children[i];
      if (!th) return;
      if (c.id === this.sort.id) th.setAttribute('aria-sort', this.sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    });
  }

  // setModels replaces the rows; the Map is kept by reference and may be changed in
  // place by the caller before calling invalidate().
  setModels(models) {
    this.models = models;
    this.invalidate();
  }

  setFilter(fn) {
    this.filter = fn;
    this.invalidate();
  }

  invalidate() {
    this.dirty = true;
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  // flush draws now: used when a view must show its rows in the same task (first paint).
  flush() {
    cancelAnimationFrame(this.frame);
    this.render();
  }

  recompute() {
    const col = this.columns.findIndex((c) => c.id === this.sort.id);
    const dir = this.sort.dir;
    const f = this.filter;
    const out = [];
    for (const m of this.models.values()) if (!f || f(m)) out.push(m);
    out.sort((a, b) => {
      const x = a.keys[col];
      const y = b.keys[col];
      let r;
      if (typeof x === 'number' && typeof y === 'number') r = x - y;
      else r = collator.compare(String(x ?? ''), String(y ?? ''));
      if (r === 0) r = collator.compare(a.name, b.name) || (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0);
      return r * dir;
    });
    this.view = out;
    this.dirty = false;
    if (this.opts.onCount) this.opts.onCount(out.length);
  }

  render() {
    this.frame = 0;
    if (this.dirty) this.recompute();
    const rh = this.rowHeight;
    const n = this.view.length;
    this.spacer.style.height = n * rh + 'px';
    const top = Math.max(0, this.scroller.scrollTop - this.head.offsetHeight);
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / rh) - this.margin);
    const last = Math.min(n, Math.ceil((top + height) / rh) + this.margin);
    this.body.style.transform = `translateY(${first * rh}px)`;
    const count = Math.max(0, last - first);
    while (this.pool.length < count) {
      const r = this.newRow();
      this.pool.push(r);
      this.body.append(r);
    }
    const now = Date.now();
    for (let k = 0; k < this.pool.length; k++) {
      const r = this.pool[k];
      if (k >= count) {
        if (!r.hidden) {
          r.hidden = true;
          r.className = 'vt-row';
        }
        r._m = null;
        continue;
      }
      if (r.hidden) r.hidden = false;
      this.fill(r, this.view[first + k], first + k, now);
    }
    this.showEmpty(n === 0);
    if (this.onRender) this.onRender(n);
  }

  newRow() {
    const r = h('div', { class: 'vt-row', role: 'row', 'data-row': '' });
    for (const c of this.columns) {
      r.append(h('div', { class: 'vt-cell' + (c.align === 'end' ? ' end' : ''), role: 'gridcell', 'data-field': c.id }));
    }
    return r;
  }

  fill(r, m, index, now) {
    r._index = index;
    const cls = 'vt-row' + (m.uid === this.focusUid ? ' is-focused' : '') + (m.uid === this.selectedUid ? ' is-selected' : '');
    if (r.className !== cls) r.className = cls;
    if (r._m !== m) {
      r._m = m;
      r.dataset.name = m.name;
      r.dataset.namespace = m.namespace;
      r.dataset.uid = m.uid;
      for (let i = 0; i < this.columns.length; i++) {
        const c = this.columns[i];
        const cell = r.children[i];
        const v = m.cells[i];
        if (c.type === 'age') continue;
        if (c.type === 'links') {
          cell.replaceChildren(...linkCell(v));
          cell.title = v.map((l) => l.href).join('\n');
        } else if (c.type === 'status') {
          const t = tone(v);
          cell.className = 'vt-cell status' + (t ? ' tone-' + t : '');
          cell.textContent = v;
        } else {
          const s = v === undefined || v === null ? '' : String(v);
          if (cell.textContent !== s) cell.textContent = s;
          cell.title = s.length > 24 ? s : '';
        }
      }
    }
    this.fillAges(r, m, now);
  }

  fillAges(r, m, now) {
    for (let i = 0; i < this.columns.length; i++) {
      if (this.columns[i].type !== 'age') continue;
      const v = m.cells[i];
      const s = v ? age(v, now) : '<none>';
      const cell = r.children[i];
      if (cell.textContent !== s) cell.textContent = s;
    }
  }

  refreshAges() {
    if (!this.columns.some((c) => c.type === 'age')) return;
    const now = Date.now();
    for (const r of this.pool) if (r._m && !r.hidden) this.fillAges(r, r._m, now);
  }

  showEmpty(empty) {
    const content = empty && this.opts.empty ? this.opts.empty() : null;
    if (!content) {
      this.emptyEl.hidden = true;
      return;
    }
    this.emptyEl.replaceChildren(content);
    this.emptyEl.hidden = false;
  }

  onClick(e) {
    if (e.target.closest('a')) return;
    const r = e.target.closest('.vt-row');
    if (!r || !r._m) return;
    this.focusUid = r._m.uid;
    this.schedule();
    if (this.opts.onOpen) this.opts.onOpen(r._m);
  }

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / this.rowHeight) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, j: 1, k: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      e.preventDefault();
      e.stopPropagation();
      this.move(moves[e.key]);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      this.open();
    }
  }

  focusIndex() {
    if (!this.focusUid) return -1;
    if (this.dirty) this.recompute();
    return this.view.findIndex((m) => m.uid === this.focusUid);
  }

  // move shifts the row focus by delta rows and scrolls it into view.
  move(delta) {
    if (this.dirty) this.recompute();
    const n = this.view.length;
    if (!n) return;
    let i = this.focusIndex();
    if (i < 0) i = delta > 0 ? 0 : n - 1;
    else i = Math.min(n - 1, Math.max(0, i + (Number.isFinite(delta) ? delta : delta > 0 ? n : -n)));
    this.focusUid = this.view[i].uid;
    this.reveal(i);
    this.schedule();
  }

  reveal(i) {
    const rh = this.rowHeight;
    const head = this.head.offsetHeight;
    const top = i * rh;
    const viewTop = this.scroller.scrollTop;
    const viewH = this.scroller.clientHeight - head;
    if (top < viewTop) this.scroller.scrollTop = top;
    else if (top + rh > viewTop + viewH) this.scroller.scrollTop = top + rh - viewH;
  }

  open() {
    const i = this.focusIndex();
    if (i >= 0 && this.opts.onOpen) this.opts.onOpen(this.view[i]);
  }

  select(uid) {
    this.selectedUid = uid || '';
    this.schedule();
  }

  // focus puts the keyboard in the table, on the first row when no row has the focus.
  focus() {
    this.scroller.focus({ preventScroll: true });
    if (this.focusIndex() < 0) this.move(1);
    else this.reveal(this.focusIndex());
  }
}

function linkCell(links) {
  if (!links.length) return [''];
  const shown = links.slice(0, 2).map((l) => h('a', { href: l.href, target: '_blank', rel: 'noopener noreferrer', class: 'ext' }, l.text));
  if (links.length > 2) shown.push(h('span', { class: 'more' }, `+${links.length - 2}`));
  return shown;
}
