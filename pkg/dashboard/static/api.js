// The dashboard backend: "k8s/<path>" is the Kubernetes API acting as the signed-in
// user, "whoami" names that user. Every URL is relative, because the dashboard is
// served under a base path that only the browser knows. Every request carries the
// anti-CSRF header; the backend refuses requests without it.

const csrf = { 'X-Skiff-Dashboard': '1' };

// ApiError is a failed request. status is the server's metav1.Status when it sent one,
// so a view can tell Forbidden from Invalid and show the causes at their fields.
export class ApiError extends Error {
  constructor(code, status, fallback) {
    super((status && status.message) || fallback || `request failed with HTTP ${code}`);
    this.code = code;
    this.status = status;
    this.reason = (status && status.reason) || '';
  }
  get causes() {
    return (this.status && this.status.details && this.status.details.causes) || [];
  }
}

export function k8sURL(path, params) {
  let url = 'k8s/' + path.replace(/^\/+/, '');
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += '?' + s;
  }
  return url;
}

export async function request(url, { method = 'GET', headers = {}, body, signal, accept = 'application/json' } = {}) {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: { ...csrf, Accept: accept, ...headers },
      body,
      signal,
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, null, 'The dashboard server could not be reached (' + err.message + ').');
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function errorOf(res) {
  let text = '';
  try {
    text = await res.text();
  } catch { /* the body is only for the message */ }
  let status = null;
  try {
    const j = JSON.parse(text);
    if (j && j.kind === 'Status') status = j;
  } catch { /* not JSON: keep the text */ }
  return new ApiError(res.status, status, text.trim().slice(0, 500) || `HTTP ${res.status} ${res.statusText}`);
}

export async function whoami() {
  const res = await request('whoami');
  return res.json();
}

export async function getYAML(path, signal) {
  const res = await request(k8sURL(path), { accept: 'application/yaml', signal });
  return res.text();
}

export async function putYAML(path, text) {
  const res = await request(k8sURL(path), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/yaml' },
    accept: 'application/yaml',
    body: text,
  });
  return res.text();
}

export async function scale(path, replicas) {
  const res = await request(k8sURL(path + '/scale'), {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ spec: { replicas } }),
  });
  return res.json();
}

// remove deletes an object and, as kubectl does, lets the garbage collector delete
// what it owns in the background.
export async function remove(path) {
  const res = await request(k8sURL(path), {
    method: 'DELETE',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }),
  });
  return res.json().catch(() => null);
}

// termToken asks for a ticket to open a shell in a container. A WebSocket cannot carry
// the anti-CSRF header, so the socket presents this ticket instead: it is good once,
// for a short while.
export async function termToken(namespace, pod, container) {
  const res = await request('term-token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ namespace, pod, container }),
  });
  const { token } = await res.json();
  return token;
}

// readLines calls onLines with each batch of complete lines as the body streams in.
// Lines are split per chunk, not per line, so a burst of thousands of watch events
// costs one pass over the text.
export async function readLines(res, onLines) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const parts = (rest + dec.decode(value, { stream: true })).split('\n');
    rest = parts.pop();
    if (parts.length) onLines(parts);
  }
  rest += dec.decode();
  if (rest.trim()) onLines([rest]);
}

// readText calls onText with each decoded chunk of a plain text stream (pod logs).
export async function readText(res, onText) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const s = dec.decode(value, { stream: true });
    if (s) onText(s);
  }
  const s = dec.decode();
  if (s) onText(s);
}
