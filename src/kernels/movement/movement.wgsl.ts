// WGSL for data movement: one strided copy kernel (contiguous(), concat, pad, slice-assign, roll) and a fill.
// Both index through shape/strides in uniforms, so any view layout uses the same pipeline.
import type { DType } from '../../tensor/dtype.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d, wgslEnable } from '../common.ts';
import type { CopyPlan } from './movement.cpu.ts';

const WG = 256;

function copySource(t: DType): string {
  return `${wgslEnable([t])}
struct U {
  n: u32, rank: u32, srcOff: u32, dstOff: u32,
  shape: array<vec4<u32>, 2>, ss: array<vec4<u32>, 2>, ds: array<vec4<u32>, 2>, shift: array<vec4<u32>, 2>,
};
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> S: array<${t}>;
@group(0) @binding(2) var<storage, read_write> D: array<${t}>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  var rem = i;
  var so = u.srcOff;
  var dO = u.dstOff;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {
    let dd = u32(d);
    let s = u.shape[dd / 4u][dd % 4u];
    let q = rem % s;
    rem = rem / s;
    let sh = u.shift[dd / 4u][dd % 4u];
    so += ((q + s - sh) % s) * u.ss[dd / 4u][dd % 4u];
    dO += q * u.ds[dd / 4u][dd % 4u];
  }
  D[dO] = S[so];
}`;
}

export function copyWgsl(src: Tensor, dst: Tensor, p: CopyPlan): void {
  const n = p.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const u = new Uniforms().u32(n).u32(p.shape.length).u32(p.srcOffset).u32(p.dstOffset)
    .arr8(p.shape, 1).arr8(p.srcStrides).arr8(p.dstStrides).arr8(p.shifts ?? []);
  // f16 moves as f16; every 4-byte type moves as raw u32 bits (one pipeline for f32/i32/u32).
  const t: DType = src.dtype === 'f16' ? 'f16' : 'u32';
  dispatch(`copy:${t}`, ['read', 'rw'], () => copySource(t), [src, dst], u, grid1d(n, WG), 'copy');
}

function fillSource(t: DType): string {
  return `${wgslEnable([t])}
struct U { n: u32, rank: u32, off: u32, bits: u32, shape: array<vec4<u32>, 2>, st: array<vec4<u32>, 2> };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> D: array<${t}>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  var rem = i;
  var o = u.off;
  for (var d = i32(u.rank) - 1; d >= 0; d--) {
    let dd = u32(d);
    let s = u.shape[dd / 4u][dd % 4u];
    o += (rem % s) * u.st[dd / 4u][dd % 4u];
    rem = rem / s;
  }
  D[o] = ${t === 'f16' ? 'f16(bitcast<f32>(u.bits))' : 'u.bits'};
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
  dispatch(`fill:${t}`, ['rw'], () => fillSource(t), [dst], u, grid1d(n, WG), 'fill');
}
