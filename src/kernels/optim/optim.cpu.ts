// CPU references for the fused optimizer updates (in place on p and the state buffers). They follow
// torch.optim.AdamW and torch.optim.SGD step for step, so a run can be compared against PyTorch.
import type { TypedArray } from '../../tensor/dtype.ts';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number; // 1-based, after increment
}

export function adamwCpu(p: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray, h: AdamWHyper): void {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const stepSize = h.lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  const decay = 1 - h.lr * h.weightDecay;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    p[i] = p[i]! * decay; // decoupled weight decay, applied before the Adam step as torch does
    m[i] = h.beta1 * m[i]! + (1 - h.beta1) * gi;
    v[i] = h.beta2 * v[i]! + (1 - h.beta2) * gi * gi;
    const denom = Math.sqrt(v[i]!) / bc2Sqrt + h.eps;
    p[i] = p[i]! - (stepSize * m[i]!) / denom;
  }
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export function sgdCpu(p: TypedArray, g: TypedArray, buf: TypedArray | null, h: SgdHyper): void {
  for (let i = 0; i < p.length; i++) {
    const d = g[i]! + h.weightDecay * p[i]!;
    const b = buf ? h.momentum * buf[i]! + d : d;
    if (buf) buf[i] = b;
    p[i] = p[i]! - h.lr * b;
  }
}
