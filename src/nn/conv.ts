// Conv2d and Conv1d modules with PyTorch's parameter names (weight, bias) and default initialization:
// kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight and the same bound for the bias.
import type { Tensor } from '../tensor/tensor.ts';
import { conv1d, conv2d, type Conv2dOptions } from '../kernels/conv/conv.op.ts';
import { Module } from './module.ts';
import { uniformTensor, type InitOptions } from './layers.ts';

export interface ConvModuleOptions extends Conv2dOptions, InitOptions {
  bias?: boolean;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number], readonly options: ConvModuleOptions = {}) {
    super();
    const [kh, kw] = pair(kernelSize);
    const groups = options.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new Error(`Conv2d: groups ${groups} must divide in_channels ${inChannels} and out_channels ${outChannels}`);
    }
    const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
    this.weight = this.registerParameter('weight', uniformTensor([outChannels, inChannels / groups, kh, kw], bound, options));
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformTensor([outChannels], bound, options));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

export class Conv1d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize = 1,
    readonly options: { stride?: number; padding?: number; dilation?: number; groups?: number; bias?: boolean } & InitOptions = {}) {
    super();
    const groups = options.groups ?? 1;
    const bound = 1 / Math.sqrt((inChannels / groups) * kernelSize);
    this.weight = this.registerParameter('weight', uniformTensor([outChannels, inChannels / groups, kernelSize], bound, options));
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniformTensor([outChannels], bound, options));
  }
  forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, this.options);
  }
}
