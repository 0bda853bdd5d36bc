// The detail panel of one object: its status and facts (live), its YAML, an editor,
// a pod's logs and terminal, and the actions Scale and Delete. It slides over the list
// it was opened from, which keeps running behind it.

import { h, toast } from '../dom.js';
import { getYAML, putYAML, remove, scale } from '../api.js';
import { acquire, priority } from '../live.js';
import { apiPath, byId, nodeAddress } from '../kinds.js';
import { YamlEditor } from './editor.js';
import { LogViewer } from './logs.js';
import { TerminalView } from './terminal.js';
import { confirmDialog } from './dialog.js';
import { objectFacts, related, Events } from './sections.js';
import { badge } from './parts.js';
import { emptyState, explain, loading } from './states.js';

export class Detail {
  constructor(kind, ns, name, tab, nav) {
    this.kind = kind;
    this.ns = kind.namespaced ? ns : '';
    this.name = name;
    this.nav = nav;
    this.path = apiPath(kind, this.ns, name);
    this.what = { verb: 'get', resource: kind.id, kind: kind.kind.toLowerCase(), ns: this.ns, namespaced: kind.namespaced };
    this.obj = null;
    this.tab = '';
    this.parts = [];
    this.nodeIPs = [];

    this.status = h('span', { class: 'detail-status' });
    const closeBtn = h('button', { type: 'button', class: 'icon-btn', 'data-action': 'close', 'aria-label': 'Close details', title: 'Close (Esc)', onclick: () => nav.close() }, '✕');
    this.tabs = {};
    const tabBtn = (id, label) => {
      const b = h('button', { type: 'button', class: 'tab', role: 'tab', 'data-action': id, 'aria-selected': 'false', onclick: () => nav.tab(id === 'overview' ? '' : id) }, label);
      this.tabs[id] = b;
      return b;
    };
    this.scaleBtn = kind.scalable ? h('button', { type: 'button', class: 'btn', 'data-action': 'scale', 'aria-expanded': 'false', onclick: () => this.toggleScale() }, 'Scale') : null;
    this.deleteBtn = h('button', { type: 'button', class: 'btn btn-danger-quiet', 'data-action': 'delete', onclick: () => this.confirmDelete() }, 'Delete');
    this.scaleForm = kind.scalable ? this.buildScale() : null;
    this.body = h('div', { class: 'detail-body', tabindex: '-1' });
    this.el = h('aside', {
      id: 'detail',
      class: 'detail',
      'data-kind': kind.kind,
      'data-resource': kind.id,
      'data-name': name,
      'data-namespace': this.ns,
      'aria-label': `${kind.kind} ${name}`,
    },
    h('header', { class: 'detail-head' },
      h('div', { class: 'detail-title' },
        h('div', { class: 'detail-kind' }, kind.kind, this.ns ? h('span', { class: 'muted' }, ' in ', nav.link('namespaces', '', this.ns)) : null),
        h('h2', { title: name }, name),
        this.status),
      closeBtn),
    h('div', { class: 'detail-actions' },
      h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Views of this object' },
        tabBtn('overview', 'Overview'), tabBtn('yaml', 'YAML'), tabBtn('edit', 'Edit'), kind.logs ? tabBtn('logs', 'Logs') : null,
        kind.id === 'pods' ? tabBtn('terminal', 'Terminal') : null),
      h('span', { class: 'spacer' }),
      this.scaleBtn, this.deleteBtn),
    this.scaleForm,
    this.body);

    if (this.tabs.terminal) this.tabs.terminal.hidden = true; // until the pod is seen running

    // The overview's parts: facts redrawn from the object, live lists built once.
    this.topEl = h('div', { class: 'cards' });
    this.relatedEl = h('div', { class: 'cards' });
    this.restEl = h('div', { class: 'cards' });
    this.metaEl = h('div', { class: 'cards' });
    this.events = new Events({ kind, ns: this.ns, name });
    this.overview = h('div', { class: 'overview-tab' }, this.topEl, this.relatedEl, this.restEl, h('div', { class: 'cards' }, this.events.el), this.metaEl);
    this.body.append(loading(`Loading ${kind.kind.toLowerCase()} ${name}…`));

    this.lease = acquire(apiPath(kind, this.ns), { fieldSelector: 'metadata.name=' + name }, priority.object);
    this.unsub = this.lease.list.subscribe((c, l) => this.onChange(l));
    if (kind.id === 'services') {
      this.nodes = acquire(apiPath(byId.get('nodes'), ''), {}, priority.header);
      this.unsubNodes = this.nodes.list.subscribe((c, l) => this.onNodes(l));
      this.onNodes(this.nodes.list);
    }
    this.setTab(tab);
    this.onChange(this.lease.list);
  }

  destroy() {
    this.unsub();
    this.lease.release();
    if (this.nodes) {
      this.unsubNodes();
      this.nodes.release();
    }
    this.events.destroy();
    for (const p of this.parts) p.destroy();
    if (this.logs) this.logs.destroy();
    if (this.term) this.term.destroy();
    if (this.yamlCtrl) this.yamlCtrl.abort();
    this.el.remove();
  }

  onNodes(list) {
    this.nodeIPs = [...list.items.values()].map(nodeAddress).filter(Boolean).sort();
    if (this.obj && this.tab === '') this.renderFacts();
  }

  onChange(list) {
    if (list.state === 'loading') return;
    if (list.state === 'error') {
      this.obj = null;
      this.showProblem(explain(list.error, this.what, () => list.retry()));
      return;
    }
    const obj = list.items.values().next().value || null;
    if (!obj) {
      this.obj = null;
      this.status.replaceChildren(badge('Deleted', true));
      this.showProblem(emptyState(`This ${this.kind.kind.toLowerCase()} no longer exists.`, 'It was deleted. Close this panel to return to the list.'));
      return;
    }
    const first = !this.obj;
    const wasRunning = this.running;
    this.obj = obj;
    this.running = this.kind.id === 'pods' && (obj.status || {}).phase === 'Running';
    if (this.tabs.terminal) this.tabs.terminal.hidden = !this.running;
    this.gone = false;
    this.status.replaceChildren(badge(this.kind.status(obj), true));
    if (this.scaleBtn) this.scaleBtn.disabled = false;
    this.deleteBtn.disabled = false;
    this.renderFacts();
    this.syncRelated();
    if (first && ['', 'logs', 'terminal'].includes(this.tab)) this.renderTab();
    else if (this.tab === 'terminal' && this.running && !wasRunning && !this.term) this.renderTab();
  }

  showProblem(node) {
    this.gone = true;
    if (this.scaleBtn) this.scaleBtn.disabled = true;
    this.deleteBtn.disabled = true;
    if (this.tab === 'edit' && this.editor) return; // keep the user's text on screen
    this.body.replaceChildren(node);
  }

  renderFacts() {
    const ctx = {
      link: (k, ns, name, text) => this.nav.link(k, ns, name, text),
      listLink: (k, ns, text) => this.nav.listLink(k, ns, text),
      nodeIPs: this.nodeIPs,
    };
    const f = objectFacts(this.kind, this.obj, ctx);
    this.topEl.replaceChildren(...f.top);
    this.restEl.replaceChildren(...f.rest);
    this.metaEl.replaceChildren(f.meta);
  }

  // syncRelated builds the live lists once, and again only if what they select changed.
  syncRelated() {
    const key = this.kind.selector ? this.kind.selector(this.obj) : this.obj.metadata.name;
    if (key === this.relatedKey) return;
    this.relatedKey = key;
    for (const p of this.parts) p.destroy();
    this.parts = related(this.kind, this.obj, this.nav);
    this.relatedEl.replaceChildren(...this.parts.map((p) => p.el));
  }

  setTab(tab) {
    const t = ['yaml', 'edit', 'logs'].includes(tab) && (tab !== 'logs' || this.kind.logs) ? tab
      : tab === 'terminal' && this.tabs.terminal ? tab : '';
    for (const [id, b] of Object.entries(this.tabs)) b.setAttribute('aria-selected', String((id === 'overview' ? '' : id) === t));
    if (t === this.tab && this.shown) return;
    this.tab = t;
    if (this.obj || t === 'yaml' || t === 'edit') this.renderTab();
  }

  renderTab() {
    this.shown = true;
    if (this.logs && this.tab !== 'logs') {
      this.logs.destroy();
      this.logs = null;
    }
    if (this.term && this.tab !== 'terminal') {
      this.term.destroy();
      this.term = null;
    }
    if (this.tab !== 'edit') this.editor = null;
    if (this.yamlCtrl) this.yamlCtrl.abort();
    switch (this.tab) {
      case '':
        if (this.obj) this.body.replaceChildren(this.overview);
        break;
      case 'yaml':
        this.showYAML();
        break;
      case 'edit':
        this.showEditor();
        break;
      case 'logs':
        if (!this.obj) return;
        if (!this.logs) this.logs = new LogViewer(this.obj, this.path);
        this.body.replaceChildren(this.logs.el);
        break;
      case 'terminal':
        if (!this.obj) return;
        if (!this.term && !this.running) {
          this.body.replaceChildren(emptyState('This pod is not running.', 'A terminal opens a shell in a running container; this tab connects once the pod runs.'));
          return;
        }
        if (!this.term) this.term = new TerminalView(this.obj);
        this.body.replaceChildren(this.term.el);
        if (this.el.isConnected) this.term.focus();
        break;
    }
  }

  async fetchYAML() {
    this.yamlCtrl = new AbortController();
    return getYAML(this.path, this.yamlCtrl.signal);
  }

  async showYAML() {
    const pre = h('pre', { class: 'code yaml', id: 'yaml', tabindex: '0' });
    const copy = h('button', { type: 'button', class: 'btn', 'data-action': 'copy', onclick: () => navigator.clipboard.writeText(pre.textContent).then(() => toast('Copied the YAML.')) }, 'Copy');
    const edit = h('button', { type: 'button', class: 'btn', onclick: () => this.nav.tab('edit') }, 'Edit this YAML');
    this.body.replaceChildren(loading('Loading YAML…'));
    try {
      const text = this.savedYAML || await this.fetchYAML();
      this.savedYAML = '';
      if (this.tab !== 'yaml') return;
      pre.textContent = text;
      this.body.replaceChildren(h('div', { class: 'editor-bar' }, edit, copy), pre);
    } catch (err) {
      if (err.name === 'AbortError') return;
      this.body.replaceChildren(explain(err, this.what, () => this.showYAML()));
    }
  }

  async showEditor() {
    this.body.replaceChildren(loading('Loading YAML…'));
    let text;
    try {
      text = await this.fetchYAML();
    } catch (err) {
      if (err.name === 'AbortError') return;
      this.body.replaceChildren(explain(err, this.what, () => this.showEditor()));
      return;
    }
    if (this.tab !== 'edit') return;
    this.editor = new YamlEditor({
      text,
      onSave: async (t) => {
        const saved = await putYAML(this.path, t);
        toast(`Saved ${this.kind.kind.toLowerCase()} ${this.name}.`);
        this.savedYAML = saved;
        this.editor = null;
        this.nav.tab('yaml');
      },
      onCancel: () => this.nav.tab('yaml'),
      onReload: () => this.fetchYAML(),
    });
    this.body.replaceChildren(this.editor.el);
    this.editor.focus();
  }

  buildScale() {
    this.replicas = h('input', { id: 'replicas', type: 'number', min: '0', step: '1', inputmode: 'numeric', class: 'num-input' });
    this.scaleMsg = h('span', { class: 'form-error', role: 'alert' });
    const apply = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'scale-apply', onclick: () => this.applyScale() }, 'Apply');
    this.replicas.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.applyScale();
      } else if (e.key === 'Escape') {
        e.stopPropagation();
        this.toggleScale(false);
      }
    });
    this.scaleApply = apply;
    return h('div', { class: 'scale-form', hidden: true },
      h('label', { for: 'replicas' }, 'Replicas'), this.replicas, apply,
      h('button', { type: 'button', class: 'btn', onclick: () => this.toggleScale(false) }, 'Cancel'),
      this.scaleMsg);
  }

  toggleScale(open = this.scaleForm.hidden) {
    this.scaleForm.hidden = !open;
    this.scaleBtn.setAttribute('aria-expanded', String(open));
    this.scaleMsg.textContent = '';
    if (open) {
      this.replicas.value = String((this.obj && this.obj.spec.replicas) ?? 1);
      this.replicas.focus();
      this.replicas.select();
    }
  }

  async applyScale() {
    const n = Number(this.replicas.value);
    if (!Number.isInteger(n) || n < 0) {
      this.scaleMsg.textContent = 'Enter a whole number of replicas, 0 or more.';
      return;
    }
    this.scaleApply.disabled = true;
    this.scaleMsg.textContent = '';
    try {
      await scale(this.path, n);
      toast(`Scaled ${this.kind.kind.toLowerCase()} ${this.name} to ${n} replica${n === 1 ? '' : 's'}.`);
      this.toggleScale(false);
    } catch (err) {
      this.scaleMsg.textContent = err.code === 403 ? `You may not scale this ${this.kind.kind.toLowerCase()}: ${err.message}` : err.message;
    } finally {
      this.scaleApply.disabled = false;
    }
  }

  async confirmDelete() {
    const k = this.kind.kind.toLowerCase();
    const owned = this.obj && (this.obj.metadata.ownerReferences || []).some((r) => r.controller);
    const ok = await confirmDialog({
      title: `Delete ${k} ${this.name}?`,
      body: [
        h('p', null, `This deletes ${k} `, h('strong', null, this.name), this.ns ? ` in namespace ${this.ns}` : '', '.'),
        owned ? h('p', { class: 'muted' }, 'Its controller will make a new one to replace it.') : null,
        this.kind.scalable || this.kind.id === 'jobs' || this.kind.id === 'daemonsets' ? h('p', { class: 'muted' }, 'The pods it owns are deleted with it.') : null,
      ],
      confirm: 'Delete',
      action: 'confirm-delete',
      onConfirm: () => remove(this.path),
    });
    if (!ok) return;
    toast(`Deleted ${k} ${this.name}.`);
    this.nav.close();
  }

  focus() {
    if (this.term) this.term.focus();
    else this.tabs.overview.focus({ preventScroll: true });
  }
}
