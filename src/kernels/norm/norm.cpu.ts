// CPU references for the normalization family. LayerNorm, BatchNorm2d and InstanceNorm-over-tokens are one
// computation: normalize each "group" of elements by its own mean and (biased) variance, then optionally apply
// a per-element affine. Only the group layout differs, so one layout record describes all three:
//   group g = g1 * g0Count + g0, base(g) = g1 * s1 + g0 * s0, element (o, i) at base + o * sO + i * sI.
//   LayerNorm  x (rows, C):     groups = rows, g0Count = rows, s0 = C, nO = 1,     nI = C, sI = 1   (affine per i)
//   BatchNorm  x (N, C, H, W):  groups = C,    g0Count = C,    s0 = HW, nO = N, sO = C*HW, nI = HW, sI = 1 (per g)
//   InstanceNorm x (B, N, C):   groups = B*C,  g0Count = C,    s0 = 1, s1 = N*C, nO = 1, nI = N, sI = C (none)
// The WGSL kernels (norm.wgsl.ts) follow the same layout. These references work on any TypedArray (f64 too).
import type { TypedArray } from '../../tensor/dtype.ts';

export interface GroupLayout {
  groups: number;
  g0Count: number;
  s0: number;
  s1: number;
  nO: number;
  sO: number;
  nI: number;
  sI: number;
}

/** 'inner': weight/bias indexed by i (LayerNorm); 'group': by group (BatchNorm channel); 'none': no affine. */
export type Affine = 'none' | 'inner' | 'group';
/** 'batch': statistics of the input; 'update': batch statistics and a running-statistics update; 'running': use them. */
export type StatsMode = 'batch' | 'update' | 'running';

export interface RunningStats {
  mean: TypedArray;
  var: TypedArray;
  /** num_batches_tracked, one element (i32), incremented by an update; may be null. */
  nbt: TypedArray | null;
  momentum: number;
}

export function groupBase(L: GroupLayout, g: number): number {
  return Math.floor(g / L.g0Count) * L.s1 + (g % L.g0Count) * L.s0;
}

function forEachElem(L: GroupLayout, g: number, fn: (addr: number, i: number) => void): void {
  const base = groupBase(L, g);
  for (let o = 0; o < L.nO; o++) for (let i = 0; i < L.nI; i++) fn(base + o * L.sO + i * L.sI, i);
}

/**
 * Forward: y = (x - mean) * rstd (* w + b); writes stats (2, groups): stats[g] = mean, stats[groups + g] = rstd.
 * mode 'update' also sets running = (1 - momentum) * running + momentum * batch, with the unbiased variance for
 * running_var (as PyTorch), and increments num_batches_tracked.
 */
export function normForwardCpu(
  x: TypedArray, y: TypedArray, stats: TypedArray, L: GroupLayout, affine: Affine,
  w: TypedArray | null, b: TypedArray | null, eps: number, mode: StatsMode, running: RunningStats | null,
): void {
  const count = L.nO * L.nI;
  for (let g = 0; g < L.groups; g++) {
    let mean: number;
    let rstd: number;
    if (mode === 'running') {
      mean = running!.mean[g]!;
      rstd = 1 / Math.sqrt(running!.var[g]! + eps);
    } else {
      let s = 0;
      forEachElem(L, g, (a) => { s += x[a]!; });
      mean = s / count;
      let ss = 0;
      forEachElem(L, g, (a) => { ss += (x[a]! - mean) ** 2; });
      const v = ss / count;
      rstd = 1 / Math.sqrt(v + eps);
      if (mode === 'update') {
        const m = running!.momentum;
        running!.mean[g] = (1 - m) * running!.mean[g]! + m * mean;
        running!.var[g] = (1 - m) * running!.var[g]! + m * v * (count / (count - 1));
      }
    }
    stats[g] = mean;
    stats[L.groups + g] = rstd;
    forEachElem(L, g, (a, i) => {
      const xh = (x[a]! - mean) * rstd;
      y[a] = affine === 'none' ? xh : affine === 'inner' ? xh * w![i]! + b![i]! : xh * w![g]! + b![g]!;
    });
  }
  if (mode === 'update' && running!.nbt) running!.nbt[0]! += 1;
}

/**
 * Backward of the input. With batch statistics (mode !== 'running') the full gradient through mean and variance:
 *   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),  gw = g * w;
 * with running statistics (eval) the statistics are constants: dx = rstd * gw.
 * 'group' affine also writes dw[g] = sum(g * xhat), db[g] = sum(g) (the group already walks those elements).
 */
export function normBackwardCpu(
  g: TypedArray, x: TypedArray, stats: TypedArray, L: GroupLayout, affine: Affine, w: TypedArray | null,
  mode: StatsMode, dx: TypedArray, dw: TypedArray | null, db: TypedArray | null,
): void {
  const count = L.nO * L.nI;
  for (let k = 0; k < L.groups; k++) {
    const mean = stats[k]!;
    const rstd = stats[L.groups + k]!;
    const wOf = (i: number) => (affine === 'none' ? 1 : affine === 'inner' ? w![i]! : w![k]!);
    let sg = 0;
    let sgx = 0;
    let sgw = 0;
    let sgwx = 0;
    forEachElem(L, k, (a, i) => {
      const xh = (x[a]! - mean) * rstd;
      const gw = g[a]! * wOf(i);
      sg += g[a]!;
      sgx += g[a]! * xh;
      sgw += gw;
      sgwx += gw * xh;
    });
    if (affine === 'group') {
      if (dw) dw[k] = sgx;
      if (db) db[k] = sg;
    }
    forEachElem(L, k, (a, i) => {
      const gw = g[a]! * wOf(i);
      dx[a] = mode === 'running' ? rstd * gw : rstd * (gw - sgw / count - ((x[a]! - mean) * rstd * sgwx) / count);
    });
  }
}

/** LayerNorm parameter gradients (column sums over rows): dw[i] = sum_r g * xhat, db[i] = sum_r g; x, g (rows, C). */
export function layerNormParamGradCpu(
  g: TypedArray, x: TypedArray, stats: TypedArray, rows: number, C: number, dw: TypedArray | null, db: TypedArray | null,
): void {
  for (let i = 0; i < C; i++) {
    let sw = 0;
    let sb = 0;
    for (let r = 0; r < rows; r++) {
      const a = r * C + i;
      sw += g[a]! * (x[a]! - stats[r]!) * stats[rows + r]!;
      sb += g[a]!;
    }
    if (dw) dw[i] = sw;
    if (db) db[i] = sb;
  }
}
