// The basic layers: Linear, Embedding, Dropout, Sequential, ModuleList, plus activation modules.
// Initialization follows PyTorch's defaults, drawn from the seeded generator.
import { fromArray, type Tensor } from '../tensor/tensor.ts';
import { defaultGenerator, type Generator } from '../tensor/random.ts';
import { linear } from '../kernels/matmul/matmul.op.ts';
import { embedding } from '../kernels/gather/gather.op.ts';
import { dropout, gelu, relu } from '../kernels/elementwise/elementwise.op.ts';
import { Module } from './module.ts';

export interface InitOptions {
  generator?: Generator;
  device?: Tensor['device'];
  /** Allocate zeros and draw nothing: for counting parameters or before loading a checkpoint. */
  skipInit?: boolean;
}

/** U(-bound, bound) as a float32 tensor. */
export function uniformTensor(shape: number[], bound: number, o: InitOptions = {}): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (o.skipInit) return fromArray(new Float32Array(n), shape, { device: o.device });
  return fromArray((o.generator ?? defaultGenerator).uniform(n, -bound, bound), shape, { device: o.device });
}

/** N(0, std) truncated to [-2, 2] absolute (timm's trunc_normal_), or N(0, std) untruncated. */
export function normalTensor(shape: number[], std: number, o: InitOptions = {}, truncate = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (o.skipInit) return fromArray(new Float32Array(n), shape, { device: o.device });
  const g = o.generator ?? defaultGenerator;
  return fromArray(truncate ? g.truncNormal(n, std) : g.normal(n, 0, std), shape, { device: o.device });
}

export function constTensor(shape: number[], value: number, o: InitOptions = {}): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return fromArray(new Float32Array(n).fill(value), shape, { device: o.device });
}

export interface LinearInit extends InitOptions {
  /** 'default': PyTorch's kaiming-uniform; 'trunc_normal': timm's trunc_normal_(std) weight and zero bias
   *  (Swin/FIANet backbone); 'normal': N(0, std) weight and zero bias (BERT). */
  init?: 'default' | 'trunc_normal' | 'normal';
  std?: number;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true, o: LinearInit = {}) {
    super();
    const kind = o.init ?? 'default';
    if (kind === 'default') {
      // kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
      const bound = 1 / Math.sqrt(inFeatures);
      this.weight = this.registerParameter('weight', uniformTensor([outFeatures, inFeatures], bound, o));
      this.bias = bias ? this.registerParameter('bias', uniformTensor([outFeatures], bound, o)) : null;
    } else {
      this.weight = this.registerParameter('weight', normalTensor([outFeatures, inFeatures], o.std ?? 0.02, o, kind === 'trunc_normal'));
      this.bias = bias ? this.registerParameter('bias', constTensor([outFeatures], 0, o)) : null;
    }
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  /** PyTorch initializes N(0, 1); BERT uses N(0, 0.02) (pass std). */
  constructor(readonly num: number, readonly dim: number, o: InitOptions & { std?: number } = {}) {
    super();
    this.weight = this.registerParameter('weight', normalTensor([num, dim], o.std ?? 1, o, false));
  }
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5, readonly generator: Generator = defaultGenerator) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
}

/** A module with a one-tensor forward, the unit Sequential chains. */
export interface Layer extends Module {
  forward(x: Tensor): Tensor;
}

export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(mods: M[] = []) {
    super();
    for (const m of mods) this.append(m);
  }
  append(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    return this.items[i]!;
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

export class Sequential extends ModuleList<Layer> {
  constructor(...mods: Layer[]) {
    super(mods);
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.items) y = m.forward(y);
    return y;
  }
}
