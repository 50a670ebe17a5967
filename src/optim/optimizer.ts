// Optimizers over parameter groups (each with its own lr and weight decay), with state in a stateDict for
// exact resume. Updates are fused kernels, one dispatch per parameter, and never read back to the host.
import { keep } from '../tensor/scope.ts';
import { noGrad } from '../tensor/autograd.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { zerosLike } from '../kernels/movement/movement.op.ts';
import { adamwUpdateMany, sgdUpdate } from '../kernels/optim/optim.op.ts';

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
  /** The lr the schedule scales (set from lr at construction). */
  initialLr?: number;
}

export interface OptimizerState {
  step: number;
  groups: { lr: number; weightDecay: number; initialLr: number }[];
  /** Per parameter (flattened group order), named state tensors. */
  state: Record<string, Tensor>[];
}

export abstract class Optimizer {
  readonly paramGroups: Required<ParamGroup>[];
  stepCount = 0;
  protected state: Record<string, Tensor>[];

  constructor(groups: ParamGroup[] | Tensor[], defaults: { lr: number; weightDecay: number }) {
    const gs: ParamGroup[] = groups.length && 'params' in (groups[0] as object) ? (groups as ParamGroup[]) : [{ params: groups as Tensor[], ...defaults }];
    this.paramGroups = gs.map((g) => ({ ...defaults, ...g, initialLr: g.initialLr ?? g.lr ?? defaults.lr }));
    this.state = this.flat().map(() => ({}));
  }

  protected flat(): { p: Tensor; group: Required<ParamGroup> }[] {
    return this.paramGroups.flatMap((group) => group.params.map((p) => ({ p, group })));
  }

  /** Lazily created state buffer, zero-initialized like the PyTorch optimizers. */
  protected buffer(i: number, name: string, like: Tensor): Tensor {
    return (this.state[i]![name] ??= keep(zerosLike(like)));
  }

  step(): void {
    this.stepCount++;
    noGrad(() => {
      const todo = this.flat().map(({ p, group }, i) => ({ i, p, group })).filter((x) => x.p.grad);
      this.updateAll(todo.map(({ i, p, group }) => ({ i, p, g: p.grad!, group })));
    });
  }

  /** Updates every parameter that has a gradient (parameters without one are skipped, as in PyTorch). */
  protected updateAll(items: { i: number; p: Tensor; g: Tensor; group: Required<ParamGroup> }[]): void {
    for (const it of items) this.update(it.i, it.p, it.g, it.group);
  }

  protected abstract update(i: number, p: Tensor, g: Tensor, group: Required<ParamGroup>): void;

  zeroGrad(): void {
    for (const { p } of this.flat()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  stateDict(): OptimizerState {
    return {
      step: this.stepCount,
      groups: this.paramGroups.map((g) => ({ lr: g.lr, weightDecay: g.weightDecay, initialLr: g.initialLr })),
      state: this.state,
    };
  }

  loadStateDict(s: OptimizerState): void {
    if (s.groups.length !== this.paramGroups.length || s.state.length !== this.state.length) {
      throw new Error(`optimizer.loadStateDict: ${s.groups.length} groups / ${s.state.length} parameters, expected ${this.paramGroups.length} / ${this.state.length}`);
    }
    this.stepCount = s.step;
    s.groups.forEach((g, i) => Object.assign(this.paramGroups[i]!, g));
    for (const st of this.state) for (const t of Object.values(st)) t.dispose();
    this.state = s.state.map((st) => Object.fromEntries(Object.entries(st).map(([k, t]) => [k, keep(t)])));
  }

  dispose(): void {
    for (const st of this.state) for (const t of Object.values(st)) t.dispose();
    this.state = this.flat().map(() => ({}));
  }
}

export class AdamW extends Optimizer {
  constructor(params: ParamGroup[] | Tensor[], readonly opts: { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number } = {}) {
    super(params, { lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 0.01 });
  }
  protected update(i: number, p: Tensor, g: Tensor, group: Required<ParamGroup>): void {
    this.updateAll([{ i, p, g, group }]);
  }

  /** All parameters in batched dispatches (several tensors per dispatch on webgpu). */
  protected override updateAll(items: { i: number; p: Tensor; g: Tensor; group: Required<ParamGroup> }[]): void {
    const [beta1, beta2] = this.opts.betas ?? [0.9, 0.999];
    adamwUpdateMany(items.map(({ i, p, g, group }) => ({
      p, g, m: this.buffer(i, 'exp_avg', p), v: this.buffer(i, 'exp_avg_sq', p),
      h: { lr: group.lr, beta1, beta2, eps: this.opts.eps ?? 1e-8, weightDecay: group.weightDecay, step: this.stepCount },
    })));
  }
}

export class SGD extends Optimizer {
  constructor(params: ParamGroup[] | Tensor[], readonly opts: { lr: number; momentum?: number; weightDecay?: number }) {
    super(params, { lr: opts.lr, weightDecay: opts.weightDecay ?? 0 });
  }
  protected update(i: number, p: Tensor, g: Tensor, group: Required<ParamGroup>): void {
    const momentum = this.opts.momentum ?? 0;
    sgdUpdate(p, g, momentum ? this.buffer(i, 'momentum_buffer', p) : null, { lr: group.lr, momentum, weightDecay: group.weightDecay });
  }
}
