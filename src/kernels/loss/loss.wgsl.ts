// FIANet's loss in three dispatches, whatever the batch (B·H·W = 1.8 M pixels at B = 8, 480²):
//  1. partials: a workgroup per (pixel chunk, sample b) computes each pixel's softmax over the C channel
//     planes of z (B, C, H, W) once and accumulates [Σw·nll, Σw, ΣP·Y (C), ΣP (C), ΣY (C)] in registers, then
//     combines its 64 lanes through workgroup memory: (B, nChunks, 3C + 2) partial sums;
//  2. finalize: one workgroup sums the partials in a fixed order (deterministic, no atomics) into the stats
//     vector [total, CE, ΣD, Σw, (I, S) per (b, k)] (layout in loss.cpu.ts);
//  3. backward: one invocation per pixel recomputes its softmax and writes dz for all C channels, using the
//     per-(b, k) sums from the stats and the upstream scalar gradient read from its buffer (no readback).
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';
import type { SegLossParams } from './loss.cpu.ts';

const WG = 64;
/** Classes a pixel's softmax holds in registers (FIANet has 2). */
export const SEG_LOSS_MAX_CLASSES = 8;
const NV = 3 * SEG_LOSS_MAX_CLASSES + 2;
/** Pixels per partials workgroup: 32 per lane. */
const CHUNK = WG * 32;

type Kernel = 'partials' | 'finalize' | 'backward';

function uniforms(q: SegLossParams, nChunks: number, zOff: number, yOff: number, gOff: number): Uniforms {
  const u = new Uniforms()
    .u32(q.B).u32(q.C).u32(q.HW).u32(nChunks)
    .u32(CHUNK).u32(zOff).u32(yOff).u32(3 * q.C + 2)
    .f32(q.ceCoef).f32(q.diceCoef).f32(q.eps).u32(gOff);
  for (let k = 0; k < SEG_LOSS_MAX_CLASSES; k++) u.f32(q.weight[k] ?? 0);
  return u;
}

const HEAD = `
struct U {
  B: u32, C: u32, HW: u32, nChunks: u32,
  chunk: u32, zOff: u32, yOff: u32, nv: u32,
  ceCoef: f32, diceCoef: f32, eps: f32, gOff: u32,
  w: array<vec4<f32>, ${SEG_LOSS_MAX_CLASSES / 4}>,
};
@group(0) @binding(0) var<uniform> u: U;
fn classWeight(k: u32) -> f32 { return u.w[k / 4u][k % 4u]; }`;

/** Softmax of pixel p of sample b into e (unnormalised) with its max and sum; labels outside [0, C) are ignored. */
const PIXEL = `
struct Pixel { e: array<f32, ${SEG_LOSS_MAX_CLASSES}>, mx: f32, s: f32, t: u32, valid: bool };
fn pixel(b: u32, p: u32) -> Pixel {
  var px: Pixel;
  let zb = u.zOff + b * u.C * u.HW + p;
  px.mx = -3.4028234663852886e38;
  for (var k = 0u; k < u.C; k++) { px.mx = max(px.mx, Z[zb + k * u.HW]); }
  px.s = 0.0;
  for (var k = 0u; k < u.C; k++) { px.e[k] = exp(Z[zb + k * u.HW] - px.mx); px.s += px.e[k]; }
  let t = i32(L[u.yOff + b * u.HW + p]);
  px.valid = t >= 0 && t < i32(u.C);
  px.t = select(0u, u32(t), px.valid);
  return px;
}`;

function source(kernel: Kernel, labelType: 'i32' | 'u32'): string {
  const inputs = `
@group(0) @binding(1) var<storage, read> Z: array<f32>;
@group(0) @binding(2) var<storage, read> L: array<${labelType}>;`;
  if (kernel === 'partials') {
    return `${HEAD}${inputs}
@group(0) @binding(3) var<storage, read_write> Part: array<f32>;
${PIXEL}
var<workgroup> sh: array<f32, ${WG * NV}>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let chunk = wid.x;
  let b = wid.y;
  let l = lid.x;
  // acc: [Σw·nll, Σw, ΣP·Y (C), ΣP (C), ΣY (C)]
  var acc: array<f32, ${NV}>;
  let p1 = min((chunk + 1u) * u.chunk, u.HW);
  for (var p = chunk * u.chunk + l; p < p1; p += ${WG}u) {
    var px = pixel(b, p);
    let inv = 1.0 / px.s;
    for (var k = 0u; k < u.C; k++) { acc[2u + u.C + k] += px.e[k] * inv; }
    if (px.valid) {
      let w = classWeight(px.t);
      let zt = Z[u.zOff + (b * u.C + px.t) * u.HW + p];
      acc[0] += w * (log(px.s) - (zt - px.mx));
      acc[1] += w;
      acc[2u + px.t] += px.e[px.t] * inv;
      acc[2u + 2u * u.C + px.t] += 1.0;
    }
  }
  for (var v = 0u; v < u.nv; v++) { sh[l * ${NV}u + v] = acc[v]; }
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (l < s) {
      for (var v = 0u; v < u.nv; v++) { sh[l * ${NV}u + v] += sh[(l + s) * ${NV}u + v]; }
    }
    workgroupBarrier();
  }
  if (l < u.nv) { Part[(b * u.nChunks + chunk) * u.nv + l] = sh[l]; }
}`;
  }
  if (kernel === 'finalize') {
    return `${HEAD}
@group(0) @binding(1) var<storage, read> Part: array<f32>;
@group(0) @binding(2) var<storage, read_write> Stats: array<f32>;
var<workgroup> sh: array<vec4<f32>, ${WG}>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let l = lid.x;
  var ceNum = 0.0;
  var ceDen = 0.0;
  var dice = 0.0;
  for (var j = l; j < u.B * u.nChunks; j += ${WG}u) { ceNum += Part[j * u.nv]; ceDen += Part[j * u.nv + 1u]; }
  for (var bk = l; bk < u.B * u.C; bk += ${WG}u) {
    let b = bk / u.C;
    let k = bk % u.C;
    var I = 0.0;
    var S = 0.0;
    for (var c = 0u; c < u.nChunks; c++) {
      let base = (b * u.nChunks + c) * u.nv + 2u + k;
      I += Part[base];
      S += Part[base + u.C] + Part[base + 2u * u.C];
    }
    dice += 1.0 - (2.0 * I + u.eps) / (S + u.eps);
    Stats[4u + 2u * bk] = I;
    Stats[5u + 2u * bk] = S;
  }
  sh[l] = vec4<f32>(ceNum, ceDen, dice, 0.0);
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (l < s) { sh[l] += sh[l + s]; }
    workgroupBarrier();
  }
  if (l == 0u) {
    let ce = sh[0].x / sh[0].y;
    Stats[0] = u.ceCoef * ce + u.diceCoef * sh[0].z;
    Stats[1] = ce;
    Stats[2] = sh[0].z;
    Stats[3] = sh[0].y;
  }
}`;
  }
  return `${HEAD}${inputs}
@group(0) @binding(3) var<storage, read> Stats: array<f32>;
@group(0) @binding(4) var<storage, read> G: array<f32>;
@group(0) @binding(5) var<storage, read_write> DZ: array<f32>;
${PIXEL}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.B * u.HW) { return; }
  let b = i / u.HW;
  let p = i % u.HW;
  var px = pixel(b, p);
  let inv = 1.0 / px.s;
  let g = G[u.gOff];
  // a_k = dD_bk/dP_k; the softmax Jacobian turns it into P_k (a_k - Σ_j P_j a_j).
  var a: array<f32, ${SEG_LOSS_MAX_CLASSES}>;
  var dot = 0.0;
  for (var k = 0u; k < u.C; k++) {
    let I = Stats[4u + 2u * (b * u.C + k)];
    let S = Stats[5u + 2u * (b * u.C + k)] + u.eps;
    a[k] = select(0.0, -2.0 / S, px.valid && k == px.t) + (2.0 * I + u.eps) / (S * S);
    dot += px.e[k] * inv * a[k];
  }
  let ceScale = select(0.0, u.ceCoef * classWeight(px.t) / Stats[3], px.valid && u.ceCoef != 0.0);
  let zb = b * u.C * u.HW + p;
  for (var k = 0u; k < u.C; k++) {
    let P = px.e[k] * inv;
    let Y = select(0.0, 1.0, px.valid && k == px.t);
    DZ[zb + k * u.HW] = g * (ceScale * (P - Y) + u.diceCoef * P * (a[k] - dot));
  }
}`;
}

const labelType = (y: Tensor) => (y.dtype === 'u32' ? 'u32' : 'i32');

export function segLossPartialsCount(q: SegLossParams): number {
  return Math.max(1, Math.ceil(q.HW / CHUNK));
}

/** Forward: z (B, C, HW) f32 and labels (B, HW) -> part (B·nChunks·(3C+2)) scratch -> stats (4 + 2BC). */
export function segLossForwardWgsl(z: Tensor, y: Tensor, q: SegLossParams, part: Tensor, stats: Tensor): void {
  const nChunks = segLossPartialsCount(q);
  const u = uniforms(q, nChunks, z.offset, y.offset, 0);
  const lt = labelType(y);
  dispatch(`seg_loss:partials:${lt}`, ['read', 'read', 'rw'], () => source('partials', lt), [z, y, part], u, [nChunks, q.B, 1], 'segLoss');
  dispatch('seg_loss:finalize', ['read', 'rw'], () => source('finalize', lt), [part, stats], u, [1, 1, 1], 'segLoss');
}

/** Backward: dz (B, C, HW) from z, labels, the forward's stats and the upstream scalar g. */
export function segLossBackwardWgsl(z: Tensor, y: Tensor, stats: Tensor, g: Tensor, q: SegLossParams, dz: Tensor): void {
  const u = uniforms(q, 0, z.offset, y.offset, g.offset);
  const lt = labelType(y);
  dispatch(`seg_loss:backward:${lt}`, ['read', 'read', 'read', 'read', 'rw'], () => source('backward', lt), [z, y, stats, g, dz], u, grid1d(q.B * q.HW, WG), 'segLoss.backward');
}
