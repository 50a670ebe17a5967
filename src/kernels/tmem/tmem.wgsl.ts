// TMEM's fused kernels (FIANET.md §7.1; references in tmem.cpu.ts).
// Pyramid pooling: ONE dispatch pools up to four strided stage maps (B, C_i, H_i, W_i) to the coarse grid
// (oh, ow) and writes them channel-concatenated (B, ΣC_i, oh, ow); the WGSL text has one pool function per
// input binding (generated from one template), and the uniforms carry each input's dims, strides, element
// offset and channel offset. Its backward is ONE dispatch in gather form: each input pixel sums g/area over
// the (few) cells that contain it, so no atomics and a deterministic result.
// Gate: y = local ⊙ up(hsigmoid(actPre)) + up(global), bilinear align_corners = False, in ONE dispatch;
// its backward is ONE dispatch whose first B·C·H·W invocations write dLocal = g ⊙ act and whose last
// B·C·h·w invocations each gather dGlobal and dActPre for one coarse pixel over the fine pixels it feeds.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';

const WG = 64;
/** Inputs per pooling dispatch (storage bindings: 4 inputs + output, or g + 4 gradients). */
export const POOL_GROUP = 4;

export interface PoolInput { t: Tensor; C: number; H: number; W: number; c0: number }

const POOL_HEAD = `
struct In { dims: vec4<u32>, str: vec4<u32>, off: vec4<u32> };
struct U { n: u32, B: u32, Ctot: u32, oh: u32, ow: u32, cBase: u32, Cg: u32, gOff: u32, ins: array<In, ${POOL_GROUP}> };
@group(0) @binding(0) var<uniform> u: U;`;

// One branch per input: c (or the linear index) selects the binding, since WGSL cannot index bindings.
const chain = (k: number, cond: (i: number) => string, body: (i: number) => string) =>
  Array.from({ length: k }, (_, i) => `${i ? ' else ' : ''}${i < k - 1 ? `if (${cond(i)}) ` : ''}{ ${body(i)} }`).join('');

function poolSource(k: number): string {
  const fns = Array.from({ length: k }, (_, i) => `
@group(0) @binding(${i + 1}) var<storage, read> X${i}: array<f32>;
fn pool${i}(b: u32, c: u32, oy: u32, ox: u32) -> f32 {
  let d = u.ins[${i}];
  let y0 = (oy * d.dims.y) / u.oh;
  let y1 = ((oy + 1u) * d.dims.y + u.oh - 1u) / u.oh;
  let x0 = (ox * d.dims.z) / u.ow;
  let x1 = ((ox + 1u) * d.dims.z + u.ow - 1u) / u.ow;
  let base = d.off.x + b * d.str.x + c * d.str.y;
  var s = 0.0;
  for (var y = y0; y < y1; y++) {
    let row = base + y * d.str.z;
    for (var x = x0; x < x1; x++) { s += X${i}[row + x * d.str.w]; }
  }
  return s / f32((y1 - y0) * (x1 - x0));
}`).join('');
  return `${POOL_HEAD}${fns}
@group(0) @binding(${k + 1}) var<storage, read_write> O: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  let ox = i % u.ow;
  let oy = (i / u.ow) % u.oh;
  let cl = (i / (u.ow * u.oh)) % u.Cg;
  let b = i / (u.ow * u.oh * u.Cg);
  let c = u.cBase + cl;
  var v = 0.0;
  ${chain(k, (j) => `c < u.ins[${j}].dims.w + u.ins[${j}].dims.x`, (j) => `v = pool${j}(b, c - u.ins[${j}].dims.w, oy, ox);`)}
  O[((b * u.Ctot + c) * u.oh + oy) * u.ow + ox] = v;
}`;
}

function poolBackwardSource(k: number): string {
  const fns = Array.from({ length: k }, (_, i) => `
@group(0) @binding(${i + 2}) var<storage, read_write> DX${i}: array<f32>;
fn grad${i}(j: u32) {
  let d = u.ins[${i}];
  let H = d.dims.y;
  let W = d.dims.z;
  let ix = j % W;
  let iy = (j / W) % H;
  let c = (j / (W * H)) % d.dims.x;
  let b = j / (W * H * d.dims.x);
  // Cells containing row iy: floor(iy·oh/H) <= oy <= ceil((iy+1)·oh/H) - 1 (same for columns).
  let oy0 = (iy * u.oh) / H;
  let oy1 = ((iy + 1u) * u.oh + H - 1u) / H;
  let ox0 = (ix * u.ow) / W;
  let ox1 = ((ix + 1u) * u.ow + W - 1u) / W;
  let gb = u.gOff + (b * u.Ctot + d.dims.w + c) * u.oh * u.ow;
  var s = 0.0;
  for (var oy = oy0; oy < oy1; oy++) {
    let ch = ((oy + 1u) * H + u.oh - 1u) / u.oh - (oy * H) / u.oh;
    for (var ox = ox0; ox < ox1; ox++) {
      let cw = ((ox + 1u) * W + u.ow - 1u) / u.ow - (ox * W) / u.ow;
      s += G[gb + oy * u.ow + ox] / f32(ch * cw);
    }
  }
  DX${i}[j] = s;
}`).join('');
  return `${POOL_HEAD}
@group(0) @binding(1) var<storage, read> G: array<f32>;${fns}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  ${chain(k, (j) => `i < u.ins[${j}].off.y + u.ins[${j}].off.z`, (j) => `grad${j}(i - u.ins[${j}].off.y);`)}
}`;
}

function poolUniforms(n: number, B: number, Ctot: number, oh: number, ow: number, group: PoolInput[], gOff: number): Uniforms {
  const cBase = group[0]!.c0;
  const Cg = group.reduce((s, x) => s + x.C, 0);
  const u = new Uniforms().u32(n).u32(B).u32(Ctot).u32(oh).u32(ow).u32(cBase).u32(Cg).u32(gOff);
  let start = 0;
  for (let k = 0; k < POOL_GROUP; k++) {
    const x = group[k];
    const cnt = x ? B * x.C * x.H * x.W : 0;
    const st = x ? x.t.strides : [0, 0, 0, 0];
    u.u32(x?.C ?? 0).u32(x?.H ?? 1).u32(x?.W ?? 1).u32(x?.c0 ?? 0);
    u.u32(st[0]!).u32(st[1]!).u32(st[2]!).u32(st[3]!);
    u.u32(x?.t.offset ?? 0).u32(start).u32(cnt).u32(0);
    start += cnt;
  }
  return u;
}

/** Pools a group of ≤ 4 inputs into their channel range of out (B, Ctot, oh, ow). */
export function poolConcatWgsl(group: PoolInput[], B: number, Ctot: number, oh: number, ow: number, out: Tensor): void {
  const k = group.length;
  const n = B * group.reduce((s, x) => s + x.C, 0) * oh * ow;
  const u = poolUniforms(n, B, Ctot, oh, ow, group, 0);
  const key = `tmem_pool:${k}`;
  dispatch(key, [...group.map(() => 'read' as const), 'rw'], () => poolSource(k), [...group.map((x) => x.t), out], u, grid1d(n, WG), 'pyramidPoolConcat');
}

/** Gradients of a group of ≤ 4 inputs (contiguous dxs) from g (B, Ctot, oh, ow) contiguous. */
export function poolConcatBackwardWgsl(g: Tensor, group: PoolInput[], dxs: Tensor[], B: number, Ctot: number, oh: number, ow: number): void {
  const k = group.length;
  const n = group.reduce((s, x) => s + B * x.C * x.H * x.W, 0);
  const u = poolUniforms(n, B, Ctot, oh, ow, group, g.offset);
  const key = `tmem_pool_bwd:${k}`;
  dispatch(key, ['read', ...group.map(() => 'rw' as const)], () => poolBackwardSource(k), [g, ...dxs], u, grid1d(n, WG), 'pyramidPoolConcat.backward');
}

// ---- gate ------------------------------------------------------------------------------------------------
const GATE_HEAD = `
struct U { P: u32, H: u32, W: u32, h: u32, w: u32, nFine: u32, nCoarse: u32, lOff: u32,
  gOff: u32, aOff: u32, grOff: u32, _a: u32, sy: f32, sx: f32, _b: f32, _c: f32 };
@group(0) @binding(0) var<uniform> u: U;
struct Tap { i0: u32, i1: u32, l: f32 };
// PyTorch's area_pixel_compute_source_index for align_corners = False: half-pixel centres, clamped at 0.
fn tap(o: u32, n: u32, s: f32) -> Tap {
  let src = max((f32(o) + 0.5) * s - 0.5, 0.0);
  let i0 = min(u32(floor(src)), n - 1u);
  return Tap(i0, min(i0 + 1u, n - 1u), src - f32(i0));
}
fn hsig(a: f32) -> f32 { return clamp(a + 3.0, 0.0, 6.0) / 6.0; }
// up(hsigmoid(A)) at fine pixel (y, x) of plane p.
fn actAt(p: u32, y: u32, x: u32) -> f32 {
  let ty = tap(y, u.h, u.sy);
  let tx = tap(x, u.w, u.sx);
  let base = u.aOff + p * u.h * u.w;
  let r0 = base + ty.i0 * u.w;
  let r1 = base + ty.i1 * u.w;
  return (1.0 - ty.l) * ((1.0 - tx.l) * hsig(A[r0 + tx.i0]) + tx.l * hsig(A[r0 + tx.i1]))
       + ty.l * ((1.0 - tx.l) * hsig(A[r1 + tx.i0]) + tx.l * hsig(A[r1 + tx.i1]));
}`;

function gateSource(): string {
  return `${GATE_HEAD}
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> Gl: array<f32>;
@group(0) @binding(3) var<storage, read> A: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.nFine) { return; }
  let x = i % u.W;
  let y = (i / u.W) % u.H;
  let p = i / (u.W * u.H);
  let ty = tap(y, u.h, u.sy);
  let tx = tap(x, u.w, u.sx);
  let base = u.gOff + p * u.h * u.w;
  let r0 = base + ty.i0 * u.w;
  let r1 = base + ty.i1 * u.w;
  let glob = (1.0 - ty.l) * ((1.0 - tx.l) * Gl[r0 + tx.i0] + tx.l * Gl[r0 + tx.i1])
           + ty.l * ((1.0 - tx.l) * Gl[r1 + tx.i0] + tx.l * Gl[r1 + tx.i1]);
  O[i] = L[u.lOff + i] * actAt(p, y, x) + glob;
}`;
}

/** Weight of coarse index c in fine index o's interpolation (0 when o does not read c). */
const TAP_WEIGHT = `
fn tapWeight(o: u32, c: u32, n: u32, s: f32) -> f32 {
  let t = tap(o, n, s);
  return select(0.0, 1.0 - t.l, t.i0 == c) + select(0.0, t.l, t.i1 == c);
}
// Fine indices that may read coarse index c: src(o) in [c - 1, c + 1), widened by one for rounding.
fn fineRange(c: u32, fine: u32, s: f32) -> vec2<u32> {
  let lo = i32(floor((f32(c) - 0.5) / s - 0.5)) - 1;
  let hi = i32(ceil((f32(c) + 1.5) / s - 0.5)) + 1;
  return vec2<u32>(u32(clamp(lo, 0, i32(fine) - 1)), u32(clamp(hi, 0, i32(fine) - 1)));
}`;

function gateBackwardSource(): string {
  return `${GATE_HEAD}${TAP_WEIGHT}
@group(0) @binding(1) var<storage, read> Gr: array<f32>;
@group(0) @binding(2) var<storage, read> L: array<f32>;
@group(0) @binding(3) var<storage, read> A: array<f32>;
@group(0) @binding(4) var<storage, read_write> DL: array<f32>;
@group(0) @binding(5) var<storage, read_write> DG: array<f32>;
@group(0) @binding(6) var<storage, read_write> DA: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i < u.nFine) {
    let x = i % u.W;
    let y = (i / u.W) % u.H;
    let p = i / (u.W * u.H);
    DL[i] = Gr[u.grOff + i] * actAt(p, y, x);
    return;
  }
  let j = i - u.nFine;
  if (j >= u.nCoarse) { return; }
  let cx = j % u.w;
  let cy = (j / u.w) % u.h;
  let p = j / (u.w * u.h);
  let ry = fineRange(cy, u.H, u.sy);
  let rx = fineRange(cx, u.W, u.sx);
  var sg = 0.0;
  var sl = 0.0;
  for (var y = ry.x; y <= ry.y; y++) {
    let wy = tapWeight(y, cy, u.h, u.sy);
    if (wy == 0.0) { continue; }
    let row = (p * u.H + y) * u.W;
    for (var x = rx.x; x <= rx.y; x++) {
      let wx = tapWeight(x, cx, u.w, u.sx);
      if (wx == 0.0) { continue; }
      let gw = wy * wx * Gr[u.grOff + row + x];
      sg += gw;
      sl += gw * L[u.lOff + row + x];
    }
  }
  DG[j] = sg;
  let a = A[u.aOff + j];
  DA[j] = select(0.0, sl / 6.0, a > -3.0 && a < 3.0);
}`;
}

export interface GateShape { P: number; H: number; W: number; h: number; w: number }

function gateUniforms(d: GateShape, lOff: number, gOff: number, aOff: number, grOff: number): Uniforms {
  return new Uniforms().u32(d.P).u32(d.H).u32(d.W).u32(d.h).u32(d.w).u32(d.P * d.H * d.W).u32(d.P * d.h * d.w).u32(lOff)
    .u32(gOff).u32(aOff).u32(grOff).u32(0).f32(d.h / d.H).f32(d.w / d.W).f32(0).f32(0);
}

/** y (P, H, W) from contiguous local (P, H, W), glob and act (P, h, w). */
export function gateWgsl(local: Tensor, glob: Tensor, act: Tensor, d: GateShape, out: Tensor): void {
  const u = gateUniforms(d, local.offset, glob.offset, act.offset, 0);
  dispatch('tmem_gate', ['read', 'read', 'read', 'rw'], gateSource, [local, glob, act, out], u, grid1d(d.P * d.H * d.W, WG), 'tmemGate');
}

/** dLocal (P, H, W), dGlob and dAct (P, h, w) from contiguous g (P, H, W), local and act. */
export function gateBackwardWgsl(g: Tensor, local: Tensor, act: Tensor, d: GateShape, dLocal: Tensor, dGlob: Tensor, dAct: Tensor): void {
  const u = gateUniforms(d, local.offset, 0, act.offset, g.offset);
  const n = d.P * (d.H * d.W + d.h * d.w);
  dispatch('tmem_gate_bwd', ['read', 'read', 'read', 'rw', 'rw', 'rw'], gateBackwardSource, [g, local, act, dLocal, dGlob, dAct], u, grid1d(n, WG), 'tmemGate.backward');
}
