// Fused optimizer updates: one dispatch per parameter tensor updates p and its state in place.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';
import type { AdamWHyper, SgdHyper } from './optim.cpu.ts';

const WG = 256;

/**
 * AdamW over up to 4 parameter tensors per dispatch (4 storage bindings each; the per-stage limit is 16): a
 * training step of fianet-tiny has 323 parameter tensors, and one dispatch each cost more than the arithmetic.
 * Invocation i updates element i of the concatenation; the per-tensor ends, step sizes and decays are uniforms.
 * The vec4 variant (every tensor's size a multiple of 4) moves 16 bytes per load: llvmpipe is load-bound.
 */
export const ADAMW_PER_DISPATCH = 4;

function adamwSource(k: number, vec: boolean): string {
  const T = vec ? 'vec4<f32>' : 'f32';
  const decl = Array.from({ length: k }, (_, j) => `
@group(0) @binding(${4 * j + 1}) var<storage, read_write> P${j}: array<${T}>;
@group(0) @binding(${4 * j + 2}) var<storage, read> G${j}: array<${T}>;
@group(0) @binding(${4 * j + 3}) var<storage, read_write> M${j}: array<${T}>;
@group(0) @binding(${4 * j + 4}) var<storage, read_write> V${j}: array<${T}>;`).join('');
  const branch = Array.from({ length: k }, (_, j) => `${j ? ' else ' : ''}if (i < u.ends[${j}]) {
    let e = i - ${j ? `u.ends[${j - 1}]` : '0u'};
    let g = G${j}[e];
    let m = u.beta1 * M${j}[e] + (1.0 - u.beta1) * g;
    let v = u.beta2 * V${j}[e] + (1.0 - u.beta2) * g * g;
    M${j}[e] = m;
    V${j}[e] = v;
    P${j}[e] = P${j}[e] * u.decay[${j}] - u.stepSize[${j}] * m / (sqrt(v) / u.bc2Sqrt + u.eps);
  }`).join('');
  return `
struct U { ends: vec4<u32>, stepSize: vec4<f32>, decay: vec4<f32>, beta1: f32, beta2: f32, eps: f32, bc2Sqrt: f32 };
@group(1) @binding(0) var<uniform> u: U;${decl}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  // Decoupled weight decay first, then the Adam step, as torch.optim.AdamW.
  ${branch}
}`;
}

export interface AdamWItem {
  p: Tensor;
  g: Tensor;
  m: Tensor;
  v: Tensor;
  h: AdamWHyper;
}

/**
 * Updates up to ADAMW_PER_DISPATCH tensors in one dispatch (all with the same step count and betas); vec4 when
 * every size is a multiple of 4.
 */
export function adamwWgsl(items: AdamWItem[]): void {
  const k = items.length;
  if (k < 1 || k > ADAMW_PER_DISPATCH) throw new Error(`adamw: ${k} tensors per dispatch (1..${ADAMW_PER_DISPATCH})`);
  const vec = items.every((it) => it.p.size % 4 === 0);
  const w = vec ? 4 : 1;
  const h0 = items[0]!.h;
  const ends: number[] = [];
  let total = 0;
  for (const it of items) ends.push((total += it.p.size / w));
  const u = new Uniforms();
  for (let j = 0; j < 4; j++) u.u32(ends[j] ?? total);
  for (let j = 0; j < 4; j++) u.f32(items[j] ? items[j]!.h.lr / (1 - h0.beta1 ** h0.step) : 0);
  for (let j = 0; j < 4; j++) u.f32(items[j] ? 1 - items[j]!.h.lr * items[j]!.h.weightDecay : 1);
  u.f32(h0.beta1).f32(h0.beta2).f32(h0.eps).f32(Math.sqrt(1 - h0.beta2 ** h0.step));
  const bindings = items.flatMap(() => ['rw', 'read', 'rw', 'rw'] as const);
  dispatch(`adamw:${k}${vec ? ':vec4' : ''}`, [...bindings], () => adamwSource(k, vec), items.flatMap((it) => [it.p, it.g, it.m, it.v]), u, grid1d(total, WG), 'adamw');
}

// With a momentum buffer (binding 3) or without (plain SGD keeps no state); vec4 when the size allows.
const sgdSource = (momentum: boolean, vec: boolean) => `
struct U { n: u32, _a: u32, _b: u32, _c: u32, lr: f32, momentum: f32, wd: f32, _d: f32 };
@group(1) @binding(0) var<uniform> u: U;
alias T = ${vec ? 'vec4<f32>' : 'f32'};
@group(0) @binding(1) var<storage, read_write> P: array<T>;
@group(0) @binding(2) var<storage, read> G: array<T>;
${momentum ? '@group(0) @binding(3) var<storage, read_write> B: array<T>;' : ''}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  let d = G[i] + u.wd * P[i];
  ${momentum ? 'let b = u.momentum * B[i] + d;\n  B[i] = b;' : 'let b = d;'}
  P[i] = P[i] - u.lr * b;
}`;

export function sgdWgsl(p: Tensor, g: Tensor, buf: Tensor | null, h: SgdHyper): void {
  const vec = p.size % 4 === 0;
  const n = vec ? p.size / 4 : p.size;
  const u = new Uniforms().u32(n).u32(0).u32(0).u32(0).f32(h.lr).f32(h.momentum).f32(h.weightDecay).f32(0);
  const v = vec ? ':vec4' : '';
  if (buf) dispatch(`sgd:momentum${v}`, ['rw', 'read', 'rw'], () => sgdSource(true, vec), [p, g, buf], u, grid1d(n, WG), 'sgd');
  else dispatch(`sgd:plain${v}`, ['rw', 'read'], () => sgdSource(false, vec), [p, g], u, grid1d(n, WG), 'sgd');
}
