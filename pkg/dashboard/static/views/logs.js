// Pod logs: the last 1,000 lines of one container, then followed as the pod writes
// them. The view keeps to the bottom while the reader is there, and stays put once
// they scroll up to read.

import { h } from '../dom.js';
import { k8sURL, readText, request } from '../api.js';
import { holdStream } from '../live.js';

const keep = 2_000_000; // characters; older text is dropped past this

export class LogViewer {
  constructor(pod, path) {
    this.path = path;
    const spec = pod.spec || {};
    const names = [...(spec.containers || []).map((c) => c.name), ...(spec.initContainers || []).map((c) => c.name)];
    const preferred = (pod.metadata.annotations || {})['kubectl.kubernetes.io/default-container'];
    this.container = names.includes(preferred) ? preferred : names[0] || '';
    this.select = h('select', { id: 'log-container', 'aria-label': 'Container' },
      names.map((n) => h('option', { value: n, selected: n === this.container }, n)));
    this.select.addEventListener('change', () => {
      this.container = this.select.value;
      this.start();
    });
    this.follow = h('input', { type: 'checkbox', checked: true, id: 'log-follow' });
    this.follow.addEventListener('change', () => this.start());
    this.wrap = h('input', { type: 'checkbox', id: 'log-wrap' });
    this.wrap.addEventListener('change', () => this.pre.classList.toggle('wrap', this.wrap.checked));
    this.state = h('span', { class: 'log-state muted', 'aria-live': 'polite' });
    this.again = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => this.start() }, 'Reconnect');
    this.pre = h('pre', { id: 'logs', class: 'logs', tabindex: '0', 'aria-label': 'Log output' });
    this.el = h('div', { class: 'log-view' },
      h('div', { class: 'editor-bar' },
        h('label', { class: 'inline' }, 'Container ', this.select),
        h('label', { class: 'inline' }, this.follow, ' Follow'),
        h('label', { class: 'inline' }, this.wrap, ' Wrap lines'),
        h('span', { class: 'spacer' }),
        this.state, this.again),
      this.pre);
    this.pending = '';
    this.frame = 0;
    this.size = 0;
    this.start();
  }

  async start() {
    this.stop();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    this.giveBack = holdStream();
    this.pre.textContent = '';
    this.size = 0;
    this.pending = '';
    this.again.hidden = true;
    this.setState('Connecting…');
    const params = { container: this.container, tailLines: '1000' };
    if (this.follow.checked) params.follow = 'true';
    try {
      const res = await request(k8sURL(this.path + '/log', params), { signal: ctrl.signal, accept: 'text/plain' });
      this.setState(this.follow.checked ? 'Following' : 'Last 1,000 lines');
      await readText(res, (s) => this.push(s));
      if (ctrl.signal.aborted) return;
      this.flush();
      this.setState(this.follow.checked ? 'The log stream ended (the container may have stopped).' : '');
      this.again.hidden = !this.follow.checked;
      if (!this.size) this.pre.textContent = '';
    } catch (err) {
      if (ctrl.signal.aborted || err.name === 'AbortError') return;
      this.flush();
      const why = err.code === 403 ? 'You may not read the logs of this pod'
        : err.code === 400 ? 'The container has no logs to show (it may not have started)'
          : `The logs could not be read (HTTP ${err.code || 'error'})`;
      this.setState('');
      this.pre.append((this.size ? '\n' : '') + `— ${why}: ${err.message}`);
      this.again.hidden = false;
    } finally {
      // A stream that ended gives its connection back to the live lists.
      if (this.ctrl === ctrl && this.giveBack) {
        this.giveBack();
        this.giveBack = null;
      }
    }
  }

  setState(s) {
    this.state.textContent = s;
  }

  push(s) {
    this.pending += s;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.pending) return;
    const pre = this.pre;
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    pre.append(this.pending);
    this.size += this.pending.length;
    this.pending = '';
    if (this.size > keep) {
      pre.textContent = pre.textContent.slice(-keep / 2);
      this.size = pre.textContent.length;
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  stop() {
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    if (this.giveBack) this.giveBack();
    this.giveBack = null;
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  destroy() {
    this.stop();
  }
}
