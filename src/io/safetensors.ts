// safetensors read/write (https://github.com/huggingface/safetensors, "Format"): the checkpoint format of this project
// (STYLE.md practice 13: `.pth` is import-only; our checkpoints are safetensors carrying the resolved model config).
//
// Layout: u64 little-endian N | N bytes of UTF-8 JSON | data section. The JSON maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (byte offsets relative to the data section, row-major, little
// endian) plus an optional "__metadata__" string→string map.
//
// Host representation of what we read (`dtype` keeps the on-disk type, `data` is what the engine consumes):
//   F32, F16, BF16 -> Float32Array        F64 -> Float64Array          I64 -> Float64Array (exact; |v| > 2^53 throws)
//   I32 -> Int32Array   U32 -> Uint32Array   I16, U16, I8, U8, BOOL -> Int32Array
// Module.loadStateDict converts to the module's own dtype (our int64 buffers are i32 tensors).
//
// Writer conventions, chosen to match the official Rust serializer byte for byte where it is deterministic:
//   * tensors are laid out sorted by dtype (the Rust enum order, descending: U64 I64 F64 U32 I32 F32 BF16 F16 U16 I16
//     U8 I8 BOOL as listed in DTYPE_ORDER) and then by name (UTF-8 bytes), so every tensor is naturally aligned;
//   * compact JSON, "__metadata__" first (omitted when empty), its keys sorted (the Rust side uses a HashMap, whose
//     order is random: sorting is our choice for reproducible files), then tensors in data order with the fields
//     dtype, shape, data_offsets;
//   * the header is padded with spaces to a multiple of 8 bytes.
// Files are written to a temporary name, fsynced and renamed, so a crash never leaves a half checkpoint.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import type { HostTensor } from '../nn/module.ts';
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { DType } from '../tensor/dtype.ts';

export type WeightDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element. */
export const DTYPE_BYTES: Record<WeightDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
};

// Rust `Dtype` declaration order (BOOL first); the serializer sorts by it descending.
const DTYPE_ORDER: WeightDType[] = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64'];

export function isWeightDType(s: unknown): s is WeightDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** A tensor read from a weights file: engine-ready data plus the dtype it had on disk. */
export class LoadedTensor implements HostTensor {
  constructor(
    readonly shape: number[],
    readonly dtype: WeightDType,
    readonly data: HostTensor['data'],
  ) {}
  get size(): number { return this.data.length; }
}

export function isLoadedTensor(v: unknown): v is LoadedTensor {
  return v instanceof LoadedTensor;
}

/** Every malformed-weights error names the file and the field (tensor name, header field, zip entry). */
export class WeightsError extends Error {
  constructor(readonly file: string, readonly field: string, detail: string) {
    super(`${file}: ${field}: ${detail}`);
    this.name = 'WeightsError';
  }
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Element decoding and encoding (little endian, as safetensors and PyTorch on x86/arm store it).

let halfTable: Float32Array | null = null;
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (halfTable = t);
}

/**
 * Decodes `bytes` (numel × DTYPE_BYTES[dtype]) to the host representation documented above. `where` names the
 * tensor for errors. The returned array never aliases `bytes` unless it is F32/F64/I32/U32 over an aligned buffer
 * owned by the caller (then it is a view: callers pass fresh buffers).
 */
export function decodeElements(bytes: Uint8Array, dtype: WeightDType, fail: (msg: string) => never): HostTensor['data'] {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const buf = aligned.buffer;
  const off = aligned.byteOffset;
  switch (dtype) {
    case 'F32': return new Float32Array(buf, off, n);
    case 'F64': return new Float64Array(buf, off, n);
    case 'I32': return new Int32Array(buf, off, n);
    case 'U32': return new Uint32Array(buf, off, n);
    case 'F16': {
      const h = new Uint16Array(buf, off, n);
      const t = halfToFloatTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[h[i]!]!;
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of an f32.
      const h = new Uint16Array(buf, off, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = h[i]! << 16;
      return new Float32Array(out.buffer);
    }
    case 'I64': {
      const w = new Int32Array(buf, off, 2 * n);
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const lo = w[2 * i]! >>> 0;
        const hi = w[2 * i + 1]!;
        // |v| <= 2^53 - 1 <=> hi in [-2^21, 2^21) with the edge cases checked exactly below.
        const v = hi * 4294967296 + lo;
        if (!Number.isSafeInteger(v)) fail(`int64 element ${i} does not fit a JS number exactly`);
        out[i] = v;
      }
      return out;
    }
    case 'I16': return Int32Array.from(new Int16Array(buf, off, n));
    case 'U16': return Int32Array.from(new Uint16Array(buf, off, n));
    case 'I8': return Int32Array.from(new Int8Array(buf, off, n));
    case 'U8': return Int32Array.from(new Uint8Array(buf, off, n));
    case 'BOOL': {
      const b = new Uint8Array(buf, off, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        if (b[i]! > 1) fail(`bool element ${i} has byte value ${b[i]} (expected 0 or 1)`);
        out[i] = b[i]!;
      }
      return out;
    }
  }
}

const INT_RANGE: Partial<Record<WeightDType, [number, number]>> = {
  I64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], I32: [-(2 ** 31), 2 ** 31 - 1], U32: [0, 2 ** 32 - 1],
  I16: [-32768, 32767], U16: [0, 65535], I8: [-128, 127], U8: [0, 255], BOOL: [0, 1],
};

/** f32 -> bf16 with round-to-nearest-even (what torch's `.to(torch.bfloat16)` does); NaN stays a quiet NaN. */
function toBf16(data: ArrayLike<number>): Uint16Array {
  const f = Float32Array.from(data);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const x = u[i]!;
    out[i] = Number.isNaN(f[i]) ? ((x >>> 16) | 0x40) : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16);
  }
  return out;
}

/** Encodes numbers as `dtype` elements; integer dtypes reject non-integers and out-of-range values. */
export function encodeElements(data: ArrayLike<number>, dtype: WeightDType, fail: (msg: string) => never): Uint8Array {
  const range = INT_RANGE[dtype];
  if (range) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) fail(`element ${i} = ${v} is not a valid ${dtype} value`);
    }
  }
  let arr: ArrayBufferView;
  switch (dtype) {
    case 'F32': arr = Float32Array.from(data); break;
    case 'F64': arr = Float64Array.from(data); break;
    case 'F16': arr = new Uint16Array(new Float16Array(Array.from(data)).buffer); break;
    case 'BF16': arr = toBf16(data); break;
    case 'I64': {
      const w = new Int32Array(2 * data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        const hi = Math.floor(v / 4294967296);
        w[2 * i] = v - hi * 4294967296; // low word, wraps to the signed view of the same bits
        w[2 * i + 1] = hi;
      }
      arr = w;
      break;
    }
    case 'I32': arr = Int32Array.from(data); break;
    case 'U32': arr = Uint32Array.from(data); break;
    case 'I16': arr = Int16Array.from(data); break;
    case 'U16': arr = Uint16Array.from(data); break;
    case 'I8': arr = Int8Array.from(data); break;
    case 'U8': case 'BOOL': arr = Uint8Array.from(data); break;
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface TensorInfo {
  name: string;
  dtype: WeightDType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

const MAX_HEADER = 100_000_000; // the official reader's limit

/** An open safetensors file: the parsed header, tensors read on demand at their offsets. */
export class SafetensorsFile {
  private constructor(
    readonly file: string,
    private readonly fh: fsp.FileHandle,
    readonly metadata: Record<string, string>,
    readonly tensors: Map<string, TensorInfo>,
  ) {}

  static async open(file: string): Promise<SafetensorsFile> {
    const fh = await fsp.open(file, 'r');
    try {
      const { metadata, tensors } = await parseHeader(file, fh);
      return new SafetensorsFile(file, fh, metadata, tensors);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  keys(): string[] { return [...this.tensors.keys()]; }

  async readRaw(name: string): Promise<Uint8Array> {
    const info = this.tensors.get(name);
    if (!info) throw new WeightsError(this.file, name, 'no such tensor');
    const out = await readFully(this.fh, info.end - info.begin, info.begin);
    if (out.length !== info.end - info.begin) throw new WeightsError(this.file, `tensor ${JSON.stringify(name)}`, 'truncated: the file ends inside the tensor data');
    return out;
  }

  async read(name: string): Promise<LoadedTensor> {
    const raw = await this.readRaw(name);
    const info = this.tensors.get(name)!;
    const fail = (m: string): never => { throw new WeightsError(this.file, name, m); };
    return new LoadedTensor([...info.shape], info.dtype, decodeElements(raw, info.dtype, fail));
  }

  async close(): Promise<void> { await this.fh.close(); }
}

/**
 * Reads `n` bytes at `pos` into a fresh (8-byte aligned) array, in chunks of at most 1 GiB (one fs read is limited
 * to 2 GiB). Returns fewer bytes only when the file ends first.
 */
export async function readFully(fh: fsp.FileHandle, n: number, pos: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(out, got, Math.min(n - got, 1 << 30), pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === n ? out : out.subarray(0, got);
}

async function parseHeader(file: string, fh: fsp.FileHandle): Promise<{ metadata: Record<string, string>; tensors: Map<string, TensorInfo> }> {
  const size = (await fh.stat()).size;
  if (size < 8) throw new WeightsError(file, 'header length', `truncated: the file has ${size} bytes, fewer than the 8-byte header length`);
  const lenBytes = await readFully(fh, 8, 0);
  const n64 = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n64 > BigInt(size - 8)) {
    throw new WeightsError(file, 'header length', `${n64} bytes of JSON header announced but the file has only ${size - 8} bytes after the length (truncated or not a safetensors file)`);
  }
  const n = Number(n64);
  if (n > MAX_HEADER) throw new WeightsError(file, 'header length', `${n} bytes exceeds the ${MAX_HEADER}-byte limit`);
  if (n < 2) throw new WeightsError(file, 'header', `${n}-byte header is too short to be JSON`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFully(fh, n, 8));
  } catch {
    throw new WeightsError(file, 'header', 'JSON header is not valid UTF-8');
  }
  if (text[0] !== '{') throw new WeightsError(file, 'header', 'JSON header does not start with "{" (not a safetensors file)');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new WeightsError(file, 'header', `invalid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new WeightsError(file, 'header', 'JSON header is not an object');
  const dataStart = 8 + n;
  const dataLen = size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new WeightsError(file, '__metadata__', 'is not a string→string object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new WeightsError(file, `__metadata__.${k}`, `value is ${typeof v}, expected a string`);
        metadata[k] = v;
      }
      continue;
    }
    const fail = (m: string): never => { throw new WeightsError(file, `tensor ${JSON.stringify(name)}`, m); };
    if (raw === null || typeof raw !== 'object') fail('entry is not an object');
    const e = raw as Record<string, unknown>;
    if (!isWeightDType(e.dtype)) fail(`unknown dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    const dtype = e.dtype as WeightDType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
    const shape = e.shape as number[];
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      fail(`data_offsets ${JSON.stringify(off)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [b, en] = off as [number, number];
    if (en > dataLen) fail(`data_offsets [${b}, ${en}] run past the end of the data section (${dataLen} bytes; file truncated?)`);
    const want = numelOf(shape) * DTYPE_BYTES[dtype];
    if (en - b !== want) fail(`shape [${shape.join(', ')}] ${dtype} needs ${want} bytes but data_offsets [${b}, ${en}] hold ${en - b}`);
    tensors.set(name, { name, dtype, shape, begin: dataStart + b, end: dataStart + en });
  }
  // Ranges must not overlap (gaps are tolerated; the official writer never leaves any).
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, c) => a.begin - c.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) {
      throw new WeightsError(file, `tensor ${JSON.stringify(cur.name)}`,
        `data_offsets overlap those of ${JSON.stringify(prev.name)} ([${cur.begin - dataStart}, ${cur.end - dataStart}] vs [${prev.begin - dataStart}, ${prev.end - dataStart}])`);
    }
  }
  return { metadata, tensors };
}

export interface ReadOptions {
  /** Read only these tensors (default: all). */
  keys?: (name: string) => boolean;
}

/** Reads a whole safetensors file; each tensor is read at its offset, so no file-sized buffer is ever made. */
export async function readSafetensors(file: string, opts: ReadOptions = {}): Promise<{ tensors: Map<string, LoadedTensor>; metadata: Record<string, string> }> {
  const f = await SafetensorsFile.open(file);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const name of f.keys()) if (!opts.keys || opts.keys(name)) tensors.set(name, await f.read(name));
    return { tensors, metadata: { ...f.metadata } };
  } finally {
    await f.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

export interface WritableTensor {
  shape: readonly number[];
  dtype: WeightDType;
  /** Values (converted to dtype), or a thunk producing them when the writer reaches this tensor (streaming). */
  data: ArrayLike<number> | (() => Promise<ArrayLike<number>>);
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The header bytes and data layout the writer will produce (exported for tests and for size estimates). */
export function layoutSafetensors(tensors: Map<string, Pick<WritableTensor, 'shape' | 'dtype'>>, metadata: Record<string, string> = {}, file = '<safetensors>'):
  { header: Uint8Array; order: { name: string; begin: number; end: number }[] } {
  const names = [...tensors.keys()].sort((a, b) => {
    const da = DTYPE_ORDER.indexOf(tensors.get(a)!.dtype);
    const db = DTYPE_ORDER.indexOf(tensors.get(b)!.dtype);
    return db - da || utf8Compare(a, b);
  });
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata).sort(utf8Compare);
  if (metaKeys.length) {
    for (const k of metaKeys) {
      if (typeof metadata[k] !== 'string') throw new WeightsError(file, `__metadata__.${k}`, 'value must be a string');
    }
    parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  const order: { name: string; begin: number; end: number }[] = [];
  let pos = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const field = `tensor ${JSON.stringify(name)}`;
    if (name === '__metadata__') throw new WeightsError(file, field, 'the name is reserved');
    if (!isWeightDType(t.dtype)) throw new WeightsError(file, field, `unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new WeightsError(file, field, `bad shape [${t.shape.join(', ')}]`);
    const bytes = numelOf(t.shape) * DTYPE_BYTES[t.dtype];
    order.push({ name, begin: pos, end: pos + bytes });
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${pos},${pos + bytes}]}`);
    pos += bytes;
  }
  let json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const header = new Uint8Array(8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(json.length), true);
  header.set(json, 8);
  return { header, order };
}

/** Writes a safetensors file atomically (temporary file, fsync, rename, fsync of the folder). */
export async function writeSafetensors(file: string, tensors: Map<string, WritableTensor>, metadata: Record<string, string> = {}): Promise<void> {
  const { header, order } = layoutSafetensors(tensors, metadata, file);
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const fh = await fsp.open(tmp, 'w');
  let ok = false;
  try {
    await fh.write(header, 0, header.length, 0);
    let pos = header.length;
    for (const { name, begin, end } of order) {
      const t = tensors.get(name)!;
      const field = `tensor ${JSON.stringify(name)}`;
      const data = typeof t.data === 'function' ? await t.data() : t.data;
      const n = numelOf(t.shape);
      if (data.length !== n) throw new WeightsError(file, field, `shape [${t.shape.join(', ')}] needs ${n} values, got ${data.length}`);
      const bytes = encodeElements(data, t.dtype, (m) => { throw new WeightsError(file, field, m); });
      if (bytes.length !== end - begin) throw new WeightsError(file, field, 'internal: encoded size differs from the layout');
      await fh.write(bytes, 0, bytes.length, pos);
      pos += bytes.length;
    }
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await fsp.rm(tmp, { force: true });
  }
  await fsp.rename(tmp, file);
  try {
    const d = await fsp.open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  } catch { /* some filesystems refuse fsync on a directory; the rename is still atomic */ }
}

// ---------------------------------------------------------------------------------------------------------------
// State dicts and checkpoints

/** Metadata key holding the resolved model config (JSON) in our checkpoints. */
export const MODEL_CONFIG_KEY = 'fianet.model_config';

const ENGINE_TO_WEIGHT: Record<DType, WeightDType> = { f32: 'F32', f16: 'F16', f64: 'F64', i32: 'I32', u32: 'U32' };

/**
 * Saves a module's state dict (or any named tensors) with their own dtypes. Tensors are copied to the host one at a
 * time while the file is written (await toArray), so a GPU model never needs a second full copy in host memory.
 */
export async function saveStateDict(file: string, src: Module | Map<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  const sd = src instanceof Map ? src : src.stateDict();
  const out = new Map<string, WritableTensor>();
  for (const [name, t] of sd) {
    out.set(name, { shape: [...t.shape], dtype: ENGINE_TO_WEIGHT[t.dtype], data: () => t.toArray() });
  }
  await writeSafetensors(file, out, metadata);
}

/** Metadata for a checkpoint: the resolved model config under MODEL_CONFIG_KEY plus any extra string fields. */
export function checkpointMetadata(modelConfig: unknown, extra: Record<string, string> = {}): Record<string, string> {
  return { ...extra, [MODEL_CONFIG_KEY]: JSON.stringify(modelConfig) };
}

/** Reads only the header: the metadata and the parsed model config (null when the file has none). */
export async function readCheckpointMeta(file: string): Promise<{ metadata: Record<string, string>; modelConfig: unknown | null; tensors: TensorInfo[] }> {
  const f = await SafetensorsFile.open(file);
  try {
    const raw = f.metadata[MODEL_CONFIG_KEY];
    let modelConfig: unknown | null = null;
    if (raw !== undefined) {
      try {
        modelConfig = JSON.parse(raw);
      } catch (err) {
        throw new WeightsError(file, `__metadata__.${MODEL_CONFIG_KEY}`, `invalid JSON: ${(err as Error).message}`);
      }
    }
    return { metadata: { ...f.metadata }, modelConfig, tensors: [...f.tensors.values()] };
  } finally {
    await f.close();
  }
}

export type WeightsFormat = 'safetensors' | 'torch-zip' | 'torch-legacy';

// torch's legacy files open with pickle.dumps(0x1950a86a20f9469cfc6c, protocol 2): PROTO 2, LONG1 of 10 bytes.
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** Detects the container by its first bytes (never by file name); unknown content is an error. */
export async function sniffWeightsFormat(file: string): Promise<WeightsFormat> {
  const fh = await fsp.open(file, 'r');
  try {
    const b = await readFully(fh, 16, 0);
    if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) return 'torch-zip';
    // A prefix of the magic still counts, so a truncated legacy file gets the legacy reader's 'truncated' error.
    if (b.length >= 2 && b.every((x, i) => i >= LEGACY_MAGIC.length || x === LEGACY_MAGIC[i])) return 'torch-legacy';
    if (b.length < 9 || b[8] === 0x7b) return 'safetensors'; // '{' (too-short files get the safetensors reader's error)
    throw new WeightsError(file, 'format', 'not a safetensors file, a PyTorch zip archive or a PyTorch legacy pickle stream');
  } finally {
    await fh.close();
  }
}

/**
 * Loads the state dict from one of our safetensors checkpoints, or from a PyTorch `.pth`/`.bin` (content-sniffed;
 * the state dict is found as torchStateDict does).
 */
export async function loadStateDictFile(file: string): Promise<Map<string, LoadedTensor>> {
  const fmt = await sniffWeightsFormat(file);
  if (fmt === 'safetensors') return (await readSafetensors(file)).tensors;
  const { torchStateDict } = await import('./torch-load.ts');
  return torchStateDict(file);
}
