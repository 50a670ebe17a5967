// WGSL for data movement: one strided copy kernel (contiguous(), concat, pad, slice-assign, roll) and a fill.
// Both index through shape/strides in uniforms, so any view layout uses the same pipeline.
import type { DType } from '../../tensor/dtype.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d, gridRows, rank8At, wgslEnable, wgslOffsetFn } from '../common.ts';
import type { CopyPlan } from './movement.cpu.ts';
import { isContiguous as isDense } from '../../tensor/shape.ts';

const WG = 256;
// The copy kernel: 64 lanes along the innermost dim, ROWS outer rows per workgroup.
const CWG = 64;
const ROWS = 16;

// Launch shape: x covers the innermost dim, y/z the rows of all outer dims. Only the row index (the same for a
// whole workgroup) is decoded with div/mod: llvmpipe has no vector integer division, so a per-lane decode
// costs a scalar divide per lane and dim, which made this copy 10x slower.
function copySource(t: DType, rank: number): string {
  // Unrolled over the rank (a pipeline variant, like the dtype): constant indices into the uniform arrays.
  // Dynamically indexed uniform arrays were the cost here: llvmpipe turns them into per-lane gathers.
  const at = (arr: string, d: number) => rank8At(`u.${arr}`, d);
  const outer: string[] = [];
  for (let d = rank - 2; d >= 0; d--) {
    // The outermost index is what remains: no division.
    outer.push(`{
    let s = ${at('shape', d)};
    let q = ${d === 0 ? 'rem' : 'rem % s'};
    ${d === 0 ? '' : 'rem = rem / s;'}
    so += ((q + s - ${at('shift', d)}) % s) * ${at('ss', d)};
    dO += q * ${at('ds', d)};
  }`);
  }
  const last = rank - 1;
  return `${wgslEnable([t])}
struct U {
  inner: u32, rows: u32, _rank: u32, srcOff: u32, dstOff: u32, _a: u32, _b: u32, _c: u32,
  shape: array<vec4<u32>, 2>, ss: array<vec4<u32>, 2>, ds: array<vec4<u32>, 2>, shift: array<vec4<u32>, 2>,
};
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> S: array<${t}>;
@group(0) @binding(2) var<storage, read_write> D: array<${t}>;
@compute @workgroup_size(${CWG})
fn main(${WGSL_IDS}) {
  let sLast = ${at('shape', last)};
  // Each workgroup copies ROWS rows: lavapipe pays a fixed cost per workgroup, so many tiny ones are slow.
  let row0 = (wid.z * nwg.y + wid.y) * ${ROWS}u;
  // Columns beyond 65535 workgroups' worth are covered by striding (long contiguous copies).
  for (var col = wid.x * ${CWG}u + lid.x; col < u.inner; col += nwg.x * ${CWG}u) {
    var c = col + sLast - ${at('shift', last)};
    if (c >= sLast) { c -= sLast; }
    let sCol = c * ${at('ss', last)};
    let dCol = col * ${at('ds', last)};
    for (var row = row0; row < min(row0 + ${ROWS}u, u.rows); row++) {
      var rem = row;
      var so = u.srcOff;
      var dO = u.dstOff;
      ${outer.join('\n      ')}
      D[dO + dCol] = S[so + sCol];
    }
  }
}`;
}

export function copyWgsl(src: Tensor, dst: Tensor, p: CopyPlan): void {
  const n = p.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  // Walk the source contiguously when one of its dims has unit stride (a transpose then writes scattered but
  // reads in order, which measured faster on llvmpipe): move that dim innermost. Rank 0 copies one element.
  const unit = p.srcStrides.indexOf(1);
  if (unit >= 0 && unit !== p.shape.length - 1 && !p.shifts) {
    const order = [...p.shape.keys()].filter((d) => d !== unit).concat(unit);
    p = { ...p, shape: order.map((d) => p.shape[d]!), srcStrides: order.map((d) => p.srcStrides[d]!), dstStrides: order.map((d) => p.dstStrides[d]!) };
  }
  const shape = p.shape.length ? p.shape : [1];
  const inner = shape[shape.length - 1]!;
  const rows = n / inner;
  const u = new Uniforms().u32(inner).u32(rows).u32(shape.length).u32(p.srcOffset).u32(p.dstOffset).u32(0).u32(0).u32(0)
    .arr8(shape, 1).arr8(p.srcStrides).arr8(p.dstStrides).arr8(p.shifts ?? []);
  // f16 moves as f16; every 4-byte type moves as raw u32 bits (one pipeline for f32/i32/u32).
  const t: DType = src.dtype === 'f16' ? 'f16' : 'u32';
  dispatch(`copy:${t}:r${shape.length}`, ['read', 'rw'], () => copySource(t, shape.length), [src, dst], u, gridRows(Math.min(inner, 65535 * CWG), Math.ceil(rows / ROWS), CWG), 'copy');
}

// Fill: a dense vec4 variant for whole contiguous 4-byte tensors (zeros for gradients, buffers), and the strided
// variant for views (pad borders, slice regions).
function fillSource(t: DType, dense4: boolean, rank: number): string {
  if (dense4) {
    return `
struct U { n: u32, _rank: u32, off: u32, bits: u32, shape: array<vec4<u32>, 2>, st: array<vec4<u32>, 2> };
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> D: array<vec4<u32>>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i * 4u >= u.n) { return; }
  D[i + u.off / 4u] = vec4<u32>(u.bits);
}`;
  }
  return `${wgslEnable([t])}
struct U { n: u32, _rank: u32, off: u32, bits: u32, shape: array<vec4<u32>, 2>, st: array<vec4<u32>, 2> };
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> D: array<${t}>;
${wgslOffsetFn('offsetOf', rank, 'u.shape', ['u.st'])}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  D[offsetOf(i, u.off)] = ${t === 'f16' ? 'f16(bitcast<f32>(u.bits))' : 'u.bits'};
}`;
}

export function fillWgsl(dst: Tensor, shape: number[], strides: number[], offset: number, value: number): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const bits = new Uint32Array(1);
  if (dst.dtype === 'i32') new Int32Array(bits.buffer)[0] = value;
  else if (dst.dtype === 'u32') bits[0] = value;
  else new Float32Array(bits.buffer)[0] = value;
  const t: DType = dst.dtype === 'f16' ? 'f16' : 'u32';
  const u = new Uniforms().u32(n).u32(shape.length).u32(offset).u32(bits[0]!).arr8(shape, 1).arr8(strides);
  const dense4 = t === 'u32' && n % 4 === 0 && offset % 4 === 0 && isDense(shape, strides);
  dispatch(`fill:${t}${dense4 ? ':dense4' : `:r${shape.length}`}`, ['rw'], () => fillSource(t, dense4, shape.length), [dst], u, grid1d(dense4 ? n / 4 : n, WG), 'fill');
}
