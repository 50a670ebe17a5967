// CPU reference for DropPath (per-sample stochastic depth, timm semantics) and its fused residual form.
// Sample b of a (B, ...) tensor survives when uniformAt(key, b) >= p; survivors are scaled by 1/(1-p).
// The draw is indexed by the sample, never by the element, so the WGSL kernel makes the same decision.
import type { TypedArray } from '../../tensor/dtype.ts';
import { uniformAt } from '../../tensor/random.ts';

/**
 * Whether sample b is kept. p is rounded to f32 first because the shader compares against an f32 uniform:
 * a draw lying between p and fround(p) would otherwise be kept on one device and dropped on the other.
 */
export function dropPathKeep(key: number, b: number, p: number): boolean {
  return uniformAt(key, b) >= Math.fround(p);
}

/** The (B) keep mask as 0/1 (tests and logging). */
export function dropPathMask(key: number, batch: number, p: number): Uint8Array {
  return Uint8Array.from({ length: batch }, (_, b) => +dropPathKeep(key, b, p));
}

/**
 * out[i] = (residual[i] +) x[i] * keep(i / perSample) / (1 - p) over n contiguous elements.
 * x and residual are read from their element offsets; the backward is the same call on the gradient.
 */
export function dropPathCpu(
  x: TypedArray, xOff: number, residual: TypedArray | null, rOff: number, out: TypedArray,
  n: number, perSample: number, p: number, key: number,
): void {
  const scale = 1 / (1 - p);
  for (let s = 0; s * perSample < n; s++) {
    const keep = dropPathKeep(key, s, p);
    const end = Math.min(n, (s + 1) * perSample);
    for (let i = s * perSample; i < end; i++) {
      const v = keep ? x[xOff + i]! * scale : 0;
      out[i] = residual ? residual[rOff + i]! + v : v;
    }
  }
}
