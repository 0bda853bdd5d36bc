// A modal confirmation built on <dialog>: the browser traps focus and closes it on
// Escape. onConfirm may fail; its error stays in the dialog so the user can read it.

import { h } from '../dom.js';

export function confirmDialog({ title, body, confirm, action, danger = true, onConfirm }) {
  return new Promise((resolve) => {
    const err = h('p', { class: 'dialog-error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'button', class: 'btn' + (danger ? ' btn-danger' : ' btn-primary'), 'data-action': action }, confirm);
    const cancel = h('button', { type: 'button', class: 'btn', 'data-action': 'cancel' }, 'Cancel');
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('h2', { id: 'dialog-title' }, title),
      h('div', { class: 'dialog-body' }, body),
      err,
      h('div', { class: 'dialog-actions' }, cancel, ok));
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      resolve(v);
    };
    cancel.addEventListener('click', () => finish(false));
    dlg.addEventListener('close', () => finish(false));
    dlg.addEventListener('keydown', (e) => e.stopPropagation());
    ok.addEventListener('click', async () => {
      ok.disabled = true;
      cancel.disabled = true;
      err.hidden = true;
      try {
        if (onConfirm) await onConfirm();
        finish(true);
      } catch (e) {
        err.textContent = e.message;
        err.hidden = false;
        ok.disabled = false;
        cancel.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus();
  });
}
