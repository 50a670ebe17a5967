// Normalization layers with PyTorch's state-dict names and defaults: LayerNorm (weight, bias),
// BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked) and InstanceNorm1dTokens (FIANet's
// InstanceNorm1d over tokens, no parameters). Each honours train/eval through Module.training.
import { fromArray, type Tensor } from '../tensor/tensor.ts';
import { batchNorm2d, instanceNormTokens, layerNorm } from '../kernels/norm/norm.op.ts';
import { Module } from './module.ts';

export interface NormInitOptions {
  device?: Tensor['device'];
}

const filled = (n: number, v: number, o: NormInitOptions) => fromArray(new Float32Array(n).fill(v), [n], { device: o.device });

/** nn.LayerNorm(dim, eps) over the last dim: weight = 1, bias = 0. Swin and FIAM use eps 1e-5, BERT 1e-12. */
export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(readonly dim: number, readonly eps = 1e-5, o: NormInitOptions & { elementwiseAffine?: boolean } = {}) {
    super();
    const affine = o.elementwiseAffine ?? true;
    this.weight = affine ? this.registerParameter('weight', filled(dim, 1, o)) : null;
    this.bias = affine ? this.registerParameter('bias', filled(dim, 0, o)) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export interface BatchNorm2dOptions extends NormInitOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/**
 * nn.BatchNorm2d(C): training mode normalizes with batch statistics and updates the running statistics on the
 * device (momentum 0.1, unbiased variance for running_var) and num_batches_tracked; eval mode uses the running
 * statistics. num_batches_tracked is a 0-dim **i32** buffer (PyTorch stores int64): 2^31 steps is ample, and
 * WGSL has no 64-bit integers. A checkpoint loader must narrow the int64 value to i32.
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly running_mean: Tensor | null;
  readonly running_var: Tensor | null;
  readonly num_batches_tracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;
  constructor(readonly numFeatures: number, o: BatchNorm2dOptions = {}) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    const affine = o.affine ?? true;
    const track = o.trackRunningStats ?? true;
    this.weight = affine ? this.registerParameter('weight', filled(numFeatures, 1, o)) : null;
    this.bias = affine ? this.registerParameter('bias', filled(numFeatures, 0, o)) : null;
    this.running_mean = track ? this.registerBuffer('running_mean', filled(numFeatures, 0, o)) : null;
    this.running_var = track ? this.registerBuffer('running_var', filled(numFeatures, 1, o)) : null;
    this.num_batches_tracked = track ? this.registerBuffer('num_batches_tracked', fromArray(new Int32Array(1), [], { device: o.device, dtype: 'i32' })) : null;
  }
  forward(x: Tensor): Tensor {
    return batchNorm2d(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.running_mean,
      runningVar: this.running_var,
      numBatchesTracked: this.num_batches_tracked,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

/**
 * FIANet's InstanceNorm1d(C) over tokens (§5.1): x (B, N, C), each channel normalized over the N tokens of its
 * sample, biased variance, no affine, per-sample statistics in train and eval alike (so `training` changes nothing).
 */
export class InstanceNorm1dTokens extends Module {
  constructor(readonly eps = 1e-5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return instanceNormTokens(x, this.eps);
  }
}
