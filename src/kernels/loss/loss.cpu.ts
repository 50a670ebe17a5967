// CPU reference for FIANet's segmentation loss (FIANET.md §9) on logits z (B, C, H, W) and labels y (B, H, W):
//   CE   = Σ_p w[y_p]·(−log softmax(z_p)[y_p]) / Σ_p w[y_p]             (PyTorch's weighted mean, all B·H·W pixels)
//   D_bk = 1 − (2·Σ_p P·Y + eps) / (Σ_p P + Σ_p Y + eps), P = softmax over C, Y = one-hot(y), every class k
//   loss = ceCoef·CE + diceCoef·Σ_{b,k} D_bk                            (FIANet: 0.9 and 0.1)
// The forward fills a stats vector that the backward reuses (see STATS below); sums are in double precision.
import type { TypedArray } from '../../tensor/dtype.ts';

/** Layout of the stats vector: [total, CE, ΣD, Σ_p w[y_p], then per (b, k): I = ΣP·Y, S = ΣP + ΣY]. */
export const STATS_HEAD = 4;
export const statsLength = (B: number, C: number) => STATS_HEAD + 2 * B * C;

export interface SegLossParams {
  B: number;
  C: number;
  HW: number;
  weight: readonly number[]; // (C) class weights of the CE term
  ceCoef: number;
  diceCoef: number;
  eps: number;
}

function label(y: TypedArray, i: number, C: number): number {
  const v = y[i]!;
  if (!(v >= 0 && v < C) || !Number.isInteger(v)) throw new Error(`segLoss: label ${v} at pixel ${i} is outside [0, ${C})`);
  return v;
}

/** Softmax of pixel (b, p) over the C channels of contiguous z into P. */
function pixelSoftmax(z: TypedArray, zOff: number, b: number, p: number, C: number, HW: number, P: Float64Array): void {
  let mx = -Infinity;
  for (let k = 0; k < C; k++) mx = Math.max(mx, z[zOff + (b * C + k) * HW + p]!);
  let s = 0;
  for (let k = 0; k < C; k++) s += (P[k] = Math.exp(z[zOff + (b * C + k) * HW + p]! - mx));
  for (let k = 0; k < C; k++) P[k]! /= s;
}

export function segLossForwardCpu(z: TypedArray, zOff: number, y: TypedArray, yOff: number, q: SegLossParams, stats: TypedArray): void {
  const { B, C, HW, weight, eps } = q;
  const P = new Float64Array(C);
  let ceNum = 0;
  let ceDen = 0;
  let dice = 0;
  for (let b = 0; b < B; b++) {
    const I = new Float64Array(C);
    const sP = new Float64Array(C);
    const sY = new Float64Array(C);
    for (let p = 0; p < HW; p++) {
      pixelSoftmax(z, zOff, b, p, C, HW, P);
      const t = label(y, yOff + b * HW + p, C);
      ceNum -= weight[t]! * Math.log(P[t]!);
      ceDen += weight[t]!;
      for (let k = 0; k < C; k++) sP[k]! += P[k]!;
      I[t]! += P[t]!;
      sY[t]!++;
    }
    for (let k = 0; k < C; k++) {
      const S = sP[k]! + sY[k]!;
      dice += 1 - (2 * I[k]! + eps) / (S + eps);
      stats[STATS_HEAD + 2 * (b * C + k)] = I[k]!;
      stats[STATS_HEAD + 2 * (b * C + k) + 1] = S;
    }
  }
  const ce = ceNum / ceDen;
  stats[0] = q.ceCoef * ce + q.diceCoef * dice;
  stats[1] = ce;
  stats[2] = dice;
  stats[3] = ceDen;
}

/**
 * dz (B, C, H, W) = g · [ceCoef·w[y]·(P − Y)/Σw + diceCoef·P ⊙ (a − Σ_j P_j a_j)], where
 * a_k = ∂D_bk/∂P_k = −2·Y_k/(S + eps) + (2I + eps)/(S + eps)² comes from the forward's per-(b, k) sums.
 */
export function segLossBackwardCpu(
  z: TypedArray, zOff: number, y: TypedArray, yOff: number, stats: TypedArray, g: number, q: SegLossParams, dz: TypedArray,
): void {
  const { B, C, HW, weight, eps } = q;
  const P = new Float64Array(C);
  const a = new Float64Array(C);
  const W = stats[3]!;
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < HW; p++) {
      pixelSoftmax(z, zOff, b, p, C, HW, P);
      const t = label(y, yOff + b * HW + p, C);
      let dot = 0;
      for (let k = 0; k < C; k++) {
        const I = stats[STATS_HEAD + 2 * (b * C + k)]!;
        const S = stats[STATS_HEAD + 2 * (b * C + k) + 1]! + eps;
        a[k] = (k === t ? -2 / S : 0) + (2 * I + eps) / (S * S);
        dot += P[k]! * a[k]!;
      }
      const ceScale = (q.ceCoef * weight[t]!) / W;
      for (let k = 0; k < C; k++) {
        const Y = k === t ? 1 : 0;
        dz[(b * C + k) * HW + p] = g * (ceScale * (P[k]! - Y) + q.diceCoef * P[k]! * (a[k]! - dot));
      }
    }
  }
}
