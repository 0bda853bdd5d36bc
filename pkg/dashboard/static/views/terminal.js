// A terminal in a running container: a shell the server starts through pods/exec as
// the signed-in user, carried over a WebSocket whose binary messages start with a
// channel byte (0 keystrokes, 4 size, 1 output, 3 why it ended). The screen is a
// small VT100/xterm emulator: enough for sh, bash, busybox and simple full-screen
// tools. It draws into plain text, so the browser's own selection and copy work.

import { h } from '../dom.js';
import { termToken } from '../api.js';

const scrollback = 1000; // lines kept above the screen

// An attribute is packed into one number: flags, then foreground and background, each
// 0–15 or 16 for the terminal's default colour.
const BOLD = 1, DIM = 2, ITALIC = 4, UNDERLINE = 8, INVERSE = 16, HIDDEN = 32, STRIKE = 64;
const FG = 7, BG = 12, DEFAULT = 16;
const plain = (DEFAULT << FG) | (DEFAULT << BG);
const fgOf = (a) => (a >> FG) & 31;
const bgOf = (a) => (a >> BG) & 31;
const withFg = (a, c) => (a & ~(31 << FG)) | (c << FG);
const withBg = (a, c) => (a & ~(31 << BG)) | (c << BG);

const flagClass = [[BOLD, 'tb'], [DIM, 'tdim'], [ITALIC, 'ti'], [UNDERLINE, 'tu'], [HIDDEN, 'th'], [STRIKE, 'ts']];
const classCache = new Map();

// classOf names the classes that draw an attribute; inverse swaps the colours, and a
// swapped default becomes the terminal's own background or foreground.
function classOf(a) {
  let c = classCache.get(a);
  if (c !== undefined) return c;
  let fg = fgOf(a), bg = bgOf(a);
  const names = [];
  if (a & INVERSE) {
    names.push(bg === DEFAULT ? 'tfd' : 'tf' + bg, fg === DEFAULT ? 'tbd' : 'tg' + fg);
  } else {
    if (fg !== DEFAULT) names.push('tf' + fg);
    if (bg !== DEFAULT) names.push('tg' + bg);
  }
  for (const [f, n] of flagClass) if (a & f) names.push(n);
  c = names.join(' ');
  classCache.set(a, c);
  return c;
}

// nearest16 maps an xterm 256-colour index or an RGB colour to the 16 the page draws.
const base16 = [
  [0, 0, 0], [205, 0, 0], [0, 205, 0], [205, 205, 0], [0, 0, 238], [205, 0, 205], [0, 205, 205], [229, 229, 229],
  [127, 127, 127], [255, 0, 0], [0, 255, 0], [255, 255, 0], [92, 92, 255], [255, 0, 255], [0, 255, 255], [255, 255, 255],
];
function nearestRGB(r, g, b) {
  let best = 0, dist = Infinity;
  base16.forEach(([R, G, B], i) => {
    const d = (r - R) ** 2 + (g - G) ** 2 + (b - B) ** 2;
    if (d < dist) {
      dist = d;
      best = i;
    }
  });
  return best;
}
function nearest256(n) {
  if (n < 16) return n;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return nearestRGB(v, v, v);
  }
  const i = n - 16, steps = [0, 95, 135, 175, 215, 255];
  return nearestRGB(steps[Math.floor(i / 36)], steps[Math.floor(i / 6) % 6], steps[i % 6]);
}

// The DEC special graphics set, which tools select to draw boxes.
const lineDrawing = {
  '`': '◆', a: '▒', f: '°', g: '±', j: '┘', k: '┐', l: '┌', m: '└', n: '┼', o: '⎺', p: '⎻', q: '─', r: '⎼', s: '⎽',
  t: '├', u: '┤', v: '┴', w: '┬', x: '│', y: '≤', z: '≥', '{': 'π', '|': '≠', '}': '£', '~': '·',
};

// width is how many cells a character takes: 2 for East Asian wide ones and emoji,
// 0 for combining marks, which join the character before them.
function width(c) {
  if (c < 0x300) return 1;
  if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || (c >= 0xfe00 && c <= 0xfe0f) || c === 0x20d7 || (c >= 0x1ab0 && c <= 0x1aff)) return 0;
  if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) || (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) || (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd)) return 2;
  return 1;
}

class Line {
  constructor(cols, attr = plain) {
    this.chars = new Array(cols).fill(' ');
    this.attrs = new Array(cols).fill(attr);
    this.wrapped = false; // the text goes on in the next line (no newline when copied)
    this.dirty = true;
    this.el = null;
  }

  fill(from, to, attr) {
    for (let i = Math.max(0, from); i < Math.min(to, this.chars.length); i++) {
      this.chars[i] = ' ';
      this.attrs[i] = attr;
    }
    this.dirty = true;
  }

  resize(cols) {
    const n = this.chars.length;
    if (cols < n) {
      this.chars.length = cols;
      this.attrs.length = cols;
    } else {
      for (let i = n; i < cols; i++) {
        this.chars.push(' ');
        this.attrs.push(plain);
      }
    }
    this.dirty = true;
  }
}

const GROUND = 0, ESC = 1, CSI = 2, OSC = 3, STRING = 4, STRING_ESC = 5, CHARSET = 6, SKIP_ONE = 7;

// Screen is the emulator: it takes the shell's output as text and keeps the lines of
// the screen, the cursor and the scrollback. render() brings its element up to date.
class Screen {
  constructor(el, respond) {
    this.el = el;
    this.respond = respond; // answers to the shell's queries (cursor position, device)
    this.back = h('div', { class: 'term-back' });
    this.view = h('div', { class: 'term-screen' });
    el.append(this.back, this.view);
    this.cols = 80;
    this.rows = 24;
    this.pendingBack = [];
    this.drawn = { line: null, x: -1 };
    this.frame = 0;
    this.onRender = null;
    this.reset();
  }

  reset() {
    this.main = this.blank(this.rows);
    this.alt = null;
    this.lines = this.main;
    this.x = 0;
    this.y = 0;
    this.attr = plain;
    this.wrapPending = false;
    this.top = 0;
    this.bottom = this.rows - 1;
    this.cursorVisible = true;
    this.autowrap = true;
    this.insert = false;
    this.appCursor = false;
    this.bracketedPaste = false;
    this.charsets = ['B', 'B'];
    this.gl = 0;
    this.saved = null;
    this.last = ' ';
    this.ps = GROUND;
    this.params = '';
    this.inter = '';
    this.pendingBack = [];
    this.back.replaceChildren();
    this.restructure = true;
    this.schedule();
  }

  blank(n, attr = plain) {
    return Array.from({ length: n }, () => new Line(this.cols, attr));
  }

  // eraseAttr is what cleared cells take: the current background, as xterm does.
  eraseAttr() {
    return withBg(plain, bgOf(this.attr));
  }

  resize(cols, rows) {
    if (cols === this.cols && rows === this.rows) return;
    for (const set of [this.main, this.alt]) {
      if (!set) continue;
      for (const l of set) l.resize(cols);
    }
    this.cols = cols;
    // Shrinking drops blank lines below the cursor first, then moves lines above it to
    // the scrollback; growing adds blank lines below.
    const fit = (set) => {
      while (set.length > rows) {
        if (set !== this.lines || this.y < set.length - 1) {
          set.pop();
          continue;
        }
        const l = set.shift();
        if (set === this.main) this.pendingBack.push(l);
        this.y--;
      }
      while (set.length < rows) set.push(new Line(cols));
    };
    fit(this.main);
    if (this.alt) fit(this.alt);
    this.rows = rows;
    this.top = 0;
    this.bottom = rows - 1;
    this.x = Math.min(this.x, cols - 1);
    this.y = Math.max(0, Math.min(this.y, rows - 1));
    this.wrapPending = false;
    this.restructure = true;
    this.schedule();
  }

  // write feeds output to the parser; its state lasts across calls, so a sequence
  // split between two messages is read whole.
  write(s) {
    for (const ch of s) {
      const c = ch.codePointAt(0);
      switch (this.ps) {
        case GROUND:
          if (c >= 0x20 && c !== 0x7f && (c < 0x80 || c >= 0xa0)) this.print(ch, c);
          else this.control(c);
          break;
        case ESC:
          this.escape(ch, c);
          break;
        case CSI:
          if (c >= 0x30 && c <= 0x3f) this.params += ch;
          else if (c >= 0x20 && c <= 0x2f) this.inter += ch;
          else if (c >= 0x40 && c <= 0x7e) {
            this.ps = GROUND;
            this.csi(ch);
          } else if (c === 0x1b) this.ps = ESC;
          else if (c < 0x20) this.control(c);
          else this.ps = GROUND;
          if (this.params.length > 64) this.ps = GROUND; // not a sequence anyone sends
          break;
        case OSC:
        case STRING:
          if (c === 0x07 && this.ps === OSC) this.ps = GROUND;
          else if (c === 0x1b) this.ps = STRING_ESC;
          else if (c === 0x18 || c === 0x1a) this.ps = GROUND;
          break;
        case STRING_ESC:
          // ESC \ ends the string; any other escape ends it and starts anew.
          this.ps = ch === '\\' ? GROUND : ESC;
          if (this.ps === ESC) this.escape(ch, c);
          break;
        case CHARSET:
          this.charsets[this.charsetSlot] = ch;
          this.ps = GROUND;
          break;
        case SKIP_ONE:
          this.ps = GROUND;
          break;
      }
    }
    this.schedule();
  }

  control(c) {
    switch (c) {
      case 0x07: break; // BEL
      case 0x08:
        if (this.x > 0) this.x--;
        this.wrapPending = false;
        break;
      case 0x09:
        this.tab(1);
        break;
      case 0x0a: case 0x0b: case 0x0c:
        this.index();
        break;
      case 0x0d:
        this.x = 0;
        this.wrapPending = false;
        break;
      case 0x0e: this.gl = 1; break;
      case 0x0f: this.gl = 0; break;
      case 0x1b:
        this.ps = ESC;
        break;
      case 0x18: case 0x1a:
        this.ps = GROUND;
        break;
      default: break; // other controls draw nothing
    }
  }

  print(ch, c) {
    if (this.charsets[this.gl] === '0' && lineDrawing[ch]) ch = lineDrawing[ch];
    const w = width(c);
    if (w === 0) {
      // A combining mark joins the character before it.
      const x = this.wrapPending ? this.x : this.x - 1;
      if (x >= 0) {
        const l = this.lines[this.y];
        l.chars[x] += ch;
        l.dirty = true;
      }
      return;
    }
    if (this.wrapPending || (w === 2 && this.x === this.cols - 1 && this.autowrap)) {
      if (this.autowrap) {
        this.lines[this.y].wrapped = true;
        this.x = 0;
        this.index();
      }
      this.wrapPending = false;
    }
    const l = this.lines[this.y];
    if (this.insert) {
      l.chars.splice(this.x, 0, ...new Array(w).fill(' '));
      l.attrs.splice(this.x, 0, ...new Array(w).fill(this.attr));
      l.chars.length = this.cols;
      l.attrs.length = this.cols;
    }
    l.chars[this.x] = ch;
    l.attrs[this.x] = this.attr;
    if (w === 2 && this.x + 1 < this.cols) {
      l.chars[this.x + 1] = '';
      l.attrs[this.x + 1] = this.attr;
    }
    l.dirty = true;
    this.last = ch;
    if (this.x + w >= this.cols) {
      this.x = this.cols - 1;
      this.wrapPending = this.autowrap;
    } else {
      this.x += w;
    }
  }

  tab(n) {
    for (let i = 0; i < n; i++) this.x = Math.min(this.cols - 1, (Math.floor(this.x / 8) + 1) * 8);
    this.wrapPending = false;
  }

  // index moves the cursor down a line, scrolling the region at its bottom.
  index() {
    if (this.y === this.bottom) this.scrollUp(1);
    else if (this.y < this.rows - 1) this.y++;
  }

  reverseIndex() {
    if (this.y === this.top) this.scrollDown(1);
    else if (this.y > 0) this.y--;
  }

  // scrollUp moves the lines of the scroll region up; what leaves the top of the main
  // screen goes to the scrollback.
  scrollUp(n, top = this.top) {
    n = Math.min(n, this.bottom - top + 1);
    const gone = this.lines.splice(top, n);
    this.lines.splice(this.bottom - n + 1, 0, ...this.blank(n, this.eraseAttr()));
    if (top === 0 && this.lines === this.main) {
      for (const l of gone) this.pendingBack.push(l);
      if (this.pendingBack.length > 2 * scrollback) this.pendingBack.splice(0, this.pendingBack.length - scrollback);
    }
    this.restructure = true;
  }

  scrollDown(n, top = this.top) {
    n = Math.min(n, this.bottom - top + 1);
    this.lines.splice(this.bottom - n + 1, n);
    this.lines.splice(top, 0, ...this.blank(n, this.eraseAttr()));
    this.restructure = true;
  }

  escape(ch, c) {
    this.ps = GROUND;
    switch (ch) {
      case '[': this.ps = CSI; this.params = ''; this.inter = ''; break;
      case ']': this.ps = OSC; break;
      case 'P': case '_': case '^': case 'X': this.ps = STRING; break;
      case '(': case ')': case '*': case '+': case '-': case '.': case '/':
        this.charsetSlot = ch === ')' || ch === '-' ? 1 : ch === '(' ? 0 : 2;
        this.ps = CHARSET;
        break;
      case '#': case ' ': case '%': this.ps = SKIP_ONE; break;
      case '7': this.saveCursor(); break;
      case '8': this.restoreCursor(); break;
      case 'D': this.index(); break;
      case 'E': this.x = 0; this.wrapPending = false; this.index(); break;
      case 'M': this.reverseIndex(); break;
      case 'c': this.reset(); break;
      default:
        if (c < 0x20) this.control(c);
        break; // keypad modes, tab sets and the rest change nothing drawn
    }
  }

  saveCursor() {
    this.saved = { x: this.x, y: this.y, attr: this.attr, wrapPending: this.wrapPending, charsets: [...this.charsets], gl: this.gl };
  }

  restoreCursor() {
    const s = this.saved || { x: 0, y: 0, attr: plain, wrapPending: false, charsets: ['B', 'B'], gl: 0 };
    this.x = Math.min(s.x, this.cols - 1);
    this.y = Math.min(s.y, this.rows - 1);
    this.attr = s.attr;
    this.wrapPending = s.wrapPending;
    this.charsets = [...s.charsets];
    this.gl = s.gl;
  }

  csi(final) {
    let prefix = '';
    let p = this.params;
    if (p && '<=>?'.includes(p[0])) {
      prefix = p[0];
      p = p.slice(1);
    }
    const args = p === '' ? [] : p.split(';');
    const num = (i, def = 1) => {
      const v = parseInt(args[i], 10);
      return Number.isNaN(v) || v === 0 ? def : v;
    };
    if (this.inter) return; // cursor styles, soft reset and the like: nothing to draw
    if (prefix === '?') {
      if (final === 'h' || final === 'l') for (const a of args) this.privateMode(parseInt(a, 10), final === 'h');
      return;
    }
    if (prefix) return; // secondary device attributes, key modifier options
    const l = this.lines[this.y];
    const n = num(0);
    if (final !== 'b') this.wrapPending = false;
    switch (final) {
      case 'A': this.y = Math.max(this.y >= this.top ? this.top : 0, this.y - n); break;
      case 'B': case 'e': this.y = Math.min(this.y <= this.bottom ? this.bottom : this.rows - 1, this.y + n); break;
      case 'C': case 'a': this.x = Math.min(this.cols - 1, this.x + n); break;
      case 'D': this.x = Math.max(0, Math.min(this.x, this.cols - 1) - n); break;
      case 'E': this.x = 0; this.y = Math.min(this.rows - 1, this.y + n); break;
      case 'F': this.x = 0; this.y = Math.max(0, this.y - n); break;
      case 'G': case '`': this.x = Math.min(this.cols - 1, n - 1); break;
      case 'd': this.y = Math.min(this.rows - 1, n - 1); break;
      case 'H': case 'f':
        this.y = Math.min(this.rows - 1, n - 1);
        this.x = Math.min(this.cols - 1, num(1) - 1);
        break;
      case 'I': this.tab(n); break;
      case 'Z':
        for (let i = 0; i < n; i++) this.x = Math.max(0, (Math.ceil(this.x / 8) - 1) * 8);
        break;
      case 'J': this.eraseDisplay(num(0, 0)); break;
      case 'K': {
        const m = num(0, 0);
        if (m === 0) l.fill(this.x, this.cols, this.eraseAttr());
        else if (m === 1) l.fill(0, this.x + 1, this.eraseAttr());
        else l.fill(0, this.cols, this.eraseAttr());
        if (m !== 1) l.wrapped = false;
        break;
      }
      case 'L':
        if (this.y >= this.top && this.y <= this.bottom) this.scrollDown(n, this.y);
        this.x = 0;
        break;
      case 'M':
        if (this.y >= this.top && this.y <= this.bottom) this.scrollUpLocal(n);
        this.x = 0;
        break;
      case 'S': this.scrollUp(n); break;
      case 'T': this.scrollDown(n); break;
      case '@': {
        const k = Math.min(n, this.cols - this.x);
        l.chars.splice(this.x, 0, ...new Array(k).fill(' '));
        l.attrs.splice(this.x, 0, ...new Array(k).fill(this.eraseAttr()));
        l.chars.length = this.cols;
        l.attrs.length = this.cols;
        l.dirty = true;
        break;
      }
      case 'P': {
        const k = Math.min(n, this.cols - this.x);
        l.chars.splice(this.x, k);
        l.attrs.splice(this.x, k);
        for (let i = 0; i < k; i++) {
          l.chars.push(' ');
          l.attrs.push(this.eraseAttr());
        }
        l.dirty = true;
        break;
      }
      case 'X': l.fill(this.x, this.x + n, this.eraseAttr()); break;
      case 'b':
        for (let i = 0; i < Math.min(n, this.cols * this.rows); i++) this.print(this.last, this.last.codePointAt(0));
        break;
      case 'm': this.sgr(args); break;
      case 'r': {
        const top = num(0) - 1, bottom = Math.min(this.rows, num(1, this.rows)) - 1;
        if (top < bottom) {
          this.top = top;
          this.bottom = bottom;
          this.x = 0;
          this.y = 0;
        }
        break;
      }
      case 's': this.saveCursor(); break;
      case 'u': this.restoreCursor(); break;
      case 'h': case 'l':
        if (args.includes('4')) this.insert = final === 'h';
        break;
      case 'n':
        if (n === 5) this.respond('\x1b[0n');
        else if (n === 6) this.respond(`\x1b[${this.y + 1};${Math.min(this.x, this.cols - 1) + 1}R`);
        break;
      case 'c':
        if (num(0, 0) === 0) this.respond('\x1b[?1;2c');
        break;
      default: break; // window reports, tab clears and others: ignored
    }
  }

  // scrollUpLocal deletes lines at the cursor, which pulls the region's rest up; they
  // never go to the scrollback.
  scrollUpLocal(n) {
    n = Math.min(n, this.bottom - this.y + 1);
    this.lines.splice(this.y, n);
    this.lines.splice(this.bottom - n + 1, 0, ...this.blank(n, this.eraseAttr()));
    this.restructure = true;
  }

  eraseDisplay(m) {
    const a = this.eraseAttr();
    if (m === 0) {
      this.lines[this.y].fill(this.x, this.cols, a);
      for (let i = this.y + 1; i < this.rows; i++) this.lines[i].fill(0, this.cols, a);
    } else if (m === 1) {
      for (let i = 0; i < this.y; i++) this.lines[i].fill(0, this.cols, a);
      this.lines[this.y].fill(0, this.x + 1, a);
    } else if (m === 2) {
      for (const l of this.lines) {
        l.fill(0, this.cols, a);
        l.wrapped = false;
      }
    } else if (m === 3) {
      this.pendingBack = [];
      this.back.replaceChildren();
    }
  }

  privateMode(mode, on) {
    switch (mode) {
      case 1: this.appCursor = on; break;
      case 7: this.autowrap = on; break;
      case 25: this.cursorVisible = on; break;
      case 2004: this.bracketedPaste = on; break;
      case 47: case 1047: case 1049:
        if (on && !this.alt) {
          if (mode === 1049) this.saveCursor();
          this.alt = this.blank(this.rows);
          this.lines = this.alt;
        } else if (!on && this.alt) {
          this.alt = null;
          this.lines = this.main;
          for (const l of this.lines) l.dirty = true;
          if (mode === 1049) this.restoreCursor();
        }
        this.wrapPending = false;
        this.restructure = true;
        break;
      case 1048:
        if (on) this.saveCursor();
        else this.restoreCursor();
        break;
      default: break; // mouse reporting and the like are not offered
    }
  }

  sgr(args) {
    if (!args.length) args = ['0'];
    for (let i = 0; i < args.length; i++) {
      // A parameter may carry sub-parameters after colons ("38:5:196", "4:3").
      const sub = args[i].split(':');
      const v = parseInt(sub[0], 10) || 0;
      let a = this.attr;
      if (v === 0) a = plain;
      else if (v === 1) a |= BOLD;
      else if (v === 2) a |= DIM;
      else if (v === 3) a |= ITALIC;
      else if (v === 4) a = sub[1] === '0' ? a & ~UNDERLINE : a | UNDERLINE;
      else if (v === 7) a |= INVERSE;
      else if (v === 8) a |= HIDDEN;
      else if (v === 9) a |= STRIKE;
      else if (v === 21) a |= UNDERLINE;
      else if (v === 22) a &= ~(BOLD | DIM);
      else if (v === 23) a &= ~ITALIC;
      else if (v === 24) a &= ~UNDERLINE;
      else if (v === 27) a &= ~INVERSE;
      else if (v === 28) a &= ~HIDDEN;
      else if (v === 29) a &= ~STRIKE;
      else if (v >= 30 && v <= 37) a = withFg(a, v - 30);
      else if (v === 39) a = withFg(a, DEFAULT);
      else if (v >= 40 && v <= 47) a = withBg(a, v - 40);
      else if (v === 49) a = withBg(a, DEFAULT);
      else if (v >= 90 && v <= 97) a = withFg(a, v - 90 + 8);
      else if (v >= 100 && v <= 107) a = withBg(a, v - 100 + 8);
      else if (v === 38 || v === 48 || v === 58) {
        // Extended colours, as "38;5;n" / "38;2;r;g;b" or with colons.
        let rest;
        if (sub.length > 1) rest = sub.slice(1);
        else {
          const kind = args[i + 1];
          const k = kind === '5' ? 2 : kind === '2' ? 4 : 1;
          rest = args.slice(i + 1, i + 1 + k);
          i += k;
        }
        let c = -1;
        if (rest[0] === '5') c = nearest256(parseInt(rest[1], 10) || 0);
        else if (rest[0] === '2') {
          const rgb = rest.slice(1).map((x) => parseInt(x, 10) || 0);
          if (rgb.length === 4) rgb.shift(); // a colour space id before r:g:b
          c = nearestRGB(rgb[0] || 0, rgb[1] || 0, rgb[2] || 0);
        }
        if (c >= 0 && v === 38) a = withFg(a, c);
        else if (c >= 0 && v === 48) a = withBg(a, c);
      }
      this.attr = a;
    }
  }

  // notice prints a line of the page's own (why the session ended) in a plain style,
  // on the main screen, whatever state the shell left the parser in.
  notice(text) {
    if (this.alt) this.privateMode(1049, false);
    this.ps = GROUND;
    this.attr = plain;
    this.top = 0;
    this.bottom = this.rows - 1;
    this.autowrap = true;
    this.insert = false;
    this.charsets = ['B', 'B'];
    if (this.x > 0 || this.wrapPending || this.lines[this.y].chars.some((c) => c !== ' ')) {
      this.x = 0;
      this.wrapPending = false;
      this.index();
    }
    this.attr = DIM | ITALIC | plain;
    for (const ch of text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')) this.print(ch, ch.codePointAt(0));
    this.attr = plain;
    this.x = 0;
    this.wrapPending = false;
    this.index();
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  // render draws what changed: lines gone to the scrollback, the screen's order if
  // lines moved, the lines whose cells changed, and the cursor.
  render() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const el = this.el;
    const stick = el.scrollHeight - el.scrollTop - el.clientHeight < 4 || this.stick;
    this.stick = false;
    if (this.pendingBack.length) {
      const lines = this.pendingBack.slice(-scrollback);
      this.pendingBack = [];
      for (const l of lines) {
        if (l.dirty || !l.el || l === this.drawn.line) this.draw(l, -1);
      }
      this.back.append(...lines.map((l) => l.el));
      const extra = this.back.childElementCount - scrollback;
      for (let i = 0; i < extra; i++) this.back.firstElementChild.remove();
    }
    const cursorLine = this.cursorVisible && !this.ended ? this.lines[this.y] : null;
    const cx = Math.min(this.x, this.cols - 1);
    if (this.drawn.line !== cursorLine || this.drawn.x !== cx) {
      if (this.drawn.line) this.drawn.line.dirty = true;
      if (cursorLine) cursorLine.dirty = true;
    }
    for (const l of this.lines) {
      if (l.dirty || !l.el) this.draw(l, l === cursorLine ? cx : -1);
    }
    this.drawn = { line: cursorLine, x: cx };
    if (this.restructure) {
      this.view.replaceChildren(...this.lines.map((l) => l.el));
      this.el.classList.toggle('term-alt', !!this.alt); // full-screen tools have no scrollback
      this.restructure = false;
    }
    if (stick) el.scrollTop = el.scrollHeight;
    if (this.onRender) this.onRender();
  }

  // draw writes one line as runs of text of one style; trailing blanks are left out
  // so that copied text has none.
  draw(l, cx) {
    if (!l.el) l.el = h('div', { class: 'term-row' });
    const { chars, attrs } = l;
    let end = chars.length;
    while (end > 0 && end - 1 !== cx && chars[end - 1] === ' ' && attrs[end - 1] === plain) end--;
    const out = [];
    for (let i = 0; i < end;) {
      if (i === cx) {
        const cls = classOf(attrs[i]);
        out.push(h('span', { class: 'term-cursor' + (cls ? ' ' + cls : '') }, chars[i] || ' '));
        i++;
        continue;
      }
      let j = i + 1;
      while (j < end && j !== cx && attrs[j] === attrs[i]) j++;
      const text = chars.slice(i, j).join('');
      const cls = classOf(attrs[i]);
      out.push(cls ? h('span', { class: cls }, text) : text);
      i = j;
    }
    if (!l.wrapped) out.push('\n');
    l.el.replaceChildren(...out);
    l.dirty = false;
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
  }
}

// keyInput is what a key sends to the shell, or null for keys the browser keeps
// (Shift+Tab to leave the terminal, Ctrl+Shift+C/V to copy and paste, Meta combos).
function keyInput(e, appCursor) {
  const { key } = e;
  const mod = 1 + (e.shiftKey ? 1 : 0) + (e.altKey ? 2 : 0) + (e.ctrlKey ? 4 : 0);
  if (e.metaKey) return null;
  const cursor = (c) => (mod > 1 ? `\x1b[1;${mod}${c}` : (appCursor ? '\x1bO' : '\x1b[') + c);
  const tilde = (n) => (mod > 1 ? `\x1b[${n};${mod}~` : `\x1b[${n}~`);
  switch (key) {
    case 'Enter': return e.altKey ? '\x1b\r' : '\r';
    case 'Backspace': return (e.altKey ? '\x1b' : '') + (e.ctrlKey ? '\x08' : '\x7f');
    case 'Tab': return e.shiftKey ? null : '\t';
    case 'Escape': return '\x1b';
    case 'ArrowUp': return cursor('A');
    case 'ArrowDown': return cursor('B');
    case 'ArrowRight': return cursor('C');
    case 'ArrowLeft': return cursor('D');
    case 'Home': return cursor('H');
    case 'End': return cursor('F');
    case 'Insert': return tilde(2);
    case 'Delete': return tilde(3);
    case 'PageUp': return tilde(5);
    case 'PageDown': return tilde(6);
    case 'F1': return '\x1bOP';
    case 'F2': return '\x1bOQ';
    case 'F3': return '\x1bOR';
    case 'F4': return '\x1bOS';
    case 'F5': return tilde(15);
    case 'F6': return tilde(17);
    case 'F7': return tilde(18);
    case 'F8': return tilde(19);
    case 'F9': return tilde(20);
    case 'F10': return tilde(21);
    default: break;
  }
  if ([...key].length !== 1) return null; // Shift, Dead, Unidentified, F11…
  if (e.ctrlKey && e.shiftKey && /^[a-z]$/i.test(key)) return null;
  if (e.getModifierState('AltGraph')) return key; // a character of the layout's third level
  if (e.ctrlKey) {
    const k = /^Key[A-Z]$/.test(e.code) && !/[a-z]/i.test(key) ? e.code[3] : key.toUpperCase();
    let c = -1;
    if (k >= 'A' && k <= 'Z') c = k.charCodeAt(0) - 64;
    else if (k === ' ' || k === '@' || k === '2') c = 0;
    else if ('[\\]^_'.includes(k)) c = k.charCodeAt(0) - 64;
    else if (k === '?' || k === '/') c = k === '/' ? 0x1f : 0x7f;
    else if (k >= '3' && k <= '7') c = k.charCodeAt(0) - 0x33 + 0x1b;
    if (c < 0) return null;
    return (e.altKey ? '\x1b' : '') + String.fromCharCode(c);
  }
  return (e.altKey ? '\x1b' : '') + key;
}

const encoder = new TextEncoder();

// TerminalView is the Terminal tab of a pod: a container picker, the connection's
// state, and the screen.
export class TerminalView {
  constructor(pod) {
    this.ns = pod.metadata.namespace;
    this.pod = pod.metadata.name;
    const names = ((pod.spec && pod.spec.containers) || []).map((c) => c.name);
    const preferred = (pod.metadata.annotations || {})['kubectl.kubernetes.io/default-container'];
    this.container = names.includes(preferred) ? preferred : names[0] || '';
    this.select = h('select', { id: 'term-container', 'aria-label': 'Container' },
      names.map((n) => h('option', { value: n, selected: n === this.container }, n)));
    this.select.addEventListener('change', () => {
      this.container = this.select.value;
      this.connect();
      this.focus();
    });
    this.state = h('span', { class: 'log-state muted', 'aria-live': 'polite' });
    this.connectBtn = h('button', { type: 'button', class: 'btn', 'data-action': 'terminal-connect', onclick: () => { this.connect(); this.focus(); } }, 'Connect');
    this.term = h('div', {
      id: 'terminal',
      class: 'terminal',
      tabindex: '0',
      role: 'application',
      'aria-roledescription': 'terminal',
      'data-state': 'connecting',
    });
    this.measure = h('span', { class: 'term-measure', 'aria-hidden': 'true' }, 'W'.repeat(40));
    this.el = h('div', { class: 'term-view' },
      h('div', { class: 'editor-bar' },
        h('label', { class: 'inline' }, 'Container ', this.select),
        h('span', { class: 'spacer' }),
        h('span', { class: 'muted small' }, 'Shift+Tab leaves the terminal'),
        this.state, this.connectBtn),
      h('div', { class: 'term-frame' }, this.term, this.measure));
    this.screen = new Screen(this.term, (s) => this.send(s));
    this.decoder = new TextDecoder();
    this.ws = null;
    this.gen = 0;

    this.term.addEventListener('keydown', (e) => this.onKey(e));
    this.term.addEventListener('paste', (e) => {
      e.preventDefault();
      this.paste(e.clipboardData ? e.clipboardData.getData('text/plain') : '');
    });
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(this.term);
    this.connect();
  }

  setState(state, text) {
    this.term.dataset.state = state;
    this.term.setAttribute('aria-label', `Terminal in container ${this.container} of pod ${this.pod}: ${state}`);
    this.state.textContent = text;
    this.connectBtn.textContent = state === 'connecting' ? 'Connect' : 'Reconnect';
    this.connectBtn.disabled = state === 'connecting';
    this.screen.ended = state !== 'connected';
    this.screen.schedule();
  }

  async connect() {
    this.disconnect();
    const gen = ++this.gen;
    this.screen.reset();
    this.decoder = new TextDecoder();
    this.setState('connecting', `Connecting to ${this.container}…`);
    if (!this.container) {
      this.end('Could not open a terminal: this pod has no containers.');
      return;
    }
    let token;
    try {
      token = await termToken(this.ns, this.pod, this.container);
    } catch (err) {
      if (gen !== this.gen) return;
      this.end(err.code === 403 ? `You may not open a shell in this pod: ${err.message}` : `Could not open a terminal: ${err.message}`);
      return;
    }
    if (gen !== this.gen) return;
    this.fit();
    const url = new URL('term', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = new URLSearchParams({ token, cols: String(this.screen.cols), rows: String(this.screen.rows) }).toString();
    let opened = false;
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.sentSize = `${this.screen.cols}x${this.screen.rows}`;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      this.setState('connected', `Connected to ${this.container}`);
      this.sendSize();
    };
    ws.onmessage = (e) => {
      if (this.ws !== ws || !(e.data instanceof ArrayBuffer)) return;
      const b = new Uint8Array(e.data);
      if (!b.length) return;
      if (b[0] === 1 || b[0] === 2) {
        this.screen.write(this.decoder.decode(b.subarray(1), { stream: true }));
      } else if (b[0] === 3) {
        this.end(`Session ended: ${new TextDecoder().decode(b.subarray(1)) || 'the shell exited'}`);
      }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.end(opened ? `Session ended: the connection closed${e.code && e.code !== 1000 && e.code !== 1005 ? ` (code ${e.code})` : ''}.`
        : 'Could not open a terminal: the server refused the connection.');
    };
  }

  // end shows why the session ended as the terminal's last line, at once, so that the
  // line is on the page when the state says "ended".
  end(reason) {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.screen.write(this.decoder.decode());
    this.screen.notice(reason);
    this.setState('ended', 'Session ended');
    this.screen.render();
  }

  disconnect() {
    this.gen++;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
  }

  send(text, channel = 0) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const b = encoder.encode(text);
    const m = new Uint8Array(b.length + 1);
    m[0] = channel;
    m.set(b, 1);
    ws.send(m);
    return true;
  }

  sendSize() {
    const size = `${this.screen.cols}x${this.screen.rows}`;
    if (size === this.sentSize && this.sentOnce) return;
    if (this.send(JSON.stringify({ Width: this.screen.cols, Height: this.screen.rows }), 4)) {
      this.sentSize = size;
      this.sentOnce = true;
    }
  }

  // fit sizes the screen in cells to the element, from the size of a measured glyph.
  fit() {
    const t = this.term;
    if (!t.isConnected || !t.clientWidth) return;
    const box = this.measure.getBoundingClientRect();
    const cw = box.width / 40, ch = box.height;
    if (!cw || !ch) return;
    const cs = getComputedStyle(t);
    const w = t.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const hgt = t.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    const cols = Math.max(10, Math.floor(w / cw));
    const rows = Math.max(3, Math.floor(hgt / ch));
    this.screen.resize(cols, rows);
    this.sendSize();
  }

  onKey(e) {
    if (e.isComposing) return;
    const k = e.key;
    if (e.ctrlKey && e.shiftKey && (k === 'C' || k === 'c')) {
      e.preventDefault();
      this.copy();
      return;
    }
    if (e.shiftKey && !e.ctrlKey && !e.altKey && (k === 'PageUp' || k === 'PageDown')) {
      e.preventDefault();
      this.term.scrollTop += (k === 'PageUp' ? -1 : 1) * (this.term.clientHeight - 20);
      return;
    }
    const s = keyInput(e, this.screen.appCursor);
    if (s === null) return;
    e.preventDefault();
    if (this.send(s)) this.screen.stick = true;
    this.screen.schedule();
  }

  copy() {
    const text = String(getSelection()).replace(/[ \t]+$/gm, '');
    if (!text) return;
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).catch(() => document.execCommand('copy'));
    else document.execCommand('copy');
  }

  paste(text) {
    if (!text) return;
    text = text.replace(/\r?\n/g, '\r');
    if (this.screen.bracketedPaste) text = '\x1b[200~' + text.replace(/\x1b\[20[01]~/g, '') + '\x1b[201~';
    if (this.send(text)) this.screen.stick = true;
    this.screen.schedule();
  }

  focus() {
    this.term.focus({ preventScroll: true });
  }

  destroy() {
    this.disconnect();
    this.resizer.disconnect();
    this.screen.destroy();
  }
}
