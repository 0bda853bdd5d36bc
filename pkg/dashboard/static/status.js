// What state an object is in, in the words kubectl uses, and the tone it is shown in:
// ok (green), warn (amber), bad (red), off (grey), or "" for plain text.

// podStatus follows kubectl's printer: the phase, or the reason of the container
// that is not running, "Init:" while init containers run, Terminating once deleted.
export function podStatus(pod) {
  const st = pod.status || {};
  let reason = st.reason || st.phase || 'Pending';
  const inits = st.initContainerStatuses || [];
  const specInits = (pod.spec && pod.spec.initContainers) || [];
  let initializing = false;
  for (let i = 0; i < inits.length; i++) {
    const c = inits[i];
    const s = c.state || {};
    if (s.terminated && s.terminated.exitCode === 0) continue;
    initializing = true;
    if (s.terminated) {
      reason = 'Init:' + (s.terminated.reason || (s.terminated.signal ? 'Signal:' + s.terminated.signal : 'ExitCode:' + s.terminated.exitCode));
    } else if (s.waiting && s.waiting.reason && s.waiting.reason !== 'PodInitializing') {
      reason = 'Init:' + s.waiting.reason;
    } else {
      reason = `Init:${i}/${specInits.length || inits.length}`;
    }
    break;
  }
  if (!initializing) {
    let running = false;
    const cs = st.containerStatuses || [];
    for (let i = cs.length - 1; i >= 0; i--) {
      const s = cs[i].state || {};
      if (s.waiting && s.waiting.reason) reason = s.waiting.reason;
      else if (s.terminated && s.terminated.reason) reason = s.terminated.reason;
      else if (s.terminated) reason = s.terminated.signal ? 'Signal:' + s.terminated.signal : 'ExitCode:' + s.terminated.exitCode;
      else if (cs[i].ready && s.running) running = true;
    }
    if (reason === 'Completed' && running) {
      const ready = (st.conditions || []).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  // A deleted pod that has already finished keeps the word for how it finished.
  if (pod.metadata.deletionTimestamp) {
    if (st.reason === 'NodeLost') reason = 'Unknown';
    else if (st.phase !== 'Succeeded' && st.phase !== 'Failed') reason = 'Terminating';
  }
  return reason;
}

export function podReady(pod) {
  const total = ((pod.spec && pod.spec.containers) || []).length;
  const ready = ((pod.status && pod.status.containerStatuses) || []).filter((c) => c.ready).length;
  return [ready, total];
}

export function podRestarts(pod) {
  let n = 0;
  for (const c of (pod.status && pod.status.containerStatuses) || []) n += c.restartCount || 0;
  return n;
}

const toneOf = new Map([
  ...['Running', 'Ready', 'Complete', 'Completed', 'Succeeded', 'Active', 'Available', 'Bound', 'Scheduled'].map((s) => [s, 'ok']),
  ...['Pending', 'ContainerCreating', 'PodInitializing', 'Progressing', 'Scaling', 'Suspended', 'Warning', 'SchedulingDisabled'].map((s) => [s, 'warn']),
  ...['Failed', 'CrashLoopBackOff', 'Error', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'OOMKilled', 'Evicted',
    'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'ContainerCannotRun', 'NotReady', 'Unavailable',
    'DeadlineExceeded', 'BackoffLimitExceeded', 'NodeAffinity', 'OutOfcpu', 'OutOfmemory', 'OutOfpods', 'UnexpectedAdmissionError'].map((s) => [s, 'bad']),
  ...['Terminating', 'Unknown', 'Scaled to 0', 'Inactive'].map((s) => [s, 'off']),
]);

export function tone(status) {
  if (!status) return '';
  const t = toneOf.get(status);
  if (t) return t;
  if (status.startsWith('Init:')) return /Init:\d+\/\d+/.test(status) ? 'warn' : 'bad';
  if (/^(Signal|ExitCode):/.test(status) || /Error|BackOff|Failed/.test(status)) return 'bad';
  if (status.includes('NotReady')) return 'bad';
  if (status.startsWith('Ready')) return 'ok';
  return '';
}

// replicaStatus sums up a controller from its counts: Ready when all desired replicas
// are ready, Progressing while some are not, Scaled to 0 when none are wanted.
export function replicaStatus(desired, ready) {
  if (!desired) return ready ? 'Progressing' : 'Scaled to 0';
  return ready >= desired ? 'Ready' : 'Progressing';
}

function cond(obj, type) {
  return ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);
}

export function deploymentStatus(d) {
  const p = cond(d, 'Progressing');
  if (p && p.status === 'False' && p.reason === 'ProgressDeadlineExceeded') return 'Failed';
  const desired = d.spec.replicas ?? 1;
  const st = d.status || {};
  if (desired && st.readyReplicas >= desired && (st.updatedReplicas ?? 0) >= desired) return 'Ready';
  const a = cond(d, 'Available');
  if (desired && a && a.status === 'False' && !st.availableReplicas) return 'Unavailable';
  return replicaStatus(desired, st.readyReplicas || 0);
}

export function jobStatus(j) {
  const st = j.status || {};
  if ((st.conditions || []).some((c) => c.type === 'Complete' && c.status === 'True')) return 'Complete';
  if ((st.conditions || []).some((c) => c.type === 'Failed' && c.status === 'True')) return 'Failed';
  if ((st.conditions || []).some((c) => c.type === 'Suspended' && c.status === 'True') || (j.spec && j.spec.suspend)) return 'Suspended';
  if (j.metadata.deletionTimestamp) return 'Terminating';
  return 'Running';
}

export function nodeStatus(n) {
  const r = cond(n, 'Ready');
  let s = !r ? 'Unknown' : r.status === 'True' ? 'Ready' : r.status === 'False' ? 'NotReady' : 'Unknown';
  if (n.spec && n.spec.unschedulable) s += ',SchedulingDisabled';
  return s;
}
