// Small building blocks whose state-dict names must match the official checkpoints:
//   Conv1dTokens  a 1x1 Conv1d (weight (out, in, 1)) applied to token-major (B, N, C) tensors as a linear map,
//                 so the model never transposes to (B, C, N) the way the PyTorch code does.
//   Indexed       an nn.Sequential stand-in that registers children under explicit indices ('0', '2', ...), for
//                 Sequentials whose parameter-free layers (GELU, ReLU, Tanh, Dropout) occupy the gaps.
import type { Tensor } from '../../tensor/tensor.ts';
import { reshape } from '../../kernels/movement/movement.op.ts';
import { linear } from '../../kernels/matmul/matmul.op.ts';
import { Module } from '../../nn/module.ts';
import { uniformTensor, type InitOptions } from '../../nn/layers.ts';

export class Conv1dTokens extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, bias = true, o: InitOptions = {}) {
    super();
    // PyTorch's Conv1d default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias (FIANET.md §11).
    const bound = 1 / Math.sqrt(inChannels);
    this.weight = this.registerParameter('weight', uniformTensor([outChannels, inChannels, 1], bound, o));
    this.bias = bias ? this.registerParameter('bias', uniformTensor([outChannels], bound, o)) : null;
  }
  /** (B, N, Cin) -> (B, N, Cout). */
  forward(x: Tensor): Tensor {
    return linear(x, reshape(this.weight, [this.outChannels, this.inChannels]), this.bias);
  }
}

export class Indexed<M extends Module = Module> extends Module {
  readonly at: Record<number, M> = {};
  constructor(children: Record<number, M>) {
    super();
    for (const [k, m] of Object.entries(children)) this.at[Number(k)] = this.registerModule(k, m);
  }
}
