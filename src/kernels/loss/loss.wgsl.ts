// FIANet's loss in three dispatches, whatever the batch (B·H·W = 1.8 M pixels at B = 8, 480²):
//  1. partials: a workgroup per (pixel chunk, sample b) computes each pixel's softmax over the C channel
//     planes of z (B, C, H, W) once and accumulates [Σw·nll, Σw, ΣP·Y (C), ΣP (C), ΣY (C)] in registers, then
//     combines its 64 lanes through workgroup memory: (B, nChunks, 3C + 2) partial sums;
//  2. finalize: one workgroup sums the partials in a fixed order (deterministic, no atomics) into the stats
//     vector [total, CE, ΣD, Σw, (I, S) per (b, k)] (layout in loss.cpu.ts);
//  3. backward: one invocation per pixel recomputes its softmax and writes dz for all C channels, using the
//     per-(b, k) sums from the stats and the upstream scalar gradient read from its buffer (no readback).
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, dispatch } from '../common.ts';
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
@group(1) @binding(0) var<uniform> u: U;
fn classWeight(k: u32) -> f32 { return u.w[k / 4u][k % 4u]; }`;

/**
 * Variant 'c2' fixes the class count at 2 (FIANet) so every per-class loop has a constant trip count and
 * its arrays live in registers; 'cn' loops to u.C over arrays of SEG_LOSS_MAX_CLASSES. Per-pixel label
 * lookups are selects inside those loops, never a lane-dependent array index.
 */
function classes(c2: boolean): string {
  return `
const NC = ${c2 ? 2 : SEG_LOSS_MAX_CLASSES}u;
fn numClasses() -> u32 { return ${c2 ? 'NC' : 'u.C'}; }
// Pixel p of sample b: its logits, their max, e = exp(z - max) and s = Σ e; labels outside [0, C) are ignored.
struct Pixel { z: array<f32, NC>, e: array<f32, NC>, mx: f32, s: f32, t: u32, valid: bool };
fn pixel(b: u32, p: u32) -> Pixel {
  var px: Pixel;
  let zb = u.zOff + b * u.C * u.HW + p;
  px.mx = -3.4028234663852886e38;
  for (var k = 0u; k < numClasses(); k++) { px.z[k] = Z[zb + k * u.HW]; px.mx = max(px.mx, px.z[k]); }
  px.s = 0.0;
  for (var k = 0u; k < numClasses(); k++) { px.e[k] = exp(px.z[k] - px.mx); px.s += px.e[k]; }
  let t = i32(L[u.yOff + b * u.HW + p]);
  px.valid = t >= 0 && t < i32(u.C);
  px.t = select(0u, u32(t), px.valid);
  return px;
}`;
}

function source(kernel: Kernel, labelType: 'i32' | 'u32', c2: boolean): string {
  const inputs = `
@group(0) @binding(1) var<storage, read> Z: array<f32>;
@group(0) @binding(2) var<storage, read> L: array<${labelType}>;`;
  if (kernel === 'partials') {
    return `${HEAD}${inputs}
@group(0) @binding(3) var<storage, read_write> Part: array<f32>;
${classes(c2)}
var<workgroup> sh: array<f32, ${WG * NV}>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let chunk = wid.x;
  let b = wid.y;
  let l = lid.x;
  var ceNum = 0.0;
  var ceDen = 0.0;
  var I: array<f32, NC>;
  var sP: array<f32, NC>;
  var sY: array<f32, NC>;
  let p1 = min((chunk + 1u) * u.chunk, u.HW);
  for (var p = chunk * u.chunk + l; p < p1; p += ${WG}u) {
    let px = pixel(b, p);
    let inv = 1.0 / px.s;
    let ls = log(px.s);
    for (var k = 0u; k < numClasses(); k++) {
      let P = px.e[k] * inv;
      let hit = px.valid && px.t == k;
      sP[k] += P;
      I[k] += select(0.0, P, hit);
      sY[k] += select(0.0, 1.0, hit);
      let w = select(0.0, classWeight(k), hit);
      ceNum += w * (ls - (px.z[k] - px.mx));
      ceDen += w;
    }
  }
  // Lane partials [Σw·nll, Σw, ΣP·Y (C), ΣP (C), ΣY (C)], combined by a tree in workgroup memory.
  let o = l * ${NV}u;
  sh[o] = ceNum;
  sh[o + 1u] = ceDen;
  for (var k = 0u; k < numClasses(); k++) {
    sh[o + 2u + k] = I[k];
    sh[o + 2u + u.C + k] = sP[k];
    sh[o + 2u + 2u * u.C + k] = sY[k];
  }
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (l < s) {
      for (var v = 0u; v < u.nv; v++) { sh[o + v] += sh[(l + s) * ${NV}u + v]; }
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
${classes(c2)}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (pixel chunks, B): no lane divides by H·W to find its sample.
  let b = wid.y;
  let g = G[u.gOff];
  let ceScale0 = select(0.0, u.ceCoef * g / Stats[3], u.ceCoef != 0.0);
  // Per class: a_k = dD_bk/dP_k is aBase_k, plus aHit_k = -2/(S + eps) where the label is k.
  var aBase: array<f32, NC>;
  var aHit: array<f32, NC>;
  for (var k = 0u; k < numClasses(); k++) {
    let I = Stats[4u + 2u * (b * u.C + k)];
    let S = Stats[5u + 2u * (b * u.C + k)] + u.eps;
    aBase[k] = (2.0 * I + u.eps) / (S * S);
    aHit[k] = -2.0 / S;
  }
  for (var p = wid.x * ${WG}u + lid.x; p < u.HW; p += nwg.x * ${WG}u) {
    let px = pixel(b, p);
    let inv = 1.0 / px.s;
    // dz_k = g·[ceCoef·w_t·(P_k − Y_k)/Σw + diceCoef·P_k (a_k − Σ_j P_j a_j)]
    var P: array<f32, NC>;
    var a: array<f32, NC>;
    var dot = 0.0;
    var wt = 0.0;
    for (var k = 0u; k < numClasses(); k++) {
      let hit = px.valid && px.t == k;
      P[k] = px.e[k] * inv;
      a[k] = aBase[k] + select(0.0, aHit[k], hit);
      dot += P[k] * a[k];
      wt += select(0.0, classWeight(k), hit);
    }
    let ceScale = ceScale0 * wt;
    let zb = b * u.C * u.HW + p;
    for (var k = 0u; k < numClasses(); k++) {
      let Y = select(0.0, 1.0, px.valid && px.t == k);
      DZ[zb + k * u.HW] = ceScale * (P[k] - Y) + g * u.diceCoef * P[k] * (a[k] - dot);
    }
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
  const v = q.C === 2 ? 'c2' : 'cn';
  dispatch(`seg_loss:partials:${v}:${lt}`, ['read', 'read', 'rw'], () => source('partials', lt, v === 'c2'), [z, y, part], u, [nChunks, q.B, 1], 'segLoss');
  dispatch('seg_loss:finalize', ['read', 'rw'], () => source('finalize', lt, false), [part, stats], u, [1, 1, 1], 'segLoss');
}

/** Backward: dz (B, C, HW) from z, labels, the forward's stats and the upstream scalar g. */
export function segLossBackwardWgsl(z: Tensor, y: Tensor, stats: Tensor, g: Tensor, q: SegLossParams, dz: Tensor): void {
  const u = uniforms(q, 0, z.offset, y.offset, g.offset);
  const lt = labelType(y);
  const v = q.C === 2 ? 'c2' : 'cn';
  // 16 pixels a lane: fewer, longer workgroups (llvmpipe pays per workgroup).
  const chunks = Math.min(Math.ceil(q.HW / (WG * 16)), 65535);
  dispatch(`seg_loss:backward:${v}:${lt}`, ['read', 'read', 'read', 'read', 'rw'], () => source('backward', lt, v === 'c2'), [z, y, stats, g, dz], u, [chunks, q.B, 1], 'segLoss.backward');
}
