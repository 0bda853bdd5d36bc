// The YAML editor: a textarea with line numbers. A failed save leaves the text as the
// user wrote it and marks each cause of the failure at the line of its field, found
// by walking the field path through the indentation; causes it cannot place are
// listed at the top with the server's message.

import { h } from '../dom.js';
import { fieldLine } from '../yaml.js';

const lineHeight = 20; // keep in step with --code-lh in style.css
const padTop = 8;

export class YamlEditor {
  // opts: text, onSave(text) → Promise, onCancel(), onReload() → Promise<text>
  constructor(opts) {
    this.opts = opts;
    this.ta = h('textarea', {
      id: 'yaml-editor',
      class: 'code-input',
      spellcheck: 'false',
      autocapitalize: 'off',
      autocomplete: 'off',
      wrap: 'off',
      'aria-label': 'YAML of the object',
    });
    this.ta.value = opts.text;
    this.gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
    // Bands lie under the transparent textarea, notes over it.
    this.marks = h('div', { class: 'marks', 'aria-hidden': 'true' });
    this.notes = h('div', { class: 'notes' });
    this.error = h('div', { id: 'edit-error', class: 'edit-error', role: 'alert', hidden: true });
    this.saveBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'save', onclick: () => this.save() }, 'Save');
    this.cancelBtn = h('button', { type: 'button', class: 'btn', 'data-action': 'cancel', onclick: () => opts.onCancel() }, 'Cancel');
    this.el = h('div', { class: 'editor' },
      h('div', { class: 'editor-bar' }, this.saveBtn, this.cancelBtn,
        h('span', { class: 'muted small' }, 'Ctrl+S saves. The server checks the object; nothing changes until it accepts it.')),
      this.error,
      h('div', { class: 'code-frame' }, this.gutter, h('div', { class: 'code-area' }, this.marks, this.ta, this.notes)));
    this.lines = 0;
    this.numbers();
    this.ta.addEventListener('input', () => this.numbers());
    this.ta.addEventListener('scroll', () => this.sync());
    this.ta.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === 's') {
        e.preventDefault();
        this.save();
      } else if (e.key === 'Escape') {
        e.stopPropagation();
        this.ta.blur();
      }
    });
  }

  focus() {
    this.ta.focus({ preventScroll: true });
    this.ta.setSelectionRange(0, 0);
  }

  numbers() {
    const n = this.ta.value.split('\n').length;
    if (n === this.lines) return;
    this.lines = n;
    let s = '';
    for (let i = 1; i <= n; i++) s += i + '\n';
    this.gutter.textContent = s;
  }

  sync() {
    this.gutter.scrollTop = this.ta.scrollTop;
    this.marks.style.transform = `translateY(${-this.ta.scrollTop}px)`;
    this.notes.style.transform = this.marks.style.transform;
  }

  async save() {
    if (this.busy) return;
    this.busy = true;
    this.saveBtn.disabled = true;
    this.saveBtn.textContent = 'Saving…';
    try {
      await this.opts.onSave(this.ta.value);
      this.clear();
    } catch (err) {
      this.show(err);
    } finally {
      this.busy = false;
      this.saveBtn.disabled = false;
      this.saveBtn.textContent = 'Save';
    }
  }

  clear() {
    this.error.hidden = true;
    this.error.replaceChildren();
    this.marks.replaceChildren();
    this.notes.replaceChildren();
  }

  // show puts the Status message on top and each cause at its field.
  show(err) {
    this.clear();
    const text = this.ta.value;
    const unplaced = [];
    const placed = new Map();
    for (const c of err.causes || []) {
      const where = c.field ? fieldLine(text, c.field) : null;
      const msg = c.field ? `${c.field}: ${c.message}` : c.message;
      if (!where) {
        unplaced.push(msg);
        continue;
      }
      const list = placed.get(where.line) || [];
      list.push(where.exact ? msg : `${msg} (under this field)`);
      placed.set(where.line, list);
    }
    const heading = err.code === 409
      ? 'Someone changed this object since you opened it.'
      : err.code === 422 ? 'The server did not accept the object.' : err.code === 403 ? 'You may not change this object.' : 'Saving failed.';
    this.error.append(
      h('p', { class: 'es-title' }, heading),
      h('p', { class: 'edit-message' }, err.message));
    if (unplaced.length) this.error.append(h('ul', { class: 'unplaced' }, unplaced.map((m) => h('li', { class: 'field-error' }, m))));
    if (err.code === 409 && this.opts.onReload) {
      this.error.append(h('button', {
        type: 'button', class: 'btn', 'data-action': 'reload',
        onclick: async () => {
          const t = await this.opts.onReload();
          this.ta.value = t;
          this.numbers();
          this.clear();
        },
      }, 'Load the latest version (drops your edits)'));
    }
    this.error.hidden = false;
    for (const [line, msgs] of placed) {
      const top = padTop + line * lineHeight;
      const band = h('div', { class: 'line-mark' });
      band.style.top = top + 'px';
      const note = h('div', { class: 'field-error', title: msgs.join('\n') }, msgs.join(' · '));
      note.style.top = top + 'px';
      this.marks.append(band);
      this.notes.append(note);
    }
    if (placed.size) {
      const first = Math.min(...placed.keys());
      this.ta.scrollTop = Math.max(0, first * lineHeight - 3 * lineHeight);
      this.sync();
    }
  }
}
