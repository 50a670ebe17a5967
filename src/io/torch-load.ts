// PyTorch `.pth`/`.bin` import without executing code (STYLE.md 13: `.pth` is import-only).
//
// Two containers:
//  * zip (torch >= 1.6): `<prefix>/data.pkl` + `<prefix>/data/<key>` raw storages + `<prefix>/version`. The pickle's
//    persistent ids are ('storage', torch.<T>Storage, key, location, numel).
//  * legacy (`_use_new_zipfile_serialization=False`): consecutive pickles — magic number, protocol version (1001),
//    sys_info, the object (persistent ids ('storage', torch.<T>Storage, key, location, numel, view_metadata)), the
//    sorted storage keys — then, per key, an 8-byte little-endian element count and the raw little-endian elements.
//
// Unpickling goes through src/io/pickle.ts with an allow-list (GLOBALS below); anything else is refused with an
// error naming the global and the file. Rebuild hooks return lazy TensorRefs; `materialize` reads each storage once
// at its offset, copies every tensor over it into a contiguous array (honouring storage offset and strides, so
// transposed views and tensors sharing a storage come out right) and drops the storage.
//
// Value mapping: dict and OrderedDict -> Map (keys keep their types and order), list/tuple -> Array, tensors and
// Parameters -> LoadedTensor, argparse.Namespace -> plain object, numpy scalars (numpy.core.multiarray.scalar, which
// training scripts leave in checkpoints as e.g. a best-IoU value) -> number. numpy arrays are not supported.
import { promises as fsp } from 'node:fs';
import { loadPickle, PickleGlobalRef, type GlobalHook, type PickleHook, type PickleValue } from './pickle.ts';
import { ZipReader } from './zip.ts';
import { decodeElements, DTYPE_BYTES, readFully, LoadedTensor, numelOf, sniffWeightsFormat, WeightsError, type WeightDType } from './safetensors.ts';

const STORAGE_DTYPES: Record<string, WeightDType> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** A storage named by a persistent id; its bytes are read only when a tensor over it is materialized. */
interface StorageRef {
  key: string;
  dtype: WeightDType;
  /** Elements in the root storage. */
  numel: number;
  /** Element offset of this (legacy view) storage inside its root storage. */
  viewOffset: number;
}

/** What `_rebuild_tensor_v2` produces while unpickling: a strided view over a storage, not yet read. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

function asInts(v: PickleValue, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${what} is not a tuple of non-negative ints`);
  }
  return v as number[];
}

function rebuildTensor(args: PickleValue[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage && typeof storage === 'object' && 'key' in storage)) throw new Error('first argument is not a storage');
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new Error(`storage offset ${String(offset)} is invalid`);
  const shape = asInts(size, 'size');
  const strides = asInts(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`size has ${shape.length} dims but stride ${strides.length}`);
  return new TensorRef(storage as StorageRef, offset, shape, strides);
}

function storageClass(name: string): GlobalHook {
  // Only ever referenced inside persistent ids; calling one would construct an empty storage, which no file needs.
  return { call: () => { throw new Error(`calling torch.${name} is not supported`); } };
}

// numpy scalars: numpy.dtype('f8', False, True) + BUILD(state with the byte order), then scalar(dtype, raw bytes).
interface NumpyDType { npdtype: string; order: string }
function numpyScalar(args: PickleValue[]): number | bigint | boolean {
  const [dt, raw] = args;
  if (!dt || typeof dt !== 'object' || !('npdtype' in dt) || !(raw instanceof Uint8Array)) throw new Error('expected (numpy.dtype, bytes)');
  const { npdtype, order } = dt as NumpyDType;
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = order !== '>';
  const need = (n: number) => { if (raw.length !== n) throw new Error(`numpy ${npdtype} scalar needs ${n} bytes, got ${raw.length}`); };
  switch (npdtype) {
    case 'f8': need(8); return v.getFloat64(0, le);
    case 'f4': need(4); return v.getFloat32(0, le);
    case 'i8': { need(8); const x = v.getBigInt64(0, le); return Number.isSafeInteger(Number(x)) ? Number(x) : x; }
    case 'u8': { need(8); const x = v.getBigUint64(0, le); return Number.isSafeInteger(Number(x)) ? Number(x) : x; }
    case 'i4': need(4); return v.getInt32(0, le);
    case 'u4': need(4); return v.getUint32(0, le);
    case 'i2': need(2); return v.getInt16(0, le);
    case 'u2': need(2); return v.getUint16(0, le);
    case 'i1': need(1); return v.getInt8(0);
    case 'u1': need(1); return v.getUint8(0);
    case 'b1': need(1); return v.getUint8(0) !== 0;
    default: throw new Error(`numpy dtype ${npdtype} scalars are not supported`);
  }
}
const numpyDType: GlobalHook = {
  call: (args) => {
    if (typeof args[0] !== 'string') throw new Error('numpy.dtype expects a type string');
    return { npdtype: args[0], order: '<' } satisfies NumpyDType;
  },
  build: (obj, state) => {
    if (Array.isArray(state) && typeof state[1] === 'string') (obj as NumpyDType).order = state[1];
    return obj;
  },
};

const ordered: GlobalHook = {
  call: () => new Map(),
  // state_dict()'s OrderedDict carries `_metadata` (per-module versions) as instance state: dropped.
  build: (obj) => obj,
};
const namespace: GlobalHook = {
  call: (args) => {
    if (args.length) throw new Error('argparse.Namespace takes no positional arguments');
    return {};
  },
  build: (obj, state) => {
    const entries = state instanceof Map ? [...state.entries()] : state && typeof state === 'object' ? Object.entries(state) : null;
    if (!entries) throw new Error('argparse.Namespace state is not a dict');
    for (const [k, v] of entries) Object.defineProperty(obj, String(k), { value: v, enumerable: true, writable: true, configurable: true });
    return obj;
  },
};

/** The allow-list. Everything here builds data; nothing imports or runs code. */
function allowList(): Record<string, PickleHook | GlobalHook> {
  const g: Record<string, PickleHook | GlobalHook> = {
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_tensor': rebuildTensor, // pre-1.0 files: (storage, offset, size, stride)
    'torch._utils._rebuild_parameter': (a) => a[0],
    'torch._utils._rebuild_parameter_with_state': (a) => a[0],
    'collections.OrderedDict': ordered,
    'argparse.Namespace': namespace,
    'torch.serialization._get_layout': (a) => `layout:${String(a[0])}`,
    'numpy.core.multiarray.scalar': numpyScalar,
    'numpy._core.multiarray.scalar': numpyScalar,
    'numpy.dtype': numpyDType,
    'torch.device': (a) => a.map(String).join(':'),
    // Referenced as values only (layouts; the types passed to _rebuild_from_type_v2); calling them is refused.
    'torch.strided': {},
    'torch.Tensor': {},
    'torch.nn.parameter.Parameter': {},
    // (func, type, args, state): tensors that carry Python state; the state is dropped, func must be allow-listed.
    'torch._tensor._rebuild_from_type_v2': (a) => {
      const [fn, , args] = a;
      if (!(fn instanceof PickleGlobalRef) || !fn.hook.call || !Array.isArray(args)) throw new Error('expected (allow-listed function, type, args, state)');
      return fn.hook.call(args);
    },
  };
  for (const name of Object.keys(STORAGE_DTYPES)) g[`torch.${name}`] = storageClass(name);
  return g;
}

function makePersistentLoad(file: string, storages: Map<string, StorageRef>, legacy: boolean) {
  return (pid: PickleValue): PickleValue => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw new WeightsError(file, 'pickle', `unsupported persistent id ${JSON.stringify(pid)}`);
    const [, type, rawKey, , numel, view] = pid as [string, unknown, unknown, unknown, unknown, unknown];
    const typeName = type instanceof PickleGlobalRef ? type.name : String(type);
    const dtype = STORAGE_DTYPES[typeName];
    if (!dtype) throw new WeightsError(file, 'pickle', `storage type ${typeName} is not supported`);
    const key = String(rawKey);
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new WeightsError(file, `storage ${key}`, `bad element count ${String(numel)}`);
    let root = storages.get(key);
    if (!root) storages.set(key, (root = { key, dtype, numel, viewOffset: 0 }));
    else if (root.dtype !== dtype) throw new WeightsError(file, `storage ${key}`, `seen as both ${root.dtype} and ${dtype}`);
    if (legacy && Array.isArray(view)) {
      // Old (< 0.4) legacy files: a storage view (view_key, offset, view_size) inside the root storage.
      const [, off] = view as [unknown, number, number];
      return { ...root, viewOffset: off };
    }
    return root;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Containers

/** An opened torch file: the unpickled tree with lazy tensors, and a way to read the storages behind them. */
export interface TorchFile {
  file: string;
  root: PickleValue;
  /** Replaces every TensorRef inside `value` with a LoadedTensor (reading only the storages it needs). */
  materialize(value: PickleValue): Promise<PickleValue>;
  close(): Promise<void>;
}

async function openZip(file: string): Promise<TorchFile> {
  const zip = await ZipReader.open(file);
  try {
    const pkls = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) {
      throw new WeightsError(file, 'zip entry */data.pkl', pkls.length ? `found ${pkls.length} candidates` : 'not found: not a PyTorch checkpoint (a TorchScript or other zip?)');
    }
    const prefix = pkls[0]!.slice(0, -'/data.pkl'.length);
    // torch >= 2.1 records the byte order of the storages; older files are little endian.
    if (zip.entries.has(`${prefix}/byteorder`)) {
      const order = new TextDecoder().decode(await zip.read(`${prefix}/byteorder`)).trim();
      if (order !== 'little') throw new WeightsError(file, `zip entry ${prefix}/byteorder`, `${order}-endian storages are not supported`);
    }
    const storages = new Map<string, StorageRef>();
    const root = loadPickle(await zip.read(pkls[0]!), {
      file: `${file}:${pkls[0]}`, dicts: 'map', globals: allowList(), persistentLoad: makePersistentLoad(file, storages, false),
    });
    const readStorage = async (s: StorageRef): Promise<Uint8Array> => {
      const name = `${prefix}/data/${s.key}`;
      const bytes = await zip.read(name);
      const want = s.numel * DTYPE_BYTES[s.dtype];
      if (bytes.length < want) throw new WeightsError(file, `zip entry ${name}`, `holds ${bytes.length} bytes, the ${s.numel}-element ${s.dtype} storage needs ${want}`);
      return bytes;
    };
    return { file, root, materialize: (v) => materialize(file, v, readStorage), close: () => zip.close() };
  } catch (err) {
    await zip.close();
    throw err;
  }
}

/** Byte offset just past the STOP of the pickle starting at `start`, or -1 when `buf` ends first. */
function pickleEnd(buf: Uint8Array, start: number, file: string): number {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = start;
  const line = () => { const nl = buf.indexOf(0x0a, p); if (nl < 0) return false; p = nl + 1; return true; };
  while (p < buf.length) {
    const op = buf[p++]!;
    let n = 0; // fixed argument bytes
    let len = -1; // length-prefixed: bytes of length field
    switch (op) {
      case 0x2e: return p; // STOP
      case 0x80: case 0x4b: case 0x68: case 0x71: case 0x82: n = 1; break;
      case 0x4d: case 0x83: n = 2; break;
      case 0x4a: case 0x6a: case 0x72: case 0x84: n = 4; break;
      case 0x47: case 0x95: n = 8; break;
      case 0x46: case 0x49: case 0x4c: case 0x50: case 0x53: case 0x56: case 0x67: case 0x70:
        if (!line()) return -1; continue;
      case 0x63: case 0x69: if (!line() || !line()) return -1; continue;
      case 0x55: case 0x43: case 0x8c: case 0x8a: len = 1; break;
      case 0x54: case 0x58: case 0x42: case 0x8b: len = 4; break;
      case 0x8d: case 0x8e: case 0x96: len = 8; break;
      default:
        if ('(012NQRabde}l]ostu)\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98'.includes(String.fromCharCode(op))) continue;
        throw new WeightsError(file, 'pickle', `unknown opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
    if (len > 0) {
      if (p + len > buf.length) return -1;
      const l = len === 1 ? buf[p]! : len === 4 ? v.getUint32(p, true) : Number(v.getBigUint64(p, true));
      p += len + l;
    } else p += n;
    if (p > buf.length) return -1;
  }
  return -1;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

async function openLegacy(file: string): Promise<TorchFile> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    let buf = new Uint8Array(0);
    const grow = async (): Promise<void> => {
      const n = Math.min(size, Math.max(1 << 20, buf.length * 4));
      if (n <= buf.length) throw new WeightsError(file, 'pickle', 'truncated: the file ends inside a pickle');
      const b = new Uint8Array(n);
      const { bytesRead } = await fh.read(b, 0, n, 0);
      buf = b.subarray(0, bytesRead);
    };
    await grow();
    let pos = 0;
    const next = async (what: string, opts: Parameters<typeof loadPickle>[1] = {}): Promise<PickleValue> => {
      let end: number;
      while ((end = pickleEnd(buf, pos, file)) < 0) await grow();
      const value = loadPickle(buf.subarray(pos, end), { file: `${file} (${what})`, ...opts });
      pos = end;
      return value;
    };
    const magic = await next('magic number');
    if (magic !== LEGACY_MAGIC) throw new WeightsError(file, 'magic number', 'not a PyTorch legacy checkpoint (and not a zip one)');
    const proto = await next('protocol version');
    if (proto !== 1001) throw new WeightsError(file, 'protocol version', `${String(proto)} is not supported (expected 1001)`);
    const sys = await next('sys_info', { dicts: 'map' });
    if (sys instanceof Map && sys.get('little_endian') === false) throw new WeightsError(file, 'sys_info', 'big-endian checkpoints are not supported');
    const storages = new Map<string, StorageRef>();
    const root = await next('object', { dicts: 'map', globals: allowList(), persistentLoad: makePersistentLoad(file, storages, true) });
    const keys = await next('storage keys');
    if (!Array.isArray(keys)) throw new WeightsError(file, 'storage keys', 'is not a list');
    // Storage records follow in key order: int64 element count, then the elements.
    const at = new Map<string, number>();
    let p = pos;
    for (const k of keys) {
      const key = String(k);
      const s = storages.get(key);
      if (!s) throw new WeightsError(file, `storage ${key}`, 'listed but never referenced by the object');
      const hdr = new Uint8Array(8);
      const { bytesRead } = await fh.read(hdr, 0, 8, p);
      if (bytesRead < 8) throw new WeightsError(file, `storage ${key}`, `truncated: size header missing at byte ${p}`);
      const count = Number(new DataView(hdr.buffer).getBigInt64(0, true));
      if (count !== s.numel) throw new WeightsError(file, `storage ${key}`, `size header says ${count} elements, the pickle ${s.numel}`);
      at.set(key, p + 8);
      p += 8 + count * DTYPE_BYTES[s.dtype];
      if (p > size) throw new WeightsError(file, `storage ${key}`, `truncated: data ends at byte ${p}, the file has ${size}`);
    }
    for (const key of storages.keys()) if (!at.has(key)) throw new WeightsError(file, `storage ${key}`, 'referenced but missing from the storage list');
    const readStorage = async (s: StorageRef): Promise<Uint8Array> => {
      const n = s.numel * DTYPE_BYTES[s.dtype];
      const out = await readFully(fh, n, at.get(s.key)!);
      if (out.length < n) throw new WeightsError(file, `storage ${s.key}`, 'truncated');
      return out;
    };
    return { file, root, materialize: (v) => materialize(file, v, readStorage), close: () => fh.close() };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Materialization

async function materialize(file: string, value: PickleValue, readStorage: (s: StorageRef) => Promise<Uint8Array>): Promise<PickleValue> {
  // 1. Find the tensor refs (remembering a readable path for errors), grouped by storage.
  const where = new Map<TensorRef, string>();
  const seen = new Set<object>();
  const visit = (v: PickleValue, at: string): void => {
    if (v instanceof TensorRef) { if (!where.has(v)) where.set(v, at); return; }
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Map) for (const [k, x] of v) visit(x, at ? `${at}.${String(k)}` : String(k));
    else if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${at}[${i}]`));
    else if (Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) visit(x, at ? `${at}.${k}` : k);
  };
  visit(value, '');
  const byStorage = new Map<string, TensorRef[]>();
  for (const r of where.keys()) {
    const list = byStorage.get(r.storage.key) ?? [];
    list.push(r);
    byStorage.set(r.storage.key, list);
  }
  // 2. One storage at a time: read, decode, copy its tensors out.
  const done = new Map<TensorRef, LoadedTensor>();
  for (const refs of byStorage.values()) {
    const s = refs[0]!.storage;
    const fail = (m: string): never => { throw new WeightsError(file, `storage ${s.key}`, m); };
    const data = decodeElements((await readStorage(s)).subarray(0, s.numel * DTYPE_BYTES[s.dtype]), s.dtype, fail);
    for (const r of refs) done.set(r, gather(file, where.get(r)!, r, data));
  }
  // 3. Swap them into the tree.
  const swapped = new Set<object>();
  const swap = (v: PickleValue): PickleValue => {
    if (v instanceof TensorRef) return done.get(v)!;
    if (v === null || typeof v !== 'object' || swapped.has(v)) return v;
    swapped.add(v);
    if (v instanceof Map) for (const [k, x] of v) v.set(k, swap(x));
    else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) v[i] = swap(v[i]);
    else if (Object.getPrototypeOf(v) === Object.prototype) for (const k of Object.keys(v)) (v as Record<string, unknown>)[k] = swap((v as Record<string, unknown>)[k]);
    return v;
  };
  return swap(value);
}

/** Copies the strided view `r` out of the decoded storage into a new contiguous array. */
function gather(file: string, at: string, r: TensorRef, src: LoadedTensor['data']): LoadedTensor {
  const n = numelOf(r.shape);
  const base = r.offset + r.storage.viewOffset;
  const Ctor = src.constructor as new (n: number) => LoadedTensor['data'];
  const out = new Ctor(n);
  if (n > 0) {
    let last = base;
    for (let d = 0; d < r.shape.length; d++) last += (r.shape[d]! - 1) * r.stride[d]!;
    if (last >= src.length) {
      throw new WeightsError(file, `tensor ${at || '<root>'}`,
        `size [${r.shape.join(', ')}] stride [${r.stride.join(', ')}] offset ${base} reaches element ${last} of a ${src.length}-element storage`);
    }
    const contiguous = r.shape.every((_, d) => r.shape[d] === 1 || r.stride[d] === numelOf(r.shape.slice(d + 1)));
    if (contiguous) out.set(src.subarray(base, base + n));
    else {
      const rank = r.shape.length;
      const idx = new Array<number>(rank).fill(0);
      let off = base;
      for (let i = 0; i < n; i++) {
        out[i] = src[off]!;
        for (let d = rank - 1; d >= 0; d--) {
          if (++idx[d]! < r.shape[d]!) { off += r.stride[d]!; break; }
          off -= (r.shape[d]! - 1) * r.stride[d]!;
          idx[d] = 0;
        }
      }
    }
  }
  return new LoadedTensor([...r.shape], r.storage.dtype, out);
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/** Opens a `.pth`/`.bin` (zip or legacy, sniffed from the bytes) without reading any tensor data yet. */
export async function openTorchFile(file: string): Promise<TorchFile> {
  const fmt = await sniffWeightsFormat(file);
  if (fmt === 'torch-zip') return openZip(file);
  if (fmt === 'torch-legacy') return openLegacy(file);
  throw new WeightsError(file, 'format', 'not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)');
}

/** Loads everything: nested plain data with tensors as LoadedTensor (see the value mapping above). */
export async function loadTorchFile(file: string): Promise<PickleValue> {
  const f = await openTorchFile(file);
  try {
    return await f.materialize(f.root);
  } finally {
    await f.close();
  }
}

const STATE_DICT_KEYS = ['model', 'state_dict', 'model_state_dict', 'module'];

function isTensorMap(v: PickleValue): v is Map<string, TensorRef> {
  return v instanceof Map && v.size > 0 && [...v.values()].every((x) => x instanceof TensorRef) && [...v.keys()].every((k) => typeof k === 'string');
}

/**
 * The state dict inside a torch file: the top-level dict when it holds only tensors, else the one under `key`
 * (default: the first of 'model', 'state_dict', 'model_state_dict', 'module' that holds only tensors). Only that
 * dict's storages are read, so the optimizer state of a training checkpoint costs nothing.
 */
export async function torchStateDict(file: string, opts: { key?: string } = {}): Promise<Map<string, LoadedTensor>> {
  const f = await openTorchFile(file);
  try {
    return (await f.materialize(findStateDict(file, f.root, opts.key))) as Map<string, LoadedTensor>;
  } finally {
    await f.close();
  }
}

/** Locates the state dict (still lazy) inside an opened torch file's root; see torchStateDict. */
export function findStateDict(file: string, root: PickleValue, key?: string): Map<string, TensorRef> {
  if (key !== undefined) {
    if (!(root instanceof Map) || !root.has(key)) {
      throw new WeightsError(file, `key ${key}`, `not found at the top level${root instanceof Map ? ` (keys: ${[...root.keys()].join(', ')})` : ''}`);
    }
    const sd = root.get(key);
    if (!isTensorMap(sd)) throw new WeightsError(file, `key ${key}`, 'is not a dict of tensors');
    return sd;
  }
  if (isTensorMap(root)) return root;
  const k = root instanceof Map ? STATE_DICT_KEYS.find((c) => isTensorMap(root.get(c))) : undefined;
  if (k === undefined) {
    const keys = root instanceof Map ? [...root.keys()].map(String).join(', ') : typeof root;
    throw new WeightsError(file, 'state dict', `none found: the top level is not a dict of tensors and has none of ${STATE_DICT_KEYS.join('/')} (top-level keys: ${keys})`);
  }
  return (root as Map<string, Map<string, TensorRef>>).get(k)!;
}
