// Normalization of tensors past the adapter's storage-binding limit (FIANet's decoder at paper size and batch 8:
// BatchNorm over (8, 512, 120, 120) is 236 MB). The fused kernels give one invocation a whole group, so they
// cannot run on pieces; these compositions of split-aware primitives (reductions, element-wise, copies: split.ts)
// compute the same function, and autograd differentiates them. Slower and heavier on memory than the fused path,
// and only taken when it must be.
import { type Tensor } from '../../tensor/tensor.ts';
import { noGrad } from '../../tensor/autograd.ts';
import { add, cast, mul, rsqrt, square, sub } from '../elementwise/elementwise.op.ts';
import { scope } from '../../tensor/scope.ts';
import { mean } from '../reduce/reduce.op.ts';
import { copyInto, reshape } from '../movement/movement.op.ts';
import { fitsBinding } from '../split.ts';

/** Whether x must take the composed path (webgpu, and its elements do not fit one binding). */
export const needsSplitNorm = (x: Tensor) => x.device === 'webgpu' && !fitsBinding([x]);

/** (x - mean) · rsqrt(var + eps) over `axes` (biased variance), and the statistics. */
function standardize(x: Tensor, axes: number[], eps: number): { xhat: Tensor; mu: Tensor; v: Tensor } {
  const mu = mean(x, axes, true);
  const d = sub(x, mu);
  const v = mean(square(d), axes, true);
  return { xhat: mul(d, rsqrt(add(v, eps))), mu, v };
}

/** LayerNorm over the last dim, composed. */
export function layerNormSplit(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  const { xhat } = standardize(x, [x.rank - 1], eps);
  return w ? add(mul(xhat, w), b!) : xhat;
}

/** InstanceNorm over the tokens of (B, N, C), composed. */
export function instanceNormTokensSplit(x: Tensor, eps: number): Tensor {
  return standardize(x, [1], eps).xhat;
}

export interface SplitRunning { mean: Tensor; var: Tensor; nbt: Tensor | null; momentum: number }

/**
 * BatchNorm2d, composed: batch statistics (and the running update: momentum towards the batch mean and the
 * unbiased variance, num_batches_tracked + 1) or, with useRunning, the running statistics.
 */
export function batchNorm2dSplit(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number, running: SplitRunning | null, useRunning: boolean): Tensor {
  const C = x.shape[1]!;
  const perChannel = (t: Tensor) => reshape(t, [1, C, 1, 1]);
  let xhat: Tensor;
  if (useRunning) {
    xhat = mul(sub(x, perChannel(running!.mean)), rsqrt(add(perChannel(running!.var), eps)));
  } else {
    const s = standardize(x, [0, 2, 3], eps);
    xhat = s.xhat;
    if (running) {
      noGrad(() => scope(() => {
        const n = x.size / C;
        const m = running.momentum;
        const mu = reshape(s.mu, [C]);
        const unbiased = mul(reshape(s.v, [C]), n / (n - 1));
        copyInto(add(mul(running.mean, 1 - m), mul(mu, m)), running.mean);
        copyInto(add(mul(running.var, 1 - m), mul(unbiased, m)), running.var);
        if (running.nbt) copyInto(cast(add(cast(running.nbt, 'f32'), 1), 'i32'), running.nbt);
      }));
    }
  }
  return w ? add(mul(xhat, perChannel(w)), perChannel(b!)) : xhat;
}
