// Fused optimizer updates: one dispatch per parameter tensor updates p and its state in place.
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';
import type { AdamWHyper, SgdHyper } from './optim.cpu.ts';

const WG = 256;

const ADAMW = `
struct U { n: u32, _a: u32, _b: u32, _c: u32, beta1: f32, beta2: f32, eps: f32, stepSize: f32, bc2Sqrt: f32, decay: f32, _d: f32, _e: f32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  let g = G[i];
  let p = P[i] * u.decay;
  let m = u.beta1 * M[i] + (1.0 - u.beta1) * g;
  let v = u.beta2 * V[i] + (1.0 - u.beta2) * g * g;
  M[i] = m;
  V[i] = v;
  P[i] = p - u.stepSize * m / (sqrt(v) / u.bc2Sqrt + u.eps);
}`;

export function adamwWgsl(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWHyper): void {
  const u = new Uniforms().u32(p.size).u32(0).u32(0).u32(0)
    .f32(h.beta1).f32(h.beta2).f32(h.eps).f32(h.lr / (1 - h.beta1 ** h.step))
    .f32(Math.sqrt(1 - h.beta2 ** h.step)).f32(1 - h.lr * h.weightDecay).f32(0).f32(0);
  dispatch('adamw', ['rw', 'read', 'rw', 'rw'], () => ADAMW, [p, g, m, v], u, grid1d(p.size, WG), 'adamw');
}

// Two variants: with a momentum buffer (binding 3) and without (plain SGD keeps no state).
const sgdSource = (momentum: boolean) => `
struct U { n: u32, _a: u32, _b: u32, _c: u32, lr: f32, momentum: f32, wd: f32, _d: f32 };
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
${momentum ? '@group(0) @binding(3) var<storage, read_write> B: array<f32>;' : ''}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  let d = G[i] + u.wd * P[i];
  ${momentum ? 'let b = u.momentum * B[i] + d;\n  B[i] = b;' : 'let b = d;'}
  P[i] = P[i] - u.lr * b;
}`;

export function sgdWgsl(p: Tensor, g: Tensor, buf: Tensor | null, h: SgdHyper): void {
  const u = new Uniforms().u32(p.size).u32(0).u32(0).u32(0).f32(h.lr).f32(h.momentum).f32(h.weightDecay).f32(0);
  if (buf) dispatch('sgd:momentum', ['rw', 'read', 'rw'], () => sgdSource(true), [p, g, buf], u, grid1d(p.size, WG), 'sgd');
  else dispatch('sgd:plain', ['rw', 'read'], () => sgdSource(false), [p, g], u, grid1d(p.size, WG), 'sgd');
}
