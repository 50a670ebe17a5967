// "Just enough pickle": a reader for Python pickle protocols 0–5 that produces plain JS data, and a
// small writer for the synthetic generator. DATASETS.md §4 is the spec; pickletools.py is the oracle.
//
// Value mapping (read):
//   list -> Array            tuple -> Array (plain; tuples are not marked)
//   dict -> plain object (default, `dicts: 'object'`) or Map (`dicts: 'map'`)
//           In object mode str keys are kept, int/float/bool keys are stringified as JSON would,
//           and any other key (tuple, bytes, None) is an error that suggests `dicts: 'map'`.
//   str -> string            int -> number, or bigint when |n| > 2^53 - 1
//   float -> number          bytes/bytearray -> Uint8Array
//   None -> null             True/False -> boolean          set/frozenset -> Set
//
// Nothing here ever runs code by itself. Opcodes that would make Python import or call something
// (GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ(_EX), BUILD, PERSID, BINPERSID, EXT*) are refused
// unless the caller supplies a hook. The only exceptions are the data constructors CPython itself
// emits for bytes and sets at protocols 0-2 (`_codecs.encode(s, 'latin1')`, `builtins.set`, ...,
// see SAFE_GLOBALS), which build values and run nothing. The hooks are the seam a later `.pth`
// reader plugs into (SETITEM(S) also fill a Map a hook returns, as torch's OrderedDict needs):
//   globals['collections.OrderedDict'] = () => new Map()            (REDUCE with args [])
//   globals['torch._utils._rebuild_tensor_v2'] = (args) => tensorView(args)
//   globals['torch.FloatStorage'] = ...   (only referenced inside the persistent id tuple)
//   persistentLoad = (pid) => storages[pid[2]]                       (pid = ['storage', ref, key, loc, n])
// GLOBAL/STACK_GLOBAL push a `PickleGlobalRef` naming the allowed hook; REDUCE/NEWOBJ/INST/OBJ call it.

export class PickleError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly opcode: number | undefined,
    detail: string,
  ) {
    const op = opcode === undefined ? '' : ` at opcode ${OPCODE_NAMES[opcode] ?? 'UNKNOWN'} (0x${hex2(opcode)})`;
    super(`${file}: pickle error${op}, byte offset ${offset}: ${detail}`);
    this.name = 'PickleError';
  }
}

export type PickleValue = unknown;
export type PickleHook = (args: PickleValue[], kwargs?: PickleValue) => PickleValue;

/** A global that the allow-list permits; called by REDUCE/NEWOBJ/INST/OBJ, optionally patched by BUILD. */
export interface GlobalHook {
  call?: PickleHook;
  /** BUILD on an object this global produced: return the (possibly new) object. */
  build?: (obj: PickleValue, state: PickleValue) => PickleValue;
}

/** What GLOBAL/STACK_GLOBAL push: a reference to an allow-listed callable, not yet called. */
export class PickleGlobalRef {
  constructor(readonly module: string, readonly name: string, readonly hook: GlobalHook) {}
  get qualifiedName(): string { return `${this.module}.${this.name}`; }
}

/** Integral float for dumpPickle (a JS number that is an integer is otherwise written as a Python int). */
export class PickleFloat {
  constructor(readonly value: number) {}
}

export interface LoadPickleOptions {
  /** Used in every error message. */
  file?: string;
  /** Allow-list keyed by 'module.name'. A bare function is the `call` hook. */
  globals?: Record<string, PickleHook | GlobalHook>;
  persistentLoad?: (pid: PickleValue) => PickleValue;
  dicts?: 'object' | 'map';
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

function hex2(n: number): string { return n.toString(16).padStart(2, '0'); }

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Parse a pickle. Returns the value STOP yields. */
export function loadPickle(bytes: Uint8Array, options: LoadPickleOptions = {}): PickleValue {
  return new Unpickler(bytes, options).load();
}

class Unpickler {
  private pos = 0;
  private opStart = 0;
  private op: number | undefined;
  private stack: PickleValue[] = [];
  private marks: number[] = [];
  private memo = new Map<number, PickleValue>();
  // Which allow-listed global produced an object, so BUILD can find its hook.
  private producers = new WeakMap<object, PickleGlobalRef>();
  private readonly file: string;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly opts: LoadPickleOptions) {
    this.file = opts.file ?? '<pickle>';
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(detail: string): never {
    throw new PickleError(this.file, this.opStart, this.op, detail);
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) {
      this.fail(`truncated input: need ${n} more byte(s) at offset ${this.pos}, file has ${this.bytes.length}`);
    }
  }
  private u8(): number { this.need(1); return this.bytes[this.pos++]!; }
  private u16(): number { this.need(2); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  private i32(): number { this.need(4); const v = this.view.getInt32(this.pos, true); this.pos += 4; return v; }
  private u32(): number { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${v} is too large`);
    return Number(v);
  }
  private take(n: number): Uint8Array {
    if (n < 0) this.fail(`negative length ${n}`);
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** A protocol-0 argument: bytes up to (not including) the next '\n'. */
  private line(): string {
    const nl = this.bytes.indexOf(0x0a, this.pos);
    if (nl < 0) this.fail('truncated input: missing end of line');
    const s = latin1.decode(this.bytes.subarray(this.pos, nl));
    this.pos = nl + 1;
    return s;
  }
  private utf8(b: Uint8Array): string {
    try { return utf8.decode(b); } catch { this.fail('invalid UTF-8 in string'); }
  }

  private pop(): PickleValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= floor) this.fail('stack underflow');
    return this.stack.pop();
  }
  private top(): PickleValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= floor) this.fail('stack underflow (empty stack)');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): PickleValue[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail('no MARK on the stack');
    return this.stack.splice(m);
  }

  private newDict(): PickleValue {
    return this.opts.dicts === 'map' ? new Map() : {};
  }
  private setItem(d: PickleValue, k: PickleValue, v: PickleValue): void {
    if (d instanceof Map) { d.set(k, v); return; }
    if (d === null || typeof d !== 'object' || Array.isArray(d)) this.fail(`SETITEM target is not a dict (${describe(d)})`);
    let key: string;
    if (typeof k === 'string') key = k;
    else if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') key = String(k);
    else this.fail(`dict key ${describe(k)} cannot be a JS object key; load with { dicts: 'map' }`);
    // A '__proto__' key must become an own property, not replace the prototype.
    Object.defineProperty(d, key, { value: v, writable: true, enumerable: true, configurable: true });
  }
  private append(list: PickleValue, items: PickleValue[]): void {
    if (Array.isArray(list)) { for (const x of items) list.push(x); return; }
    if (list instanceof Set) { for (const x of items) list.add(x); return; }
    this.fail(`APPEND target is not a list (${describe(list)})`);
  }
  private int(n: bigint): number | bigint {
    return n >= -BigInt(Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  private decimal(s: string): number | bigint {
    const t = s.trim().replace(/L$/, '');
    if (!/^[-+]?\d+$/.test(t)) this.fail(`bad integer literal ${JSON.stringify(s)}`);
    return this.int(BigInt(t));
  }
  /** Little-endian two's complement, as LONG1/LONG4 store it. */
  private longBytes(b: Uint8Array): number | bigint {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return this.int(v);
  }

  private resolveGlobal(module: string, name: string): PickleGlobalRef {
    const key = `${module}.${name}`;
    const own = this.opts.globals && Object.prototype.hasOwnProperty.call(this.opts.globals, key);
    const hook = own ? this.opts.globals![key] : Object.prototype.hasOwnProperty.call(SAFE_GLOBALS, key) ? SAFE_GLOBALS[key] : undefined;
    if (!hook) {
      this.fail(`refusing to load global ${key}: not in the allow-list (this pickle wants to import or call code)`);
    }
    return new PickleGlobalRef(module, name, typeof hook === 'function' ? { call: hook } : hook);
  }
  private callGlobal(fn: PickleValue, args: PickleValue, kwargs?: PickleValue): PickleValue {
    if (!(fn instanceof PickleGlobalRef)) this.fail(`callable is not an allow-listed global (${describe(fn)})`);
    if (!Array.isArray(args)) this.fail(`arguments to ${fn.qualifiedName} are not a tuple (${describe(args)})`);
    if (!fn.hook.call) this.fail(`${fn.qualifiedName} is allow-listed but has no call hook`);
    let out: PickleValue;
    try {
      out = fn.hook.call(args, kwargs);
    } catch (err) {
      if (err instanceof PickleError) throw err;
      this.fail(`${fn.qualifiedName} hook failed: ${(err as Error).message}`);
    }
    if (out !== null && typeof out === 'object') this.producers.set(out, fn);
    return out;
  }

  load(): PickleValue {
    for (;;) {
      this.opStart = this.pos;
      this.op = undefined;
      if (this.pos >= this.bytes.length) this.fail('truncated input: reached the end without a STOP opcode');
      const op = this.bytes[this.pos++]!;
      this.op = op;
      switch (op) {
        case 0x80: { const p = this.u8(); if (p > 5) this.fail(`unsupported protocol ${p}`); break; }
        case 0x95: this.u64(); break; // FRAME: a read-ahead hint only
        case 0x2e: return this.pop(); // STOP
        // --- containers
        case 0x5d: this.stack.push([]); break;
        case 0x7d: this.stack.push(this.newDict()); break;
        case 0x29: this.stack.push([]); break;
        case 0x8f: this.stack.push(new Set()); break;
        case 0x28: this.marks.push(this.stack.length); break;
        case 0x6c: case 0x74: this.stack.push(this.popMark()); break; // LIST, TUPLE
        case 0x85: { const a = this.pop(); this.stack.push([a]); break; }
        case 0x86: { const b = this.pop(); const a = this.pop(); this.stack.push([a, b]); break; }
        case 0x87: { const c = this.pop(); const b = this.pop(); const a = this.pop(); this.stack.push([a, b, c]); break; }
        case 0x91: this.stack.push(new Set(this.popMark())); break; // FROZENSET
        case 0x64: { // DICT
          const items = this.popMark();
          if (items.length % 2) this.fail('odd number of items for DICT');
          const d = this.newDict();
          for (let i = 0; i < items.length; i += 2) this.setItem(d, items[i], items[i + 1]);
          this.stack.push(d);
          break;
        }
        case 0x61: { const v = this.pop(); this.append(this.top(), [v]); break; }
        case 0x65: case 0x90: { const items = this.popMark(); this.append(this.top(), items); break; } // APPENDS, ADDITEMS
        case 0x73: { const v = this.pop(); const k = this.pop(); this.setItem(this.top(), k, v); break; }
        case 0x75: {
          const items = this.popMark();
          if (items.length % 2) this.fail('odd number of items for SETITEMS');
          const d = this.top();
          for (let i = 0; i < items.length; i += 2) this.setItem(d, items[i], items[i + 1]);
          break;
        }
        // --- scalars
        case 0x4e: this.stack.push(null); break;
        case 0x88: this.stack.push(true); break;
        case 0x89: this.stack.push(false); break;
        case 0x4b: this.stack.push(this.u8()); break;
        case 0x4d: this.stack.push(this.u16()); break;
        case 0x4a: this.stack.push(this.i32()); break;
        case 0x8a: this.stack.push(this.longBytes(this.take(this.u8()))); break;
        case 0x8b: this.stack.push(this.longBytes(this.take(this.i32()))); break;
        case 0x49: { // INT: protocol 0 also spells booleans as I01/I00
          const s = this.line();
          this.stack.push(s === '01' ? true : s === '00' ? false : this.decimal(s));
          break;
        }
        case 0x4c: this.stack.push(this.decimal(this.line())); break;
        case 0x47: { this.need(8); const v = this.view.getFloat64(this.pos, false); this.pos += 8; this.stack.push(v); break; }
        case 0x46: this.stack.push(parseFloatLine(this.line(), (m) => this.fail(m))); break;
        // --- strings and bytes
        case 0x58: this.stack.push(this.utf8(this.take(this.u32()))); break;
        case 0x8c: this.stack.push(this.utf8(this.take(this.u8()))); break;
        case 0x8d: this.stack.push(this.utf8(this.take(this.u64()))); break;
        case 0x56: this.stack.push(rawUnicodeEscape(this.line())); break;
        case 0x55: this.stack.push(py2String(this.take(this.u8()))); break;
        case 0x54: this.stack.push(py2String(this.take(this.i32()))); break;
        case 0x53: this.stack.push(py2String(parseQuoted(this.line(), (m) => this.fail(m)))); break;
        case 0x43: this.stack.push(this.take(this.u8()).slice()); break;
        case 0x42: this.stack.push(this.take(this.u32()).slice()); break;
        case 0x8e: case 0x96: this.stack.push(this.take(this.u64()).slice()); break;
        case 0x97: this.fail('out-of-band buffers (NEXT_BUFFER) are not supported');
        case 0x98: break; // READONLY_BUFFER: no-op on our copies
        // --- memo and stack manipulation
        case 0x71: this.memo.set(this.u8(), this.top()); break;
        case 0x72: this.memo.set(this.u32(), this.top()); break;
        case 0x70: this.memo.set(Number(this.decimal(this.line())), this.top()); break;
        case 0x94: this.memo.set(this.memo.size, this.top()); break;
        case 0x68: this.stack.push(this.memoGet(this.u8())); break;
        case 0x6a: this.stack.push(this.memoGet(this.u32())); break;
        case 0x67: this.stack.push(this.memoGet(Number(this.decimal(this.line())))); break;
        case 0x30: if (this.stack.length && this.marks.at(-1) === this.stack.length) this.marks.pop(); else this.pop(); break;
        case 0x31: this.popMark(); break;
        case 0x32: this.stack.push(this.top()); break;
        // --- code-calling opcodes: only through caller hooks
        case 0x63: { const module = this.line(); const name = this.line(); this.stack.push(this.resolveGlobal(module, name)); break; }
        case 0x93: {
          const name = this.pop(); const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.stack.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x52: { const args = this.pop(); const fn = this.pop(); this.stack.push(this.callGlobal(fn, args)); break; }
        case 0x81: { const args = this.pop(); const cls = this.pop(); this.stack.push(this.callGlobal(cls, args)); break; }
        case 0x92: { const kw = this.pop(); const args = this.pop(); const cls = this.pop(); this.stack.push(this.callGlobal(cls, args, kw)); break; }
        case 0x69: { // INST: module/name lines, args from the mark
          const module = this.line(); const name = this.line();
          const args = this.popMark();
          this.stack.push(this.callGlobal(this.resolveGlobal(module, name), args));
          break;
        }
        case 0x6f: { // OBJ: mark, cls, args...
          const items = this.popMark();
          if (!items.length) this.fail('OBJ without a class');
          this.stack.push(this.callGlobal(items[0], items.slice(1)));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          const obj = this.pop();
          const producer = obj !== null && typeof obj === 'object' ? this.producers.get(obj) : undefined;
          if (!producer?.hook.build) {
            this.fail(`BUILD on ${producer ? producer.qualifiedName + ' object' : describe(obj)} needs a build hook in the allow-list`);
          }
          const out = producer.hook.build(obj, state);
          if (out !== null && typeof out === 'object') this.producers.set(out, producer);
          this.stack.push(out);
          break;
        }
        case 0x50: case 0x51: {
          const pid = op === 0x50 ? this.line() : this.pop();
          if (!this.opts.persistentLoad) this.fail('persistent id found but no persistentLoad hook was given');
          this.stack.push(this.opts.persistentLoad(pid));
          break;
        }
        case 0x82: case 0x83: case 0x84: this.fail('extension registry codes (EXT1/2/4) are not supported');
        default:
          this.op = undefined;
          this.fail(`unknown opcode 0x${hex2(op)}`);
      }
    }
  }

  private memoGet(i: number): PickleValue {
    if (!this.memo.has(i)) this.fail(`memo index ${i} was never stored`);
    return this.memo.get(i);
  }
}

// Constructors CPython itself uses for plain data at protocols 0-2 (bytes have no opcode before
// protocol 3, sets none before 4). They build values only and run nothing, so they are always allowed.
function latin1Bytes(args: PickleValue[]): PickleValue {
  if (args.length === 0) return new Uint8Array(0);
  const [s, enc] = args;
  if (typeof s !== 'string' || (enc !== undefined && enc !== 'latin1' && enc !== 'latin-1')) {
    throw new Error(`_codecs.encode only supports (str, 'latin1'), got ${describe(s)}, ${String(enc)}`);
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
const toSet = (args: PickleValue[]) => new Set(Array.isArray(args[0]) ? args[0] : []);
const SAFE_GLOBALS: Record<string, PickleHook> = {
  '_codecs.encode': latin1Bytes,
  'builtins.bytes': latin1Bytes,
  '__builtin__.bytes': latin1Bytes,
  'builtins.bytearray': (a) => (a.length === 0 ? new Uint8Array(0) : a[0] instanceof Uint8Array ? a[0].slice() : latin1Bytes(a)),
  '__builtin__.bytearray': (a) => (a.length === 0 ? new Uint8Array(0) : latin1Bytes(a)),
  'builtins.set': toSet,
  '__builtin__.set': toSet,
  'builtins.frozenset': toSet,
  '__builtin__.frozenset': toSet,
};

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof PickleGlobalRef) return `global ${v.qualifiedName}`;
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}

/** Python 2 str: UTF-8 when valid (what the data almost surely is), else latin-1 (DATASETS.md §4.2). */
function py2String(b: Uint8Array): string {
  try { return utf8.decode(b); } catch { return latin1.decode(b); }
}

function parseFloatLine(s: string, fail: (m: string) => never): number {
  const t = s.trim().toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  const v = Number(t);
  if (t === '' || Number.isNaN(v)) fail(`bad float literal ${JSON.stringify(s)}`);
  return v;
}

/** Protocol-0 STRING argument: a Python repr, single or double quoted, with backslash escapes. */
function parseQuoted(s: string, fail: (m: string) => never): Uint8Array {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('STRING argument is not quoted');
  const body = s.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body.charCodeAt(i);
    if (ch !== 0x5c) { out.push(ch & 0xff); continue; }
    const e = body[++i];
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0 };
    if (e === 'x') { out.push(parseInt(body.slice(i + 1, i + 3), 16)); i += 2; }
    else if (e !== undefined && /[0-7]/.test(e) && /[0-7]/.test(body[i + 1] ?? '')) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i))![0]; out.push(parseInt(m, 8) & 0xff); i += m.length - 1;
    } else if (e !== undefined && e in simple) out.push(simple[e]!);
    else { out.push(92); if (e !== undefined) out.push(e.charCodeAt(0) & 0xff); }
  }
  return Uint8Array.from(out);
}

/** Protocol-0 UNICODE argument: latin-1 text where only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, b: string | undefined) =>
    String.fromCodePoint(parseInt((a ?? b)!, 16)));
}

// ---------------------------------------------------------------------------------------------
// Writer. Emits the memo-free subset of DATASETS.md §4.3: lists as EMPTY_LIST + MARK..APPENDS
// (batches of 1000, like CPython), dicts as EMPTY_DICT + MARK..SETITEMS, and scalars. Python's
// pickle.load accepts a stream with no memo; shared references are simply written twice.
// Protocol 4 is written without FRAME opcodes, which the format allows (framing is optional).

export type DumpValue =
  | null | boolean | number | bigint | string | Uint8Array | PickleFloat
  | DumpValue[] | Map<string | number, DumpValue> | { [key: string]: DumpValue };

export function dumpPickle(value: DumpValue, protocol: 2 | 3 | 4 = 3): Uint8Array {
  const out = new ByteWriter();
  out.byte(0x80); out.byte(protocol);
  const active = new Set<object>();
  const enc = new TextEncoder();

  const writeInt = (v: number | bigint): void => {
    if (typeof v === 'number' && v >= 0 && v < 256) { out.byte(0x4b); out.byte(v); }
    else if (typeof v === 'number' && v >= 0 && v < 65536) { out.byte(0x4d); out.u16(v); }
    else if (typeof v === 'number' && v >= -0x80000000 && v <= 0x7fffffff) { out.byte(0x4a); out.i32(v); }
    else {
      // LONG1: minimal little-endian two's complement
      let n = BigInt(v);
      const bytes: number[] = [];
      while (true) {
        const b = Number(n & 0xffn);
        bytes.push(b);
        n >>= 8n;
        if ((n === 0n && !(b & 0x80)) || (n === -1n && b & 0x80)) break;
      }
      if (bytes.length > 255) throw new Error(`dumpPickle: integer ${v} is too large`);
      out.byte(0x8a); out.byte(bytes.length); for (const b of bytes) out.byte(b);
    }
  };
  const writeFloat = (v: number): void => { out.byte(0x47); out.f64be(v); };
  const writeStr = (s: string): void => {
    const b = enc.encode(s);
    if (protocol >= 4 && b.length < 256) { out.byte(0x8c); out.byte(b.length); }
    else { out.byte(0x58); out.u32(b.length); }
    out.bytes(b);
  };
  const writeKey = (k: string | number): void => (typeof k === 'number' ? writeInt(k) : writeStr(k));

  const write = (v: DumpValue): void => {
    if (v === null || v === undefined) { out.byte(0x4e); return; }
    if (typeof v === 'boolean') { out.byte(v ? 0x88 : 0x89); return; }
    if (typeof v === 'bigint') { writeInt(v); return; }
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Object.is(v, -0)) {
        if (!Number.isSafeInteger(v)) throw new Error(`dumpPickle: ${v} is not a safe integer; pass a bigint or PickleFloat`);
        writeInt(v);
      } else writeFloat(v);
      return;
    }
    if (typeof v === 'string') { writeStr(v); return; }
    if (v instanceof PickleFloat) { writeFloat(v.value); return; }
    if (v instanceof Uint8Array) {
      if (protocol < 3) throw new Error('dumpPickle: bytes need protocol 3 or higher');
      if (v.length < 256) { out.byte(0x43); out.byte(v.length); } else { out.byte(0x42); out.u32(v.length); }
      out.bytes(v);
      return;
    }
    if (active.has(v)) throw new Error('dumpPickle: cyclic structure (the memo-free writer cannot express it)');
    active.add(v);
    if (Array.isArray(v)) {
      out.byte(0x5d);
      for (let i = 0; i < v.length; i += 1000) {
        const batch = v.slice(i, i + 1000);
        if (batch.length === 1) { write(batch[0]!); out.byte(0x61); continue; }
        out.byte(0x28); for (const x of batch) write(x); out.byte(0x65);
      }
    } else {
      const entries: [string | number, DumpValue][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
      out.byte(0x7d);
      for (let i = 0; i < entries.length; i += 1000) {
        const batch = entries.slice(i, i + 1000);
        if (batch.length === 1) { writeKey(batch[0]![0]); write(batch[0]![1]); out.byte(0x73); continue; }
        out.byte(0x28);
        for (const [k, x] of batch) { writeKey(k); write(x); }
        out.byte(0x75);
      }
    }
    active.delete(v);
  };
  write(value);
  out.byte(0x2e);
  return out.finish();
}

class ByteWriter {
  private buf = new Uint8Array(1024);
  private len = 0;
  private view = new DataView(this.buf.buffer);
  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  byte(b: number): void { this.reserve(1); this.buf[this.len++] = b; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.len, v, true); this.len += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.len, v, true); this.len += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.len, v, true); this.len += 4; }
  f64be(v: number): void { this.reserve(8); this.view.setFloat64(this.len, v, false); this.len += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; }
  finish(): Uint8Array { return this.buf.slice(0, this.len); }
}
