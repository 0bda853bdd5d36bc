// Empty and failed states, said in sentences: who may not do what, the server's own
// words in small print, and what to do about it.

import { h } from '../dom.js';
import { session } from '../session.js';

// explain builds the .empty-state for a failed request. what: {verb, resource, ns,
// namespaced, selector}; onRetry adds a Retry button.
export function explain(err, what, onRetry) {
  const user = session.user && session.user.name;
  const you = user ? `You (${user})` : 'You';
  const where = !what.namespaced ? '' : what.ns ? ` in namespace ${what.ns}` : ' across all namespaces';
  const res = what.resource;
  let title;
  let hint = '';
  switch (err.code) {
    case 403:
      title = `${you} may not ${what.verb} ${res}${where}.`;
      hint = !what.namespaced || !what.ns
        ? `Ask your cluster administrator for a ClusterRole that allows ${verbs(what.verb)} on ${res}, or pick a namespace you have access to.`
        : `Ask your cluster administrator for a Role that allows ${verbs(what.verb)} on ${res} in namespace ${what.ns}.`;
      break;
    case 401:
      title = 'Your sign-in is no longer accepted by the API server.';
      hint = 'Open the dashboard again through kubectl proxy or your identity provider, then reload this page.';
      break;
    case 404:
      title = what.verb === 'get' ? `This ${what.kind || 'object'} no longer exists.` : `The API server does not serve ${res}${where}.`;
      hint = what.verb === 'get' ? 'It may have been deleted; close this panel to return to the list.' : '';
      break;
    case 400:
      if (what.selector) {
        title = `The label selector “${what.selector}” is not valid.`;
        hint = 'Write it like app=kubia, tier in (web,api), !canary.';
      } else {
        title = `The API server refused to ${what.verb} ${res}.`;
      }
      break;
    case 0:
      title = 'The dashboard server could not be reached.';
      hint = 'Check that the API server and your proxy are running; the dashboard retries by itself.';
      break;
    default:
      title = `The API server could not ${what.verb} ${res}${where} (HTTP ${err.code}).`;
      hint = 'It may be starting up or overloaded; the dashboard retries by itself.';
  }
  return h('div', { class: 'empty-state tone-bad', role: 'alert' },
    h('p', { class: 'es-title' }, title),
    err.message && err.message !== title ? h('p', { class: 'es-detail' }, err.message) : null,
    hint ? h('p', { class: 'es-hint' }, hint) : null,
    onRetry ? h('button', { type: 'button', class: 'btn', 'data-action': 'retry', onclick: onRetry }, 'Retry') : null);
}

function verbs(v) {
  return v === 'list' ? 'list and watch' : v;
}

export function emptyState(title, hint) {
  return h('div', { class: 'empty-state' }, h('p', { class: 'es-title' }, title), hint ? h('p', { class: 'es-hint' }, hint) : null);
}

export function loading(text) {
  return h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}
