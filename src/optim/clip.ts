// Gradient-norm clipping without a host readback: the norm and the scale stay on the device.
import { keep } from '../tensor/scope.ts';
import { noGrad } from '../tensor/autograd.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { add, clamp, div, mul, sqrt, square } from '../kernels/elementwise/elementwise.op.ts';
import { sum } from '../kernels/reduce/reduce.op.ts';

/** Scales all gradients by min(1, maxNorm / (norm + 1e-6)) like torch's clip_grad_norm_; returns the norm (0-d). */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor | null {
  const withGrad = params.filter((p) => p.grad);
  if (!withGrad.length) return null;
  return noGrad(() => {
    let total: Tensor | null = null;
    for (const p of withGrad) {
      const s = sum(square(p.grad!));
      total = total ? add(total, s) : s;
    }
    const norm = sqrt(total!);
    const coef = clamp(div(maxNorm, add(norm, 1e-6)), -3.4e38, 1);
    for (const p of withGrad) {
      const g = keep(mul(p.grad!, coef));
      p.grad!.dispose();
      p.grad = g;
    }
    return norm;
  });
}
