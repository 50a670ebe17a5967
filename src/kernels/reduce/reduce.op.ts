// Reductions over any axes (sum, mean, max, min, argmax, argmin, var) with keepdim, and sumTo (the
// broadcast-undo every binary gradient needs).
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { isFloat } from '../../tensor/dtype.ts';
import { normAxes, numel, sameShape, shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { coalesce, MAX_RANK } from '../common.ts';
import { reduceCpu, type ReduceMode, type ReducePlan } from './reduce.cpu.ts';
import { reduceWgsl } from './reduce.wgsl.ts';
import { copyInto, expand, reshape } from '../movement/movement.op.ts';
import { fitsBinding, splitForBinding } from '../split.ts';
import { cast, div, eq, ewKernel, mul, sub } from '../elementwise/elementwise.op.ts';

function plan(x: Tensor, axes: number[]): ReducePlan {
  const keptDims = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const kept = coalesce(keptDims.map((d) => x.shape[d]!), [keptDims.map((d) => x.strides[d]!)]);
  const red = coalesce(axes.map((d) => x.shape[d]!), [axes.map((d) => x.strides[d]!)]);
  if (kept.shape.length > MAX_RANK || red.shape.length > MAX_RANK) throw new Error(`reduce: rank over ${MAX_RANK} after merging dims`);
  return {
    outShape: kept.shape,
    outStrides: kept.strides[0]!,
    redShape: red.shape,
    redStrides: red.strides[0]!,
    offset: x.offset,
    count: numel(axes.map((d) => x.shape[d]!)),
  };
}

function outShapeOf(shape: readonly number[], axes: number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Reduction kernel without autograd. */
export function reduceKernel(mode: ReduceMode, x: Tensor, axes: number[], keepdim: boolean, divisor = 1): Tensor {
  if (mode !== 'argmax' && mode !== 'argmin' && !isFloat(x.dtype) && mode === 'sum' && divisor !== 1) {
    throw new Error(`mean: expects a floating-point tensor, found ${x.dtype}`);
  }
  if (numel(axes.map((d) => x.shape[d]!)) === 0 && mode !== 'sum') throw new Error(`${mode}: cannot reduce over an empty axis of ${shapeStr(x.shape)}`);
  const isArg = mode === 'argmax' || mode === 'argmin';
  const out = empty(outShapeOf(x.shape, axes, keepdim), isArg ? 'i32' : x.dtype, x.device);
  if (out.size === 0) return out;
  reduceInto(mode, x, axes, keepdim, divisor, out);
  return out;
}

/** The reduction of x written into out (dense, shaped as reduceKernel's result), without autograd. */
export function reduceInto(mode: ReduceMode, x: Tensor, axes: number[], keepdim: boolean, divisor: number, out: Tensor): void {
  const p = plan(x, axes);
  if (x.device === 'cpu') reduceCpu(mode, x.storage.cpu!, p, out.storage.cpu!, divisor);
  else {
    // Past the binding limit (split.ts) x is cut along its outermost dim (largest stride) of size > 1, which
    // shrinks what a piece touches: a reduced one gives halves whose partial results are combined
    // (reduceInPieces), a kept one gives pieces of the output.
    const outer = outermost(x);
    if (outer >= 0 && axes.includes(outer) && !fitsBinding([x, out])) {
      reduceInPieces(mode, x, outer, axes, keepdim, divisor, out);
      return;
    }
    const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
    const align = (_: number, d: number) => (keepdim ? (axes.includes(d) ? null : d) : kept[d]!);
    splitForBinding(mode, out, [x], align, (o, [w]) => reduceWgsl(mode, w!, plan(w!, axes), o, divisor), {
      onTooLarge: (o, [w]) => {
        const inner = outermost(w!);
        if (inner < 0 || !axes.includes(inner)) throw new Error(`${mode}: ${shapeStr(x.shape)} over axes [${axes.join(', ')}] cannot be split so that each binding fits the adapter's limit`);
        reduceInPieces(mode, w!, inner, axes, keepdim, divisor, o);
      },
    });
  }
}

/** The dim of size > 1 with the largest stride (-1 when there is none). */
function outermost(x: Tensor): number {
  let best = -1;
  for (let d = 0; d < x.rank; d++) if (x.shape[d]! > 1 && (best < 0 || x.strides[d]! > x.strides[best]!)) best = d;
  return best;
}

/**
 * out = the reduction of an x too large for one binding: x is halved along the reduced axis `axis`, the halves
 * reduced (recursively, until pieces fit) and the partial results combined (sum: add, with the divisor applied
 * per piece; max/min: maximum/minimum). Arg reductions over such inputs are refused.
 */
function reduceInPieces(mode: ReduceMode, x: Tensor, axis: number, axes: number[], keepdim: boolean, divisor: number, out: Tensor): void {
  if (mode === 'argmax' || mode === 'argmin') {
    throw new Error(`${mode}: ${shapeStr(x.shape)} over axes [${axes.join(', ')}] cannot be split so that each binding fits the adapter's limit`);
  }
  const R = x.shape[axis]!;
  const piece = (r0: number, n: number) => {
    const shape = [...x.shape];
    shape[axis] = n;
    return x.view(shape, x.strides, x.offset + r0 * x.strides[axis]!);
  };
  const n = Math.ceil(R / 2); // each half recurses through reduceKernel until it fits
  const combine = mode === 'sum' ? 'add' : mode === 'max' ? 'maximum' : 'minimum';
  const parts = [piece(0, n), piece(n, R - n)].map((t) => {
    const r = reduceKernel(mode, t, axes, keepdim, divisor);
    t.dispose();
    return r;
  });
  const acc = ewKernel(combine, parts);
  copyInto(acc, out);
  acc.dispose();
  parts.forEach((t) => t.dispose());
}

interface RAttrs { mode: 'sum' | 'mean' | 'max' | 'min'; axes: number[]; keepdim: boolean }

const reduceFn: FunctionDef<RAttrs> = {
  name: 'reduce',
  forward: ([x], a) => {
    const count = numel(a.axes.map((d) => x!.shape[d]!));
    return a.mode === 'mean' ? reduceKernel('sum', x!, a.axes, a.keepdim, count) : reduceKernel(a.mode, x!, a.axes, a.keepdim);
  },
  setupContext(ctx, [x], a, out) {
    ctx.attrs = a;
    ctx.inShape = x!.shape;
    if (a.mode === 'max' || a.mode === 'min') ctx.saveForBackward(x!, out);
  },
  backward(ctx, g) {
    const a = ctx.attrs as RAttrs;
    const inShape = ctx.inShape as number[];
    const keepShape = outShapeOf(inShape, a.axes, true);
    const gk = reshape(g, keepShape);
    if (a.mode === 'sum') return [expand(gk, inShape)];
    if (a.mode === 'mean') return [ewKernel('divs', [expand(gk, inShape)], numel(a.axes.map((d) => inShape[d]!)))];
    // max/min: the gradient is shared equally by the elements that attain the extreme (PyTorch's amax rule).
    const [x, y] = ctx.savedTensors;
    const hit = cast(eq(x!, reshape(y!, keepShape)), x!.dtype);
    const ties = reduceKernel('sum', hit, a.axes, true);
    return [mul(hit, div(gk, ties))];
  },
};

function reduceOp(mode: RAttrs['mode'], x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = normAxes(axis, x.rank, mode);
  return apply({ ...reduceFn, name: mode }, [x], { mode, axes, keepdim });
}

export const sum = (x: Tensor, axis?: number | number[], keepdim = false) => reduceOp('sum', x, axis, keepdim);
export const mean = (x: Tensor, axis?: number | number[], keepdim = false) => reduceOp('mean', x, axis, keepdim);
export const max = (x: Tensor, axis?: number | number[], keepdim = false) => reduceOp('max', x, axis, keepdim);
export const min = (x: Tensor, axis?: number | number[], keepdim = false) => reduceOp('min', x, axis, keepdim);
export const argmax = (x: Tensor, axis: number, keepdim = false) => reduceKernel('argmax', x, normAxes(axis, x.rank, 'argmax'), keepdim);
export const argmin = (x: Tensor, axis: number, keepdim = false) => reduceKernel('argmin', x, normAxes(axis, x.rank, 'argmin'), keepdim);

/** Variance with Bessel's correction by default (torch.var); correction 0 gives the biased estimate. */
export function variance(x: Tensor, axis?: number | number[], keepdim = false, correction = 1): Tensor {
  const axes = normAxes(axis, x.rank, 'var');
  const n = numel(axes.map((d) => x.shape[d]!));
  const d = sub(x, mean(x, axes, true));
  const ss = sum(mul(d, d), axes, keepdim);
  return div(ss, Math.max(n - correction, 0));
}

/** Sums g down to `shape` (undoes broadcasting): leading extra dims and dims that were 1. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.rank; d++) {
    if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  }
  const s = reduceKernel('sum', g, axes, true);
  return reshape(s, shape);
}
