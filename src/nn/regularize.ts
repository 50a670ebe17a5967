// DropPath as a module (timm.layers.DropPath): stochastic depth on a residual branch, active only in
// training mode. Swin-B in FIANet uses p = 0.3·k/23 for block k (FIANET.md §6.1); dropPathRates gives them.
import type { Tensor } from '../tensor/tensor.ts';
import { defaultGenerator, type Generator } from '../tensor/random.ts';
import { dropPath, dropPathAdd } from '../kernels/regularize/regularize.op.ts';
import { Module } from './module.ts';

export class DropPath extends Module {
  constructor(readonly p = 0, readonly generator: Generator = defaultGenerator) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`DropPath: p must be in [0, 1), found ${p}`);
  }

  forward(x: Tensor): Tensor {
    return dropPath(x, this.p, this.training, this.generator);
  }

  /** residual + drop_path(x), fused into one kernel. */
  addTo(residual: Tensor, x: Tensor): Tensor {
    return dropPathAdd(residual, x, this.p, this.training, this.generator);
  }

  override toString(): string {
    return `DropPath(drop_prob=${this.p.toFixed(3)})`;
  }
}

/** The linear stochastic-depth schedule torch.linspace(0, maxRate, depth): block k gets maxRate·k/(depth-1). */
export function dropPathRates(depth: number, maxRate: number): number[] {
  if (depth <= 1) return Array.from({ length: depth }, () => 0);
  return Array.from({ length: depth }, (_, k) => (maxRate * k) / (depth - 1));
}
