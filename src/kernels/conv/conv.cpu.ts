// CPU references for 2-D convolution on NCHW tensors (contiguous): forward, input gradient and weight gradient
// as direct loops, written independently of the GEMM formulation the WGSL uses, so they check it.
import type { TypedArray } from '../../tensor/dtype.ts';

export interface ConvGeom {
  B: number; Cin: number; H: number; W: number;
  Cout: number; KH: number; KW: number;
  OH: number; OW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  groups: number;
}

export function convOutSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** y[b, co, oh, ow] = bias[co] + sum_{ci in group, kh, kw} w[co, ci, kh, kw] * x[b, ci, oh*s - p + kh*d, ...] */
export function convForwardCpu(x: TypedArray, w: TypedArray, bias: TypedArray | null, g: ConvGeom, y: TypedArray): void {
  const cinG = g.Cin / g.groups;
  const coutG = g.Cout / g.groups;
  for (let b = 0; b < g.B; b++) {
    for (let co = 0; co < g.Cout; co++) {
      const gi = Math.floor(co / coutG);
      for (let oh = 0; oh < g.OH; oh++) {
        for (let ow = 0; ow < g.OW; ow++) {
          let acc = bias ? bias[co]! : 0;
          for (let c = 0; c < cinG; c++) {
            const ci = gi * cinG + c;
            for (let kh = 0; kh < g.KH; kh++) {
              const ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (let kw = 0; kw < g.KW; kw++) {
                const iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                acc += w[((co * cinG + c) * g.KH + kh) * g.KW + kw]! * x[((b * g.Cin + ci) * g.H + ih) * g.W + iw]!;
              }
            }
          }
          y[((b * g.Cout + co) * g.OH + oh) * g.OW + ow] = acc;
        }
      }
    }
  }
}

/** dx by scattering every output gradient back through the window that produced it. */
export function convInputGradCpu(dy: TypedArray, w: TypedArray, g: ConvGeom, dx: TypedArray): void {
  const cinG = g.Cin / g.groups;
  const coutG = g.Cout / g.groups;
  const acc = new Float64Array(dx.length);
  for (let b = 0; b < g.B; b++) {
    for (let co = 0; co < g.Cout; co++) {
      const gi = Math.floor(co / coutG);
      for (let oh = 0; oh < g.OH; oh++) {
        for (let ow = 0; ow < g.OW; ow++) {
          const gy = dy[((b * g.Cout + co) * g.OH + oh) * g.OW + ow]!;
          for (let c = 0; c < cinG; c++) {
            for (let kh = 0; kh < g.KH; kh++) {
              const ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (let kw = 0; kw < g.KW; kw++) {
                const iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                acc[((b * g.Cin + gi * cinG + c) * g.H + ih) * g.W + iw]! += gy * w[((co * cinG + c) * g.KH + kh) * g.KW + kw]!;
              }
            }
          }
        }
      }
    }
  }
  dx.set(acc);
}

export function convWeightGradCpu(dy: TypedArray, x: TypedArray, g: ConvGeom, dw: TypedArray): void {
  const cinG = g.Cin / g.groups;
  const coutG = g.Cout / g.groups;
  for (let co = 0; co < g.Cout; co++) {
    const gi = Math.floor(co / coutG);
    for (let c = 0; c < cinG; c++) {
      for (let kh = 0; kh < g.KH; kh++) {
        for (let kw = 0; kw < g.KW; kw++) {
          let acc = 0;
          for (let b = 0; b < g.B; b++) {
            for (let oh = 0; oh < g.OH; oh++) {
              const ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (let ow = 0; ow < g.OW; ow++) {
                const iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                acc += dy[((b * g.Cout + co) * g.OH + oh) * g.OW + ow]! * x[((b * g.Cin + gi * cinG + c) * g.H + ih) * g.W + iw]!;
              }
            }
          }
          dw[((co * cinG + c) * g.KH + kh) * g.KW + kw] = acc;
        }
      }
    }
  }
}
