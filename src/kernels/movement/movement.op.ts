// Movement ops. reshape (when memory order allows), permute, expand and slice are views: no kernel, no copy.
// contiguous, concat, pad and roll run the strided copy kernel. Creation helpers (zeros, ones, full) use fill.
import { apply, registerAutogradFactories, type FunctionDef } from '../../tensor/autograd.ts';
import type { DType } from '../../tensor/dtype.ts';
import { contiguousStrides, inferShape, normAxis, shapeStr, viewStrides, type Shape } from '../../tensor/shape.ts';
import type { DeviceName } from '../../tensor/storage.ts';
import { empty, Tensor } from '../../tensor/tensor.ts';
import { defaultDevice } from '../../runtime/device.ts';
import { coalesce, sameDevice } from '../common.ts';
import { splitForBinding } from '../split.ts';
import { copyCpu, fillCpu, type CopyPlan } from './movement.cpu.ts';
import { copyWgsl, fillWgsl } from './movement.wgsl.ts';
import { sumTo } from '../reduce/reduce.op.ts';
import { add } from '../elementwise/elementwise.op.ts';

// ---- kernels -------------------------------------------------------------------------------------------
/** Copies the logical contents of `src` into the view `dst` (same shape), optionally rolled per dim. */
export function copyInto(src: Tensor, dst: Tensor, shifts?: number[]): void {
  if (src.shape.join() !== dst.shape.join()) throw new Error(`copy: shapes ${shapeStr(src.shape)} and ${shapeStr(dst.shape)} differ`);
  if (src.dtype !== dst.dtype) throw new Error(`copy: dtypes ${src.dtype} and ${dst.dtype} differ`);
  sameDevice('copy', src, dst);
  const rolled = shifts?.some((x) => x !== 0) ?? false;
  if (src.device === 'cpu') copyCpu(src.storage.cpu!, dst.storage.cpu!, copyPlan(src, dst, rolled ? shifts : undefined));
  else if (rolled) copyWgsl(src, dst, copyPlan(src, dst, shifts)); // a roll reads across the dims a split would cut
  // Past the binding limit: pieces of dst with the matching pieces of src (split.ts).
  else splitForBinding('copy', dst, [src], (_, d) => d, (d, [x]) => copyWgsl(x!, d, copyPlan(x!, d)));
}

function copyPlan(src: Tensor, dst: Tensor, shifts?: number[]): CopyPlan {
  if (shifts) {
    return { shape: [...src.shape], srcStrides: [...src.strides], dstStrides: [...dst.strides], srcOffset: src.offset, dstOffset: dst.offset, shifts };
  }
  const c = coalesce(src.shape, [src.strides, dst.strides]);
  return { shape: c.shape, srcStrides: c.strides[0]!, dstStrides: c.strides[1]!, srcOffset: src.offset, dstOffset: dst.offset };
}

export function fillInto(dst: Tensor, value: number): void {
  if (dst.device === 'cpu') fillCpu(dst.storage.cpu!, [...dst.shape], [...dst.strides], dst.offset, value);
  else splitForBinding('fill', dst, [], () => null, (d) => fillWgsl(d, [...d.shape], [...d.strides], d.offset, value));
}

export function full(shape: Shape, value: number, dtype: DType = 'f32', device: DeviceName = defaultDevice()): Tensor {
  const t = empty(shape, dtype, device);
  fillInto(t, value);
  return t;
}
export const zeros = (shape: Shape, dtype: DType = 'f32', device: DeviceName = defaultDevice()) => full(shape, 0, dtype, device);
export const ones = (shape: Shape, dtype: DType = 'f32', device: DeviceName = defaultDevice()) => full(shape, 1, dtype, device);
export const zerosLike = (t: Tensor) => zeros(t.shape, t.dtype, t.device);
export const onesLike = (t: Tensor) => ones(t.shape, t.dtype, t.device);

function copyKernel(x: Tensor): Tensor {
  const out = empty(x.shape, x.dtype, x.device);
  copyInto(x, out);
  return out;
}

// ---- views ---------------------------------------------------------------------------------------------
interface ViewAttrs { shape: number[]; strides: number[]; offset: number }

const reshapeFn: FunctionDef<{ shape: number[] }> = {
  name: 'reshape',
  forward: ([x], a) => {
    const st = viewStrides(x!.shape, x!.strides, a.shape);
    if (st) return x!.view(a.shape, st, x!.offset);
    const c = copyKernel(x!);
    const v = c.view(a.shape, contiguousStrides(a.shape), 0);
    c.dispose();
    return v;
  },
  setupContext: (ctx, [x]) => { ctx.inShape = x!.shape; },
  backward: (ctx, g) => [reshape(g, ctx.inShape as number[])],
};

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape(shape, x.size, `reshape ${shapeStr(x.shape)}`);
  if (target.join() === x.shape.join()) return x;
  return apply(reshapeFn, [x], { shape: target });
}
export const view = reshape;
export const flatten = (x: Tensor, start = 0, end = -1) => {
  const s = normAxis(start, x.rank, 'flatten');
  const e = normAxis(end, x.rank, 'flatten');
  return reshape(x, [...x.shape.slice(0, s), x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1), ...x.shape.slice(e + 1)]);
};
export const unsqueeze = (x: Tensor, axis: number) => {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
};
export const squeeze = (x: Tensor, axis: number) => {
  const a = normAxis(axis, x.rank, 'squeeze');
  if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${axis} of ${shapeStr(x.shape)} is not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
};

const permuteFn: FunctionDef<{ dims: number[] }> = {
  name: 'permute',
  forward: ([x], a) => x!.view(a.dims.map((d) => x!.shape[d]!), a.dims.map((d) => x!.strides[d]!), x!.offset),
  setupContext: (ctx, _i, a) => { ctx.dims = a.dims; },
  backward: (ctx, g) => {
    const dims = ctx.dims as number[];
    const inv = dims.map((_, i) => dims.indexOf(i));
    return [permute(g, inv)];
  },
};

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const norm = dims.map((d) => normAxis(d, x.rank, 'permute'));
  if (norm.length !== x.rank || new Set(norm).size !== x.rank) {
    throw new Error(`permute: dims [${dims.join(', ')}] are not a permutation for ${shapeStr(x.shape)}`);
  }
  if (norm.every((d, i) => d === i)) return x;
  return apply(permuteFn, [x], { dims: norm });
}

export function transpose(x: Tensor, a: number, b: number): Tensor {
  const dims = [...x.shape.keys()];
  const i = normAxis(a, x.rank, 'transpose');
  const j = normAxis(b, x.rank, 'transpose');
  [dims[i], dims[j]] = [dims[j]!, dims[i]!];
  return permute(x, dims);
}

const expandFn: FunctionDef<ViewAttrs> = {
  name: 'expand',
  forward: ([x], a) => x!.view(a.shape, a.strides, x!.offset),
  setupContext: (ctx, [x]) => { ctx.inShape = x!.shape; },
  backward: (ctx, g) => [sumTo(g, ctx.inShape as number[])],
};

/** Broadcasts x to `shape` as a view (stride 0 on expanded axes); -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.rank;
  if (lead < 0) throw new Error(`expand: cannot expand ${shapeStr(x.shape)} to fewer dims ${shapeStr(shape)}`);
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - lead]! : d));
  const strides = target.map((d, i) => {
    if (i < lead) return 0;
    const s = x.shape[i - lead]!;
    if (s === d) return x.strides[i - lead]!;
    if (s === 1) return 0;
    throw new Error(`expand: cannot expand ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
  });
  if (target.join() === x.shape.join()) return x;
  return apply(expandFn, [x], { shape: target, strides, offset: x.offset });
}

interface SliceAttrs { starts: number[]; ends: number[]; steps: number[] }
const sliceFn: FunctionDef<SliceAttrs> = {
  name: 'slice',
  forward: ([x], a) => {
    const shape = a.starts.map((s, d) => Math.max(0, Math.ceil((a.ends[d]! - s) / a.steps[d]!)));
    const strides = x!.strides.map((st, d) => st * a.steps[d]!);
    const offset = x!.offset + a.starts.reduce((o, s, d) => o + s * x!.strides[d]!, 0);
    return x!.view(shape, strides, offset);
  },
  setupContext: (ctx, [x], a) => { ctx.inShape = x!.shape; ctx.attrs = a; },
  backward: (ctx, g) => {
    const a = ctx.attrs as SliceAttrs;
    const out = zeros(ctx.inShape as number[], g.dtype, g.device);
    copyInto(g, sliceFn.forward([out], a));
    return [out];
  },
};

/**
 * Slices along one axis: x[..., start:end:step, ...] (negative indices count from the end), as a view.
 */
export function slice(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const d = normAxis(axis, x.rank, 'slice');
  const n = x.shape[d]!;
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, found ${step}`);
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = clampIdx(start);
  const e = clampIdx(end ?? n);
  const starts = x.shape.map(() => 0);
  const ends = [...x.shape];
  const steps = x.shape.map(() => 1);
  starts[d] = s;
  ends[d] = Math.max(e, s);
  steps[d] = step;
  return apply(sliceFn, [x], { starts, ends, steps });
}

/** Splits along an axis into pieces of the given sizes (views). */
export function split(x: Tensor, sizes: number[], axis = 0): Tensor[] {
  const d = normAxis(axis, x.rank, 'split');
  if (sizes.reduce((a, b) => a + b, 0) !== x.shape[d]) {
    throw new Error(`split: sizes [${sizes.join(', ')}] do not sum to ${x.shape[d]} along axis ${axis} of ${shapeStr(x.shape)}`);
  }
  let at = 0;
  return sizes.map((s) => slice(x, d, at, (at += s)));
}

// ---- copies --------------------------------------------------------------------------------------------
const contiguousFn: FunctionDef<null> = {
  name: 'contiguous',
  forward: ([x]) => copyKernel(x!),
  backward: (_ctx, g) => [g],
};

export function contiguous(x: Tensor): Tensor {
  return x.isContiguous ? x : apply(contiguousFn, [x], null);
}

/**
 * Like contiguous(), but also copies a contiguous view that starts inside its storage (offset != 0): for kernels
 * that index their operands from element 0. Differentiable.
 */
export function compact(x: Tensor): Tensor {
  return x.isContiguous && x.offset === 0 ? x : apply(contiguousFn, [x], null);
}

/** compact() without autograd, for use inside forward/backward kernels. */
export function dense(x: Tensor): Tensor {
  return x.isContiguous && x.offset === 0 ? x : copyKernel(x);
}

const concatFn: FunctionDef<{ axis: number }> = {
  name: 'concat',
  forward: (xs, a) => {
    const shape = [...xs[0]!.shape];
    shape[a.axis] = xs.reduce((s, t) => s + t.shape[a.axis]!, 0);
    const out = empty(shape, xs[0]!.dtype, xs[0]!.device);
    let at = 0;
    for (const t of xs) {
      const region = out.view(t.shape, out.strides, out.offset + at * out.strides[a.axis]!);
      copyInto(t, region);
      region.dispose();
      at += t.shape[a.axis]!;
    }
    return out;
  },
  setupContext: (ctx, xs, a) => { ctx.sizes = xs.map((t) => t.shape[a.axis]!); ctx.axis = a.axis; },
  backward: (ctx, g) => split(g, ctx.sizes as number[], ctx.axis as number),
};

export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const a = normAxis(axis, xs[0]!.rank, 'concat');
  sameDevice('concat', ...xs);
  for (const t of xs) {
    if (t.rank !== xs[0]!.rank || t.shape.some((s, i) => i !== a && s !== xs[0]!.shape[i]) || t.dtype !== xs[0]!.dtype) {
      throw new Error(`concat: along axis ${axis}, ${xs.map((x) => `${shapeStr(x.shape)} ${x.dtype}`).join(', ')} do not match`);
    }
  }
  if (xs.length === 1) return xs[0]!;
  return apply(concatFn, xs, { axis: a });
}
export const cat = concat;

export function stack(xs: Tensor[], axis = 0): Tensor {
  return concat(xs.map((x) => unsqueeze(x, axis)), axis);
}

interface PadAttrs { pads: [number, number][]; value: number }
const padFn: FunctionDef<PadAttrs> = {
  name: 'pad',
  forward: ([x], a) => {
    const shape = x!.shape.map((s, d) => s + a.pads[d]![0] + a.pads[d]![1]);
    const out = full(shape, a.value, x!.dtype, x!.device);
    const off = a.pads.reduce((o, [b], d) => o + b * out.strides[d]!, 0);
    const interior = out.view(x!.shape, out.strides, off);
    copyInto(x!, interior);
    interior.dispose();
    return out;
  },
  setupContext: (ctx, [x], a) => { ctx.attrs = a; ctx.inShape = x!.shape; },
  backward: (ctx, g) => {
    const a = ctx.attrs as PadAttrs;
    const inShape = ctx.inShape as number[];
    const off = a.pads.reduce((o, [b], d) => o + b * g.strides[d]!, 0);
    return [g.view(inShape, g.strides, g.offset + off)];
  },
};

/**
 * Constant padding, PyTorch F.pad order: pads = [lastBefore, lastAfter, prevBefore, prevAfter, ...].
 * Negative pads are not supported (use slice).
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length % 2 || pads.length / 2 > x.rank) throw new Error(`pad: ${pads.length} pad values for ${shapeStr(x.shape)}`);
  if (pads.some((p) => p < 0 || !Number.isInteger(p))) throw new Error(`pad: pads must be non-negative integers, found [${pads.join(', ')}]`);
  const per: [number, number][] = x.shape.map(() => [0, 0]);
  for (let k = 0; k < pads.length / 2; k++) per[x.rank - 1 - k] = [pads[2 * k]!, pads[2 * k + 1]!];
  if (per.every(([b, e]) => b === 0 && e === 0)) return x;
  return apply(padFn, [x], { pads: per, value });
}

const rollFn: FunctionDef<{ shifts: number[] }> = {
  name: 'roll',
  forward: ([x], a) => {
    const out = empty(x!.shape, x!.dtype, x!.device);
    copyInto(x!, out, a.shifts);
    return out;
  },
  setupContext: (ctx, [x], a) => { ctx.back = a.shifts.map((s, d) => (x!.shape[d]! - s) % x!.shape[d]!); },
  backward: (ctx, g) => [rollFn.forward([g], { shifts: ctx.back as number[] })],
};

/** torch.roll: out[i] = x[i - shift] along each given axis (cyclic). */
export function roll(x: Tensor, shifts: number | number[], axes: number | number[]): Tensor {
  const sh = typeof shifts === 'number' ? [shifts] : shifts;
  const ax = typeof axes === 'number' ? [axes] : axes;
  if (sh.length !== ax.length) throw new Error(`roll: ${sh.length} shifts for ${ax.length} axes`);
  const per = x.shape.map(() => 0);
  ax.forEach((a, k) => {
    const d = normAxis(a, x.rank, 'roll');
    const n = x.shape[d]!;
    per[d] = n ? (((per[d]! + sh[k]!) % n) + n) % n : 0;
  });
  if (per.every((s) => s === 0)) return x;
  return apply(rollFn, [x], { shifts: per });
}

/** Moves a tensor to another device (a host round trip for cpu<->webgpu). */
export async function to(x: Tensor, device: DeviceName): Promise<Tensor> {
  if (x.device === device) return x;
  const { fromArray } = await import('../../tensor/tensor.ts');
  return fromArray(await x.toArray(), x.shape, { dtype: x.dtype, device });
}

registerAutogradFactories({ ones, add: (a, b) => add(a, b), contiguous: (a) => copyKernel(a) });
