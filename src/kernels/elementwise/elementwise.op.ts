// Element-wise ops: device dispatch of the table's kernels, their gradient rules, and the public functions.
import { apply, type Ctx, type FunctionDef } from '../../tensor/autograd.ts';
import { isFloat, type DType } from '../../tensor/dtype.ts';
import { broadcastShapes, broadcastStrides, sameShape, shapeStr } from '../../tensor/shape.ts';
import { empty, Tensor } from '../../tensor/tensor.ts';
import { coalesce, MAX_RANK, sameDevice } from '../common.ts';
import { ewCpu } from './elementwise.cpu.ts';
import { EW_NONDIFF, EW_TABLE } from './elementwise.table.ts';
import { ewWgsl } from './elementwise.wgsl.ts';
import { sumTo } from '../reduce/reduce.op.ts';
import { alignBroadcast, splitForBinding } from '../split.ts';
import { defaultGenerator, type Generator } from '../../tensor/random.ts';

/** Runs one table kernel without autograd. Output shape is the broadcast of the inputs. */
export function ewKernel(name: string, inputs: Tensor[], p0 = 0, p1 = 0, outDtype?: DType): Tensor {
  const entry = EW_TABLE.get(name);
  if (!entry) throw new Error(`elementwise: unknown op '${name}'`);
  if (inputs.length !== entry.arity) throw new Error(`${name}: expected ${entry.arity} inputs, found ${inputs.length}`);
  const device = sameDevice(name, ...inputs);
  const valueInputs = entry.outFrom !== undefined ? inputs.slice(entry.outFrom) : inputs;
  const dt = valueInputs[0]!.dtype;
  for (const t of valueInputs) {
    if (t.dtype !== dt) throw new Error(`${name}: dtype mismatch (${inputs.map((x) => x.dtype).join(', ')})`);
  }
  if (!entry.int && !isFloat(dt)) throw new Error(`${name}: expects floating-point inputs, found ${dt}`);
  // f16 is a storage type here: kernels compute in f32 (cast, compute, cast back).
  if (name !== 'cast' && inputs.some((t) => t.dtype === 'f16')) {
    throw new Error(`${name}: f16 tensors are storage only; cast to f32 first (found ${inputs.map((t) => t.dtype).join(', ')})`);
  }
  let shape: number[] = [...inputs[0]!.shape];
  for (const t of inputs.slice(1)) shape = broadcastShapes(shape, t.shape, name);
  const out = empty(shape, outDtype ?? (entry.out === 'u32' ? 'u32' : dt), device);
  if (out.size === 0) return out;
  const plan = (o: Tensor, ins: Tensor[]) => {
    const bStrides = ins.map((t) => broadcastStrides(t.shape, t.strides, o.shape));
    const c = coalesce(o.shape, bStrides);
    if (c.shape.length > MAX_RANK) throw new Error(`${name}: rank ${c.shape.length} exceeds ${MAX_RANK} after merging dims`);
    return { bStrides, c };
  };
  if (device === 'cpu') {
    const { bStrides } = plan(out, inputs);
    ewCpu(entry, inputs.map((t, k) => ({ data: t.storage.cpu!, strides: bStrides[k]!, offset: t.offset })), shape, out.storage.cpu!, p0, p1);
  } else {
    // Pieces of tensors past the binding limit run as separate dispatches (split.ts).
    splitForBinding(name, out, inputs, alignBroadcast(out, inputs), (o, xs, first) => {
      const ins = xs as Tensor[];
      const { c } = plan(o, ins);
      // o is dense (fresh, or a piece of it split along its outer dims); it may start at an offset.
      const contig = ins.every((t) => t.isContiguous && sameShape(t.shape, o.shape));
      ewWgsl(entry, ins, c.strides, o, p0, p1, contig, c.shape, first);
    });
  }
  return out;
}

// ---- gradient rules ------------------------------------------------------------------------------------
interface Attrs { name: string; p0: number; p1: number }
type Rule = {
  uses: 'none' | 'inputs' | 'output';
  grad: (g: Tensor, saved: Tensor[], a: Attrs, ctx: Ctx) => (Tensor | null)[];
};
const k2 = (n: string, a: Tensor, b: Tensor, p0 = 0, p1 = 0) => ewKernel(n, [a, b], p0, p1);
const k3 = (n: string, a: Tensor, b: Tensor, c: Tensor) => ewKernel(n, [a, b, c]);
const shapes = (ctx: Ctx) => ctx.shapes as number[][];
const sumBack = (ctx: Ctx, grads: (Tensor | null)[]) =>
  grads.map((g, i) => (g && ctx.needsInputGrad[i] ? sumTo(g, shapes(ctx)[i]!) : null));

export const EW_GRADS: Record<string, Rule> = {
  neg: { uses: 'none', grad: (g) => [ewKernel('neg', [g])] },
  exp: { uses: 'output', grad: (g, [y]) => [k2('mul', g, y!)] },
  log: { uses: 'inputs', grad: (g, [x]) => [k2('div', g, x!)] },
  sqrt: { uses: 'output', grad: (g, [y]) => [k2('sqrt_bwd', g, y!)] },
  rsqrt: { uses: 'output', grad: (g, [y]) => [k2('rsqrt_bwd', g, y!)] },
  reciprocal: { uses: 'output', grad: (g, [y]) => [k2('reciprocal_bwd', g, y!)] },
  abs: { uses: 'inputs', grad: (g, [x]) => [k2('abs_bwd', g, x!)] },
  square: { uses: 'inputs', grad: (g, [x]) => [k2('square_bwd', g, x!)] },
  relu: { uses: 'inputs', grad: (g, [x]) => [k2('relu_bwd', g, x!)] },
  relu6: { uses: 'inputs', grad: (g, [x]) => [k2('relu6_bwd', g, x!)] },
  gelu: { uses: 'inputs', grad: (g, [x]) => [k2('gelu_bwd', g, x!)] },
  tanh: { uses: 'output', grad: (g, [y]) => [k2('tanh_bwd', g, y!)] },
  sigmoid: { uses: 'output', grad: (g, [y]) => [k2('sigmoid_bwd', g, y!)] },
  hardsigmoid: { uses: 'inputs', grad: (g, [x]) => [k2('hardsigmoid_bwd', g, x!)] },
  adds: { uses: 'none', grad: (g) => [g] },
  muls: { uses: 'none', grad: (g, _s, a) => [ewKernel('muls', [g], a.p0)] },
  rsubs: { uses: 'none', grad: (g) => [ewKernel('neg', [g])] },
  divs: { uses: 'none', grad: (g, _s, a) => [ewKernel('divs', [g], a.p0)] },
  pows: { uses: 'inputs', grad: (g, [x], a) => [k2('pows_bwd', g, x!, a.p0)] },
  clamp: { uses: 'inputs', grad: (g, [x], a) => [k2('clamp_bwd', g, x!, a.p0, a.p1)] },
  dropout: { uses: 'none', grad: (g, _s, a) => [ewKernel('dropout', [g], a.p0, a.p1)] },
  cast: { uses: 'none', grad: (g, _s, _a, ctx) => [ewKernel('cast', [g], 0, 0, ctx.inDtype as DType)] },
  add: { uses: 'none', grad: (g, _s, _a, ctx) => sumBack(ctx, [g, g]) },
  sub: { uses: 'none', grad: (g, _s, _a, ctx) => sumBack(ctx, [g, ctx.needsInputGrad[1] ? ewKernel('neg', [g]) : null]) },
  mul: { uses: 'inputs', grad: (g, [a, b], _a, ctx) => sumBack(ctx, [ctx.needsInputGrad[0] ? k2('mul', g, b!) : null, ctx.needsInputGrad[1] ? k2('mul', g, a!) : null]) },
  div: { uses: 'inputs', grad: (g, [a, b], _a, ctx) => sumBack(ctx, [ctx.needsInputGrad[0] ? k2('div', g, b!) : null, ctx.needsInputGrad[1] ? k3('div_bwd_b', g, a!, b!) : null]) },
  pow: { uses: 'inputs', grad: (g, [a, b], _a, ctx) => sumBack(ctx, [ctx.needsInputGrad[0] ? k3('pow_bwd_a', g, a!, b!) : null, ctx.needsInputGrad[1] ? k3('pow_bwd_b', g, a!, b!) : null]) },
  maximum: { uses: 'inputs', grad: (g, [a, b], _a, ctx) => sumBack(ctx, [k3('maximum_bwd', g, a!, b!), k3('maximum_bwd', g, b!, a!)]) },
  minimum: { uses: 'inputs', grad: (g, [a, b], _a, ctx) => sumBack(ctx, [k3('minimum_bwd', g, a!, b!), k3('minimum_bwd', g, b!, a!)]) },
  where: { uses: 'inputs', grad: (g, [c], _a, ctx) => sumBack(ctx, [null, k2('mask_keep', c!, g), k2('mask_drop', c!, g)]) },
};

const ewFunction: FunctionDef<Attrs> = {
  name: 'elementwise',
  forward: (inputs, a) => ewKernel(a.name, inputs, a.p0, a.p1, a.name === 'cast' ? (a as Attrs & { dtype: DType }).dtype : undefined),
  setupContext(ctx, inputs, a, out) {
    const rule = EW_GRADS[a.name];
    if (!rule) throw new Error(`${a.name}: no gradient rule`);
    ctx.shapes = inputs.map((t) => t.shape);
    ctx.inDtype = inputs[0]!.dtype;
    if (rule.uses === 'inputs') ctx.saveForBackward(...inputs);
    if (rule.uses === 'output') ctx.saveForBackward(out);
  },
  backward(ctx, g) {
    const a = ctx.attrs as Attrs;
    return EW_GRADS[a.name]!.grad(g, ctx.savedTensors, a, ctx);
  },
};

function ew(name: string, inputs: Tensor[], p0 = 0, p1 = 0): Tensor {
  if (EW_NONDIFF.has(name)) return ewKernel(name, inputs, p0, p1);
  const attrs = { name, p0, p1 };
  return apply({ ...ewFunction, name, setupContext: (ctx, i, a, o) => { ctx.attrs = a; ewFunction.setupContext!(ctx, i, a, o); } }, inputs, attrs);
}

// ---- public API -----------------------------------------------------------------------------------------
type Operand = Tensor | number;
const isT = (x: Operand): x is Tensor => x instanceof Tensor;

export const neg = (x: Tensor) => ew('neg', [x]);
export const exp = (x: Tensor) => ew('exp', [x]);
export const log = (x: Tensor) => ew('log', [x]);
export const sqrt = (x: Tensor) => ew('sqrt', [x]);
export const rsqrt = (x: Tensor) => ew('rsqrt', [x]);
export const reciprocal = (x: Tensor) => ew('reciprocal', [x]);
export const abs = (x: Tensor) => ew('abs', [x]);
export const sign = (x: Tensor) => ew('sign', [x]);
export const square = (x: Tensor) => ew('square', [x]);
export const relu = (x: Tensor) => ew('relu', [x]);
export const relu6 = (x: Tensor) => ew('relu6', [x]);
export const gelu = (x: Tensor) => ew('gelu', [x]);
export const tanh = (x: Tensor) => ew('tanh', [x]);
export const sigmoid = (x: Tensor) => ew('sigmoid', [x]);
export const hardsigmoid = (x: Tensor) => ew('hardsigmoid', [x]);
export const clamp = (x: Tensor, min: number, max: number) => ew('clamp', [x], min, max);

/** Inverted dropout with the seeded counter-based RNG; identity when p == 0 or not training. */
export function dropout(x: Tensor, p: number, training = true, gen: Generator = defaultGenerator): Tensor {
  if (p < 0 || p >= 1) throw new Error(`dropout: p must be in [0, 1), found ${p}`);
  if (!training || p === 0) return x;
  // The mask is indexed by the output's row-major position, so it does not depend on the input's layout.
  return ew('dropout', [x], p, gen.nextKey());
}

export function add(a: Operand, b: Operand): Tensor {
  if (isT(a) && isT(b)) return ew('add', [a, b]);
  if (isT(a)) return ew('adds', [a], b as number);
  return ew('adds', [b as Tensor], a);
}
export function sub(a: Operand, b: Operand): Tensor {
  if (isT(a) && isT(b)) return ew('sub', [a, b]);
  if (isT(a)) return ew('adds', [a], -(b as number));
  return ew('rsubs', [b as Tensor], a);
}
export function mul(a: Operand, b: Operand): Tensor {
  if (isT(a) && isT(b)) return ew('mul', [a, b]);
  if (isT(a)) return ew('muls', [a], b as number);
  return ew('muls', [b as Tensor], a);
}
export function div(a: Operand, b: Operand): Tensor {
  if (isT(a) && isT(b)) return ew('div', [a, b]);
  if (isT(a)) return ew('divs', [a], b as number);
  return ew('muls', [ew('reciprocal', [b as Tensor])], a);
}
export function pow(a: Tensor, b: Operand): Tensor {
  return isT(b) ? ew('pow', [a, b]) : ew('pows', [a], b);
}
export const maximum = (a: Tensor, b: Tensor) => ew('maximum', [a, b]);
export const minimum = (a: Tensor, b: Tensor) => ew('minimum', [a, b]);
export const eq = (a: Tensor, b: Tensor) => ew('eq', [a, b]);
export const ne = (a: Tensor, b: Tensor) => ew('ne', [a, b]);
export const lt = (a: Tensor, b: Tensor) => ew('lt', [a, b]);
export const le = (a: Tensor, b: Tensor) => ew('le', [a, b]);
export const gt = (a: Tensor, b: Tensor) => ew('gt', [a, b]);
export const ge = (a: Tensor, b: Tensor) => ew('ge', [a, b]);
/** where(cond, a, b): a where cond != 0, else b (cond of any dtype; broadcasting). */
export const where = (cond: Tensor, a: Tensor, b: Tensor) => ew('where', [cond, a, b]);

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if (!isFloat(dtype) || !isFloat(x.dtype)) return ewKernel('cast', [x], 0, 0, dtype);
  const attrs = { name: 'cast', p0: 0, p1: 0, dtype };
  return apply({ ...ewFunction, name: 'cast', setupContext: (ctx, i, a, o) => { ctx.attrs = a; ewFunction.setupContext!(ctx, i, a, o); } }, [x], attrs);
}

export function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) throw new Error(`${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
}
