// matmul with PyTorch semantics (1-D operands promoted, batch dims broadcast), its gradient, and linear().
// Transposed operands are permuted views: the kernels read them through strides, so a transpose is free.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { broadcastShapes, shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { getRuntime } from '../../runtime/device.ts';
import { coalesce, sameDevice } from '../common.ts';
import { matmulCpu, type MatmulPlan } from './matmul.cpu.ts';
import { matmulWgsl, type MatmulVariant } from './matmul.wgsl.ts';
import { compact, copyInto, reshape, transpose, unsqueeze, squeeze } from '../movement/movement.op.ts';
import { bindingBytes, fitsBinding, splitForBinding } from '../split.ts';
import { reduceInto, reduceKernel, sumTo } from '../reduce/reduce.op.ts';
import { TILE } from './gemm.template.ts';
import { add } from '../elementwise/elementwise.op.ts';

let forcedVariant: MatmulVariant | null = (process.env.FIANET_MATMUL as MatmulVariant) || null;

/** Overrides the per-adapter matmul choice (tests compare variants; benchmarks time them). */
export function setMatmulVariant(v: MatmulVariant | null): void {
  forcedVariant = v;
}

export function chooseMatmulVariant(): MatmulVariant {
  if (forcedVariant) return forcedVariant;
  const rt = getRuntime();
  const S = rt.report.subgroupSize;
  return rt.report.variant === 'subgroup' && S >= 4 && S <= 16 ? 'subgroup' : 'tiled';
}

/** Plans (..., M, K) @ (..., K, N) for rank >= 2 operands. */
function plan(a: Tensor, b: Tensor): { plan: MatmulPlan; outShape: number[] } {
  const M = a.shape[a.rank - 2]!;
  const K = a.shape[a.rank - 1]!;
  const K2 = b.shape[b.rank - 2]!;
  const N = b.shape[b.rank - 1]!;
  if (K !== K2) throw new Error(`matmul: inner dims differ, ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
  const bs = (t: Tensor) => {
    const lead = batch.length - (t.rank - 2);
    return batch.map((d, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : t.strides[i - lead]!));
  };
  const c = coalesce(batch, [bs(a), bs(b)]);
  return {
    outShape: [...batch, M, N],
    plan: {
      batchShape: c.shape, aBatchStrides: c.strides[0]!, bBatchStrides: c.strides[1]!,
      M, N, K,
      aRow: a.strides[a.rank - 2]!, aCol: a.strides[a.rank - 1]!,
      bRow: b.strides[b.rank - 2]!, bCol: b.strides[b.rank - 1]!,
      aOffset: a.offset, bOffset: b.offset,
    },
  };
}

export function matmulKernel(a: Tensor, b: Tensor, variant?: MatmulVariant, bias: Tensor | null = null): Tensor {
  const device = sameDevice('matmul', a, b);
  if (a.dtype !== 'f32' && a.dtype !== 'f64') throw new Error(`matmul: expects f32 tensors, found ${a.dtype} and ${b.dtype}`);
  if (a.dtype !== b.dtype) throw new Error(`matmul: dtype mismatch ${a.dtype} vs ${b.dtype}`);
  const { plan: p, outShape } = plan(a, b);
  const out = empty(outShape, a.dtype, device);
  if (out.size === 0) return out;
  if (p.K === 0) throw new Error(`matmul: empty inner dimension in ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  if (device === 'cpu') matmulCpu(a.storage.cpu!, b.storage.cpu!, p, out.storage.cpu!, bias ? { data: bias.storage.cpu!, offset: bias.offset } : null);
  else matmulGpu(a, b, out, bias, variant ?? chooseMatmulVariant());
  return out;
}

/**
 * out = a @ b (+ bias) on webgpu, within the binding limit (split.ts): pieces of out's batch and row dims, or,
 * when out fits but an operand is too long along K (a weight gradient over many rows), a sum over K chunks.
 */
function matmulGpu(a: Tensor, b: Tensor, out: Tensor, bias: Tensor | null, variant: MatmulVariant): void {
  const limit = getRuntime().maxBindingBytes;
  // K chunks when the output fits and chunking K shrinks the operands (a weight gradient gᵀx over many rows);
  // otherwise pieces of the output, with K chunks only for a piece that still does not fit.
  if (bindingBytes(out, limit) <= limit && !fitsBinding([a, b, bias], limit) && kChunksFit(a, b, 1)) return matmulSplitK(a, b, out, bias, variant);
  const chunks = bias || variant !== 'tiled' ? 1 : parallelKChunks(out, a.shape[a.rank - 1]!);
  if (chunks > 1 && fitsBinding([a, b, out], limit)) return matmulParallelK(a, b, out, chunks, variant);
  const S = getRuntime().report.subgroupSize;
  // Output dim d runs along a's or b's batch dim (right-aligned, not broadcast), or a's rows (d = rank - 2).
  const align = (i: number, d: number): number | null => {
    if (i === 2) return null;
    const t = i === 0 ? a : b;
    if (d === out.rank - 2) return i === 0 ? t.rank - 2 : null;
    const td = d - (out.rank - t.rank);
    return td < 0 || (t.shape[td] === 1 && out.shape[d] !== 1) ? null : td;
  };
  splitForBinding('matmul', out, [a, b, bias], align, (o, [x, y, z]) => matmulWgsl(x!, y!, o, plan(x!, y!).plan, variant, S, z), {
    maxDim: out.rank - 1, // the kernel stores dense rows: columns stay whole
    onTooLarge: (o, [x, y, z]) => matmulSplitK(x!, y!, o, z, variant),
  });
}

const narrowDim = (t: Tensor, d: number, k0: number, n: number) => {
  const shape = [...t.shape];
  shape[d] = n;
  return t.view(shape, t.strides, t.offset + k0 * t.strides[d]!);
};

/** Whether a[..., 0:n] and b[..., 0:n, :] fit their bindings. */
function kChunksFit(a: Tensor, b: Tensor, n: number): boolean {
  const x = narrowDim(a, a.rank - 1, 0, n);
  const y = narrowDim(b, b.rank - 2, 0, n);
  const ok = fitsBinding([x, y]);
  x.dispose();
  y.dispose();
  return ok;
}

/** out = sum over K chunks of a[..., k0:k1] @ b[..., k0:k1, :] (+ bias once); each chunk's operands fit a binding. */
function matmulSplitK(a: Tensor, b: Tensor, out: Tensor, bias: Tensor | null, variant: MatmulVariant): void {
  const K = a.shape[a.rank - 1]!;
  const chunk = (k0: number, n: number): [Tensor, Tensor] => [narrowDim(a, a.rank - 1, k0, n), narrowDim(b, b.rank - 2, k0, n)];
  if (!kChunksFit(a, b, 1)) throw new Error(`matmul: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)} cannot be split so that each binding fits the adapter's limit`);
  let n = K;
  while (n > 1 && !kChunksFit(a, b, n)) n = Math.ceil(n / 2);
  let acc: Tensor | null = null;
  for (let k0 = 0; k0 < K; k0 += n) {
    const [x, y] = chunk(k0, Math.min(n, K - k0));
    const part = empty(out.shape, out.dtype, out.device);
    matmulGpu(x, y, part, acc ? null : bias, variant);
    x.dispose(); y.dispose();
    if (acc) {
      const sum = add(acc, part);
      acc.dispose(); part.dispose();
      acc = sum;
    } else acc = part;
  }
  copyInto(acc!, out);
  acc!.dispose();
}

/** Output tiles the tiled variant (GPUs) aims for: an H200 has 132 SMs. */
const PARALLEL_K_TARGET_TILES = 256;
/** Shortest reduction per chunk: each chunk's partial output costs a write and a read. */
const PARALLEL_K_MIN_CHUNK = 1024;

/**
 * K chunks run side by side for the tiled variant: a product with few output tiles over a long reduction (a
 * weight gradient over B·tokens rows: 4 tiles of 64x64 for a 128x128 weight) otherwise runs on a few SMs.
 * lavapipe's subgroup variant fills its cores from a handful of workgroups, so it keeps one pass.
 */
function parallelKChunks(out: Tensor, K: number): number {
  const [M, N] = [out.shape[out.rank - 2]!, out.shape[out.rank - 1]!];
  const tiles = Math.ceil(M / TILE) * Math.ceil(N / TILE) * (out.size / (M * N));
  return Math.max(1, Math.min(Math.ceil(PARALLEL_K_TARGET_TILES / tiles), Math.floor(K / PARALLEL_K_MIN_CHUNK)));
}

/**
 * out = sum over C chunks of K: one batched product over views that put the chunk in a new leading batch dim
 * (C, ..., M, K/C) @ (C, ..., K/C, N) into partials (C [+1], ..., M, N), the K % C remainder as one more
 * partial, then a sum over the partials.
 */
function matmulParallelK(a: Tensor, b: Tensor, out: Tensor, C: number, variant: MatmulVariant): void {
  const K = a.shape[a.rank - 1]!;
  const Kc = Math.floor(K / C);
  const rest = K - C * Kc;
  const batch = out.shape.slice(0, -2);
  // Each operand's batch dims right-aligned under the output's (missing ones broadcast: stride 0).
  const chunked = (t: Tensor, kDim: number): Tensor => {
    const lead = batch.length - (t.rank - 2);
    const shape = [C, ...Array<number>(lead).fill(1), ...t.shape.slice(0, -2), ...t.shape.slice(-2)];
    shape[shape.length - 2 + (kDim - (t.rank - 2))] = Kc;
    return t.view(shape, [Kc * t.strides[kDim]!, ...Array<number>(lead).fill(0), ...t.strides], t.offset);
  };
  const slab = out.size;
  const parts = empty([C + (rest ? 1 : 0), ...out.shape], out.dtype, out.device);
  const full = parts.view([C, ...out.shape], parts.strides, 0);
  const [ac, bc] = [chunked(a, a.rank - 1), chunked(b, b.rank - 2)];
  matmulGpu(ac, bc, full, null, variant);
  [ac, bc, full].forEach((t) => t.dispose());
  if (rest) {
    const [ar, br] = [narrowDim(a, a.rank - 1, C * Kc, rest), narrowDim(b, b.rank - 2, C * Kc, rest)];
    const last = parts.view(out.shape, out.strides, C * slab);
    matmulGpu(ar, br, last, null, variant);
    [ar, br, last].forEach((t) => t.dispose());
  }
  reduceInto('sum', parts, [0], false, 1, out);
  parts.dispose();
}

const matmulFn: FunctionDef<null> = {
  name: 'matmul',
  forward: ([a, b]) => matmulKernel(a!, b!),
  setupContext: (ctx, [a, b]) => ctx.saveForBackward(a!, b!),
  backward(ctx, g) {
    const [a, b] = ctx.savedTensors;
    // dA = g @ B^T, dB = A^T @ g; broadcast batch dims are summed back.
    const ga = ctx.needsInputGrad[0] ? sumTo(matmulKernel(g, transpose(b!, -1, -2)), a!.shape) : null;
    const gb = ctx.needsInputGrad[1] ? sumTo(matmulKernel(transpose(a!, -1, -2), g), b!.shape) : null;
    return [ga, gb];
  },
};

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: scalar operand ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  const a2 = a.rank === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.rank === 1 ? unsqueeze(b, -1) : b;
  let out = apply(matmulFn, [a2, b2], null);
  if (a.rank === 1) out = squeeze(out, -2);
  if (b.rank === 1) out = squeeze(out, -1);
  return out;
}

/** y = x W^T + b, with W of shape (out, in) as in torch.nn.Linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.rank !== 2 || x.shape[x.rank - 1] !== weight.shape[1]) {
    throw new Error(`linear: input ${shapeStr(x.shape)} does not match weight ${shapeStr(weight.shape)}`);
  }
  if (!bias) return matmul(x, transpose(weight, 0, 1));
  if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) {
    throw new Error(`linear: bias ${shapeStr(bias.shape)} does not match weight ${shapeStr(weight.shape)}`);
  }
  if (x.rank < 2) return add(matmul(x, transpose(weight, 0, 1)), bias);
  return apply(linearFn, [x, weight, compact(bias)], null);
}

/** y = x W^T + b in one GEMM with the bias in the epilogue; db is the sum of g over all leading dims. */
const linearFn: FunctionDef<null> = {
  name: 'linear',
  forward: ([x, w, b]) => matmulKernel(x!, transpose(w!, 0, 1), undefined, b!),
  setupContext: (ctx, [x, w]) => ctx.saveForBackward(x!, w!),
  backward(ctx, g) {
    const [x, w] = ctx.savedTensors;
    const lead = Array.from({ length: g.rank - 1 }, (_, i) => i);
    const g2 = reshape(g, [-1, g.shape[g.rank - 1]!]);
    return [
      ctx.needsInputGrad[0] ? matmulKernel(g, w!) : null,
      // dW = g^T x over all rows: (N, R) @ (R, K).
      ctx.needsInputGrad[1] ? matmulKernel(transpose(g2, 0, 1), reshape(x!, [-1, x!.shape[x!.rank - 1]!])) : null,
      ctx.needsInputGrad[2] ? reduceKernel('sum', g, lead, false) : null,
    ];
  },
};


