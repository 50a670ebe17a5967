// Normalization ops: layerNorm (last dim, affine, any eps), batchNorm2d (NCHW; train mode with batch statistics
// and an on-device running-statistics update, eval mode with running statistics) and instanceNormTokens ((B, N, C)
// tokens, each channel normalized over the N tokens of its sample, no affine). All three are the group
// normalization of norm.cpu.ts with different layouts; forward saves (mean, rstd) per group for the backward.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { sameDevice } from '../common.ts';
import { dense } from '../movement/movement.op.ts';
import { reduceKernel } from '../reduce/reduce.op.ts';
import { layerNormParamGradCpu, normBackwardCpu, normForwardCpu, type Affine, type GroupLayout, type StatsMode } from './norm.cpu.ts';
import { layerNormParamGradWgsl, normBackwardWgsl, normForwardWgsl } from './norm.wgsl.ts';
import { batchNorm2dSplit, instanceNormTokensSplit, layerNormSplit, needsSplitNorm } from './norm.split.ts';

// ---- kernels without autograd -------------------------------------------------------------------------------

/** x itself when it is dense from element 0 (what the kernels index), else a dense copy (no autograd). */
export const denseCopy = dense;

function checkGpuDtypes(op: string, ...ts: (Tensor | null)[]): void {
  for (const t of ts) {
    if (t && t.device === 'webgpu' && t.dtype !== 'f32') throw new Error(`${op}: webgpu kernels take f32 tensors, found ${t.dtype} ${shapeStr(t.shape)}`);
  }
}

interface Running { mean: Tensor; var: Tensor; nbt: Tensor | null; momentum: number }

/** Forward of any group layout: returns y (x's shape) and stats (2, groups) = (mean, rstd). x, w, b dense. */
export function normForward(x: Tensor, L: GroupLayout, affine: Affine, w: Tensor | null, b: Tensor | null, eps: number,
  mode: StatsMode, running: Running | null): { y: Tensor; stats: Tensor } {
  const y = empty(x.shape, x.dtype, x.device);
  const stats = empty([2, L.groups], x.dtype, x.device);
  if (x.size === 0) return { y, stats };
  if (x.device === 'cpu') {
    const run = running ? { mean: running.mean.storage.cpu!, var: running.var.storage.cpu!, nbt: running.nbt?.storage.cpu ?? null, momentum: running.momentum } : null;
    normForwardCpu(x.storage.cpu!, y.storage.cpu!, stats.storage.cpu!, L, affine, w?.storage.cpu ?? null, b?.storage.cpu ?? null, eps, mode, run);
  } else {
    // The update kernel always increments a counter: without num_batches_tracked it gets a scratch one.
    const scratch = mode === 'update' && !running!.nbt ? empty([1], 'i32', x.device) : null;
    const ops = { w, b, runMean: running?.mean ?? null, runVar: running?.var ?? null, nbt: running?.nbt ?? scratch };
    normForwardWgsl(x, y, stats, L, affine, ops, eps, mode, running?.momentum ?? 0);
    scratch?.dispose();
  }
  return { y, stats };
}

/** Input gradient (and, for 'group' affine, dw/db) of any group layout. g, x, w dense. */
export function normBackward(g: Tensor, x: Tensor, stats: Tensor, L: GroupLayout, affine: Affine, w: Tensor | null,
  mode: StatsMode): { dx: Tensor; dw: Tensor | null; db: Tensor | null } {
  const dx = empty(x.shape, x.dtype, x.device);
  const dw = affine === 'group' ? empty([L.groups], x.dtype, x.device) : null;
  const db = affine === 'group' ? empty([L.groups], x.dtype, x.device) : null;
  if (x.size === 0) return { dx, dw, db };
  if (x.device === 'cpu') {
    normBackwardCpu(g.storage.cpu!, x.storage.cpu!, stats.storage.cpu!, L, affine, w?.storage.cpu ?? null, mode, dx.storage.cpu!, dw?.storage.cpu ?? null, db?.storage.cpu ?? null);
  } else {
    normBackwardWgsl(g, x, stats, L, affine, w, mode, dx, dw, db);
  }
  return { dx, dw, db };
}

/** LayerNorm dw, db: column sums over rows, as chunked partial sums then `sum` (deterministic, no atomics). */
export function layerNormParamGrad(g: Tensor, x: Tensor, stats: Tensor, rows: number, C: number): { dw: Tensor; db: Tensor } {
  if (x.device === 'cpu') {
    const dw = empty([C], x.dtype, 'cpu');
    const db = empty([C], x.dtype, 'cpu');
    layerNormParamGradCpu(g.storage.cpu!, x.storage.cpu!, stats.storage.cpu!, rows, C, dw.storage.cpu!, db.storage.cpu!);
    return { dw, db };
  }
  // About 4096 invocations in all, each summing at least 16 rows.
  const chunks = Math.max(1, Math.min(Math.ceil(4096 / C), Math.ceil(rows / 16)));
  const chunkRows = Math.max(1, Math.ceil(rows / chunks));
  const n = Math.max(1, Math.ceil(rows / chunkRows));
  const dwPart = empty([n, C], x.dtype, x.device);
  const dbPart = empty([n, C], x.dtype, x.device);
  layerNormParamGradWgsl(g, x, stats, rows, C, chunkRows, dwPart, dbPart);
  if (n === 1) return { dw: dwPart.view([C], [1], 0), db: dbPart.view([C], [1], 0) };
  const dw = reduceKernel('sum', dwPart, [0], false);
  const db = reduceKernel('sum', dbPart, [0], false);
  dwPart.dispose();
  dbPart.dispose();
  return { dw, db };
}

// ---- autograd functions -----------------------------------------------------------------------------------

interface NormAttrs {
  layout: GroupLayout;
  affine: Affine;
  eps: number;
  mode: StatsMode;
  running: Running | null;
  /** Filled by forward: the dense input and stats to save; tensors the wrapper disposes after apply. */
  saved?: Tensor[];
  temps?: Tensor[];
}

function forwardImpl(xs: Tensor[], a: NormAttrs): Tensor {
  const xd = denseCopy(xs[0]!);
  const wd = xs[1] ? denseCopy(xs[1]) : null;
  const bd = xs[2] ? denseCopy(xs[2]) : null;
  const { y, stats } = normForward(xd, a.layout, a.affine, wd, bd, a.eps, a.mode, a.running);
  a.saved = [xd, stats, ...(wd ? [wd] : [])];
  a.temps = [stats, ...[xd, wd, bd].filter((t, k) => t && t !== xs[k]) as Tensor[]];
  return y;
}

const normFn: FunctionDef<NormAttrs> = {
  name: 'norm',
  forward: forwardImpl,
  setupContext(ctx, _xs, a) {
    ctx.attrs = a;
    ctx.saveForBackward(...a.saved!);
  },
  backward(ctx, g) {
    const a = ctx.attrs as NormAttrs;
    const [x, stats, w] = ctx.savedTensors;
    const gd = denseCopy(g);
    const rows = a.layout.groups;
    const C = a.layout.nI;
    const need = ctx.needsInputGrad;
    const { dx, dw, db } = normBackward(gd, x!, stats!, a.layout, a.affine, w ?? null, a.mode);
    if (a.affine === 'inner' && (need[1] || need[2])) {
      const p = layerNormParamGrad(gd, x!, stats!, rows, C);
      return [dx, p.dw, p.db];
    }
    return [dx, dw, db];
  },
};

function run(name: string, inputs: Tensor[], a: NormAttrs): Tensor {
  const y = apply({ ...normFn, name }, inputs, a);
  for (const t of a.temps ?? []) t.dispose();
  a.saved = a.temps = undefined;
  return y;
}

function checkParam(op: string, t: Tensor | null | undefined, n: number, what: string, x: Tensor): void {
  if (!t) return;
  if (t.rank !== 1 || t.shape[0] !== n) throw new Error(`${op}: ${what} of shape ${shapeStr(t.shape)} does not match ${n} features of input ${shapeStr(x.shape)}`);
  if (t.dtype !== x.dtype) throw new Error(`${op}: ${what} dtype ${t.dtype} differs from input dtype ${x.dtype}`);
}

// ---- public ops -----------------------------------------------------------------------------------------------

/** torch.nn.functional.layer_norm over the last dim: x (..., C), weight and bias (C) or both null. */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  if (x.rank < 1) throw new Error(`${op}: expected an input of rank >= 1, found ${shapeStr(x.shape)}`);
  if (!weight !== !bias) throw new Error(`${op}: pass both weight and bias or neither`);
  const C = x.shape[x.rank - 1]!;
  checkParam(op, weight, C, 'weight', x);
  checkParam(op, bias, C, 'bias', x);
  sameDevice(op, x, ...(weight ? [weight, bias!] : []));
  checkGpuDtypes(op, x, weight, bias);
  const rows = C ? x.size / C : 0;
  if (needsSplitNorm(x)) return layerNormSplit(x, weight, bias, eps);
  const layout: GroupLayout = { groups: rows, g0Count: Math.max(rows, 1), s0: C, s1: 0, nO: 1, sO: 0, nI: C, sI: 1 };
  return run(op, weight ? [x, weight, bias!] : [x], { layout, affine: weight ? 'inner' : 'none', eps, mode: 'batch', running: null });
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** (C) buffers, updated in place in training mode (momentum), read in eval mode. */
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** One-element i32 buffer incremented by each training-mode update (PyTorch's num_batches_tracked). */
  numBatchesTracked?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * torch.nn.functional.batch_norm for NCHW input (N, C, H, W). Training: batch statistics (biased variance for
 * the normalization); running_mean/var, when given, move by `momentum` towards the batch mean and the UNBIASED
 * batch variance, on the device. Eval: running statistics (batch statistics when there are none, as PyTorch).
 */
export function batchNorm2d(x: Tensor, o: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm2d';
  if (x.rank !== 4) throw new Error(`${op}: expected input (N, C, H, W), found ${shapeStr(x.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const { weight = null, bias = null, runningMean = null, runningVar = null, numBatchesTracked = null } = o;
  const training = o.training ?? true;
  if (!weight !== !bias) throw new Error(`${op}: pass both weight and bias or neither`);
  if (!runningMean !== !runningVar) throw new Error(`${op}: pass both runningMean and runningVar or neither`);
  for (const [t, what] of [[weight, 'weight'], [bias, 'bias'], [runningMean, 'runningMean'], [runningVar, 'runningVar']] as const) checkParam(op, t, C, what, x);
  for (const t of [runningMean, runningVar]) {
    if (t && (!t.isContiguous || t.offset !== 0)) throw new Error(`${op}: running statistics must be dense buffers, found a view ${shapeStr(t.shape)}`);
  }
  if (numBatchesTracked && (numBatchesTracked.size !== 1 || numBatchesTracked.dtype !== 'i32' || numBatchesTracked.offset !== 0)) {
    throw new Error(`${op}: numBatchesTracked must be a one-element dense i32 buffer, found ${shapeStr(numBatchesTracked.shape)} ${numBatchesTracked.dtype}`);
  }
  sameDevice(op, x, ...[weight, bias, runningMean, runningVar, numBatchesTracked].filter((t): t is Tensor => !!t));
  checkGpuDtypes(op, x, weight, bias, runningMean, runningVar);
  const mode: StatsMode = training ? (runningMean ? 'update' : 'batch') : runningMean ? 'running' : 'batch';
  if (mode !== 'running' && N * H * W <= 1) {
    throw new Error(`${op}: expected more than 1 value per channel when training, found input ${shapeStr(x.shape)}`);
  }
  const HW = H * W;
  const layout: GroupLayout = { groups: C, g0Count: Math.max(C, 1), s0: HW, s1: 0, nO: N, sO: C * HW, nI: HW, sI: 1 };
  const running = runningMean ? { mean: runningMean, var: runningVar!, nbt: numBatchesTracked, momentum: o.momentum ?? 0.1 } : null;
  if (needsSplitNorm(x)) return batchNorm2dSplit(x, weight, bias, o.eps ?? 1e-5, mode === 'batch' ? null : running, mode === 'running');
  return run(op, weight ? [x, weight, bias!] : [x], { layout, affine: weight ? 'group' : 'none', eps: o.eps ?? 1e-5, mode, running });
}

/**
 * InstanceNorm over tokens (FIANet §5.1): x (B, N, C); each channel of each sample is normalized over its N
 * tokens with the biased variance, no affine, always per-sample statistics (train and eval alike). Equal to
 * torch.nn.InstanceNorm1d(C) applied to x.permute(0, 2, 1), permuted back.
 */
export function instanceNormTokens(x: Tensor, eps = 1e-5): Tensor {
  const op = 'instanceNormTokens';
  if (x.rank !== 3) throw new Error(`${op}: expected tokens (B, N, C), found ${shapeStr(x.shape)}`);
  const [B, N, C] = x.shape as [number, number, number];
  if (N <= 1) throw new Error(`${op}: expected more than 1 token per channel, found input ${shapeStr(x.shape)}`);
  checkGpuDtypes(op, x);
  if (needsSplitNorm(x)) return instanceNormTokensSplit(x, eps);
  const layout: GroupLayout = { groups: B * C, g0Count: Math.max(C, 1), s0: 1, s1: N * C, nO: 1, sO: 0, nI: N, sI: C };
  return run(op, [x], { layout, affine: 'none', eps, mode: 'batch', running: null });
}
