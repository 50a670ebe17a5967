// Helpers every kernel family shares: the uniform writer, grid sizing for large 1-D launches, the WGSL
// snippets that decode a linear index through shape/strides held in uniforms, and a strided CPU walker.
import type { DType } from '../tensor/dtype.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { shapeStr } from '../tensor/shape.ts';
import { getRuntime } from '../runtime/device.ts';

export const MAX_RANK = 8;

const SCRATCH_U32 = new Uint32Array(1);
const SCRATCH_F32 = new Float32Array(SCRATCH_U32.buffer);

/** Packs u32/i32/f32 scalars and rank-8 arrays into one uniform slot, in WGSL struct order (16-byte rows). */
export class Uniforms {
  // One typed array per instance (uniforms are built on every op, so allocations here are GC pressure);
  // f32/i32 bit patterns go through a shared scratch word.
  private words = new Uint32Array(64);
  private n = 0;

  u32(v: number): this {
    this.words[this.n++] = v >>> 0;
    return this;
  }
  i32(v: number): this {
    this.words[this.n++] = (v | 0) >>> 0;
    return this;
  }
  f32(v: number): this {
    SCRATCH_F32[0] = v;
    this.words[this.n++] = SCRATCH_U32[0]!;
    return this;
  }
  /** Aligns to the next 16-byte row (WGSL vec4/array alignment). */
  pad(): this {
    this.n = Math.ceil(this.n / 4) * 4;
    return this;
  }
  /** A rank-8 u32 array as array<vec4<u32>, 2>, padded with `fill`. */
  arr8(values: readonly number[], fill = 0): this {
    this.pad();
    for (let k = 0; k < MAX_RANK; k++) this.words[this.n++] = (values[k] ?? fill) >>> 0;
    return this;
  }
  bytes(): Uint32Array {
    return this.words.subarray(0, Math.max(4, Math.ceil(this.n / 4) * 4));
  }
}

/** WGSL for element d of a rank-8 array<vec4<u32>, 2> uniform field, at a constant index (no per-lane gather). */
export const rank8At = (field: string, d: number): string => `${field}[${d >> 2}].${'xyzw'[d & 3]}`;

/**
 * WGSL `fn name(i: u32, base: T) -> T`: base plus the offsets of row-major index i over `rank` dims, whose sizes
 * and per-operand strides are rank-8 uniform arrays (`u.shape`-style field names). One stride field gives T = u32,
 * n fields give vecN<u32> (one offset per operand sharing the decode). Unrolled over the rank, which callers put
 * in their pipeline key: uniform arrays indexed by a loop counter are per-lane gathers on llvmpipe, constant
 * indices are not. The outermost dim needs no division (i is in range, so what remains is its index).
 */
export function wgslOffsetFn(name: string, rank: number, shape: string, strides: string[]): string {
  const T = strides.length === 1 ? 'u32' : `vec${strides.length}<u32>`;
  const at = rank8At;
  const step = (d: number) => (strides.length === 1 ? at(strides[0]!, d) : `${T}(${strides.map((f) => at(f, d)).join(', ')})`);
  const dims: string[] = [];
  for (let d = rank - 1; d > 0; d--) dims.push(`o += (rem % ${at(shape, d)}) * ${step(d)};\n  rem = rem / ${at(shape, d)};`);
  if (rank > 0) dims.push(`o += rem * ${step(0)};`);
  return `fn ${name}(i: u32, base: ${T}) -> ${T} {
  var rem = i;
  var o = base;
  ${dims.join('\n  ')}
  return o;
}`;
}


/** A 1-D launch of `total` invocations in workgroups of `wg`, folded into y beyond 65535 workgroups. */
export function grid1d(total: number, wg: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(total / wg));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/** A launch of `rows` x `inner` invocations: x covers inner in workgroups of `wg`, rows fold into y and z. */
export function gridRows(inner: number, rows: number, wg: number): [number, number, number] {
  const y = Math.max(1, Math.min(rows, 65535));
  return [Math.max(1, Math.ceil(inner / wg)), y, Math.max(1, Math.ceil(rows / y))];
}

/** WGSL expression for the linear invocation index of a grid1d launch. */
export const WGSL_LINEAR_ID = (wg: number) =>
  `(wid.y * nwg.x + wid.x) * ${wg}u + lid.x`;
export const WGSL_IDS = `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>`;

export function wgslEnable(dtypes: readonly DType[]): string {
  return dtypes.includes('f16') ? 'enable f16;\n' : '';
}

export function dispatch(
  key: string, bindings: ('read' | 'rw')[], code: () => string, tensors: Tensor[], u: Uniforms, grid: [number, number, number], op: string,
): void {
  getRuntime().dispatch({ key, bindings, code }, tensors.map((t) => t.storage.binding), u.bytes(), grid, op);
}

/** Throws naming the op when tensors live on different devices. */
export function sameDevice(op: string, ...ts: Tensor[]): Tensor['device'] {
  const d = ts[0]!.device;
  for (const t of ts) {
    if (t.device !== d) throw new Error(`${op}: tensors on different devices (${ts.map((x) => `${shapeStr(x.shape)} on ${x.device}`).join(', ')})`);
  }
  return d;
}

/**
 * Visits every element of `shape` in row-major order, calling fn(i, off0, off1, off2) with the element
 * offsets of up to three strided operands. The CPU references use it instead of per-element div/mod.
 */
export function stridedWalk(
  shape: readonly number[],
  strides: (readonly number[])[],
  offsets: readonly number[],
  fn: (i: number, o0: number, o1: number, o2: number) => void,
): void {
  const rank = shape.length;
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const idx = new Array<number>(rank).fill(0);
  const o = [offsets[0] ?? 0, offsets[1] ?? 0, offsets[2] ?? 0];
  const st = [strides[0] ?? [], strides[1] ?? [], strides[2] ?? []];
  for (let i = 0; i < n; i++) {
    fn(i, o[0]!, o[1]!, o[2]!);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < 3; k++) o[k]! += st[k]![d] ?? 0;
      if (idx[d]! < shape[d]!) break;
      for (let k = 0; k < 3; k++) o[k]! -= (st[k]![d] ?? 0) * shape[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * Merges adjacent dims that every operand walks contiguously (stride[d] == stride[d+1]*shape[d+1] for all),
 * and drops size-1 dims: fewer dims mean cheaper index decoding in the kernels.
 */
export function coalesce(shape: readonly number[], strides: (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * shape[d]!)) {
      outShape[last]! *= shape[d]!;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
    } else {
      outShape.push(shape[d]!);
      strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}
