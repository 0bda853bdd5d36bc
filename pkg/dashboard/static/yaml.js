// Where a field is in YAML text. The API server writes the YAML (block style, lists
// at their key's indentation); fieldLine finds the line of a field path such as
// "spec.template.spec.containers[0].image" in it, so that a validation error can be
// shown at the field it is about.

// parsePath splits "a.b[0].c[app.kubernetes.io/name]" into ["a","b",0,"c","app.kubernetes.io/name"].
function parsePath(path) {
  const segs = [];
  const re = /([^.[\]]+)|\[([^\]]*)\]/g;
  let m;
  while ((m = re.exec(path))) {
    if (m[1] !== undefined) segs.push(m[1]);
    else segs.push(/^[0-9]+$/.test(m[2]) ? Number(m[2]) : m[2]);
  }
  return segs;
}

// fieldLine returns {line, exact} with the 0-based line of the deepest part of path that
// the text has (exact when the whole path was found), or null when not even its first
// part is there. It walks the indentation the way a reader would: a key is a line at
// the indentation of its block, a list item is a "- " at the indentation of its list.
export function fieldLine(text, path) {
  const lines = text.split('\n');
  const segs = parsePath(path);
  if (!segs.length) return null;
  // A list item's "- " counts as indentation for the key written on the same line,
  // so the lines are rewritten in a copy as items are entered.
  let start = 0;
  let end = lines.length;
  let found = -1;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    const child = childIndent(lines, start, end);
    if (child < 0) return result(found, false);
    let at = -1;
    if (typeof seg === 'number') {
      let n = -1;
      for (let j = start; j < end; j++) {
        if (meaningless(lines[j]) || indent(lines[j]) !== child) continue;
        if (/^\s*-(\s|$)/.test(lines[j]) && ++n === seg) {
          at = j;
          break;
        }
      }
      if (at < 0) return result(found, false);
      lines[at] = lines[at].replace(/^(\s*)-/, '$1 ');
      let stop = at + 1;
      while (stop < end && (meaningless(lines[stop]) || indent(lines[stop]) > child)) stop++;
      found = at;
      start = at;
      end = stop;
      continue;
    }
    for (let j = start; j < end; j++) {
      if (meaningless(lines[j]) || indent(lines[j]) !== child) continue;
      if (keyOf(lines[j]) === seg) {
        at = j;
        break;
      }
    }
    if (at < 0) return result(found, false);
    // The value's block: deeper lines, and a list written at the key's own indentation.
    let stop = at + 1;
    while (stop < end) {
      const l = lines[stop];
      if (!meaningless(l)) {
        const ind = indent(l);
        if (ind < child || (ind === child && !/^\s*-(\s|$)/.test(l))) break;
      }
      stop++;
    }
    found = at;
    start = at + 1;
    end = stop;
  }
  return result(found, true);
}

function result(line, exact) {
  return line < 0 ? null : { line, exact };
}

function meaningless(l) {
  return /^\s*(#.*)?$/.test(l) || /^\s*(---|\.\.\.)\s*$/.test(l);
}

function indent(l) {
  return l.length - l.trimStart().length;
}

function childIndent(lines, start, end) {
  for (let j = start; j < end; j++) if (!meaningless(lines[j])) return indent(lines[j]);
  return -1;
}

function keyOf(l) {
  const t = l.trimStart();
  let m = /^"((?:[^"\\]|\\.)*)"\s*:(\s|$)/.exec(t);
  if (m) {
    try {
      return JSON.parse('"' + m[1] + '"');
    } catch {
      return m[1];
    }
  }
  m = /^'((?:[^']|'')*)'\s*:(\s|$)/.exec(t);
  if (m) return m[1].replace(/''/g, "'");
  m = /^([^\s#][^:]*?|[^\s#][^\s]*?)\s*:(\s|$)/.exec(t);
  return m ? m[1] : null;
}
