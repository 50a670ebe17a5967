// DropPath (stochastic depth) as timm's drop_path: per sample of a (B, ...) tensor, keep with probability
// 1 - p and scale survivors by 1/(1 - p); identity in eval mode or at p = 0. FIANet applies it to the two
// residual branches of every Swin block, with p rising linearly 0 -> 0.3 over the 24 blocks (FIANET.md §6.1).
// The key comes from a Generator like dropout's, so a run is reproducible and the backward replays the mask.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { isFloat } from '../../tensor/dtype.ts';
import { sameShape, shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { defaultGenerator, type Generator } from '../../tensor/random.ts';
import { sameDevice } from '../common.ts';
import { contiguous } from '../movement/movement.op.ts';
import { add } from '../elementwise/elementwise.op.ts';
import { dropPathCpu } from './regularize.cpu.ts';
import { dropPathWgsl } from './regularize.wgsl.ts';
import { splitForBinding } from '../split.ts';

interface Attrs { p: number; key: number }

/** (residual +) drop_path(x) without autograd; the backward calls it on the gradient with the same key. */
export function dropPathKernel(xIn: Tensor, residualIn: Tensor | null, p: number, key: number): Tensor {
  const x = contiguous(xIn);
  const r = residualIn ? contiguous(residualIn) : null;
  const out = empty(x.shape, x.dtype, x.device);
  const n = x.size;
  if (n > 0) {
    const perSample = n / x.shape[0]!;
    if (x.device === 'cpu') dropPathCpu(x.storage.cpu!, x.offset, r?.storage.cpu ?? null, r?.offset ?? 0, out.storage.cpu!, n, perSample, p, key);
    // Past the binding limit: pieces of the batch (split.ts), each told its first sample.
    else splitForBinding('dropPath', out, [x, r], (_, d) => (d === 0 ? 0 : null), (o, [xo, ro], first) => {
      dropPathWgsl(xo!, ro, o, o.size, perSample, p, key, first / perSample);
    }, { maxDim: 1 });
  }
  if (x !== xIn) x.dispose();
  if (r && r !== residualIn) r.dispose();
  return out;
}

const dropPathFn: FunctionDef<Attrs> = {
  name: 'dropPath',
  forward: ([x], a) => dropPathKernel(x!, null, a.p, a.key),
  setupContext: (ctx, _xs, a) => { ctx.attrs = a; },
  backward: (ctx, g) => {
    const a = ctx.attrs as Attrs;
    return [dropPathKernel(g, null, a.p, a.key)];
  },
};

const dropPathAddFn: FunctionDef<Attrs> = {
  name: 'dropPathAdd',
  forward: ([r, x], a) => dropPathKernel(x!, r!, a.p, a.key),
  setupContext: (ctx, _xs, a) => { ctx.attrs = a; },
  backward: (ctx, g) => {
    const a = ctx.attrs as Attrs;
    return [g, ctx.needsInputGrad[1] ? dropPathKernel(g, null, a.p, a.key) : null];
  },
};

function check(op: string, x: Tensor, p: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`${op}: p must be in [0, 1), found ${p}`);
  if (x.rank === 0) throw new Error(`${op}: expects a (B, ...) tensor, found a scalar`);
  if (!isFloat(x.dtype)) throw new Error(`${op}: expects a floating-point tensor, found ${x.dtype}`);
}

/** timm's drop_path(x, p, training): per-sample mask over dim 0 of x (B, ...). */
export function dropPath(x: Tensor, p: number, training = true, gen: Generator = defaultGenerator): Tensor {
  check('dropPath', x, p);
  if (!training || p === 0) return x;
  return apply(dropPathFn, [x], { p, key: gen.nextKey() });
}

/** residual + drop_path(x, p) in one kernel (the Swin block's `x = x + drop_path(f(x))`). */
export function dropPathAdd(residual: Tensor, x: Tensor, p: number, training = true, gen: Generator = defaultGenerator): Tensor {
  check('dropPathAdd', x, p);
  sameDevice('dropPathAdd', residual, x);
  if (!sameShape(residual.shape, x.shape) || residual.dtype !== x.dtype) {
    throw new Error(`dropPathAdd: residual ${shapeStr(residual.shape)} ${residual.dtype} and branch ${shapeStr(x.shape)} ${x.dtype} differ`);
  }
  if (!training || p === 0) return add(residual, x);
  return apply(dropPathAddFn, [residual, x], { p, key: gen.nextKey() });
}
