// DropPath over a contiguous (B, ...) tensor: the keep decision of sample b is uniformAt(key, b) from the
// counter-based RNG (so every element of a sample agrees, and the CPU reference draws the same numbers).
// Variant 'add' fuses the residual sum y = r + drop_path(x) that every Swin block does twice, saving one
// dispatch and one full read/write of the activation.
import type { DType } from '../../tensor/dtype.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { WGSL_RANDOM } from '../../tensor/random.ts';
import { Uniforms, WGSL_IDS, dispatch, wgslEnable } from '../common.ts';

const WG = 256;

function source(dtype: DType, withResidual: boolean): string {
  return `${wgslEnable([dtype])}
struct U { B: u32, perSample: u32, key: u32, xOff: u32, rOff: u32, oOff: u32, p: f32, scale: f32, b0: u32, _a: u32, _b: u32, _c: u32 };
@group(1) @binding(0) var<uniform> u: U;
alias T = ${dtype};
@group(0) @binding(1) var<storage, read> X: array<T>;
${withResidual ? '@group(0) @binding(2) var<storage, read> R: array<T>;' : ''}
@group(0) @binding(${withResidual ? 3 : 2}) var<storage, read_write> O: array<T>;
${WGSL_RANDOM}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (element chunks, samples): the sample is the workgroup's y, so no lane divides to find it, and
  // the keep decision is one draw per sample; each lane strides over ~8 elements (fewer workgroups).
  for (var b = wid.y; b < u.B; b += nwg.y) {
    // b0: the first sample of a split piece, so a piece draws what the whole batch would.
    let scale = select(0.0, u.scale, uniformAt(u.key, u.b0 + b) >= u.p);
    for (var e = wid.x * ${WG}u + lid.x; e < u.perSample; e += nwg.x * ${WG}u) {
      let i = b * u.perSample + e;
      let v = f32(X[u.xOff + i]) * scale;
      O[u.oOff + i] = T(${withResidual ? 'f32(R[u.rOff + i]) + v' : 'v'});
    }
  }
}`;
}

/** out = (residual +) drop_path(x); x, residual and out are dense with n elements; b0: out's first sample in the batch. */
export function dropPathWgsl(
  x: Tensor, residual: Tensor | null, out: Tensor, n: number, perSample: number, p: number, key: number, b0 = 0,
): void {
  const B = n / perSample;
  const u = new Uniforms().u32(B).u32(perSample).u32(key).u32(x.offset).u32(residual?.offset ?? 0).u32(out.offset)
    .f32(p).f32(1 / (1 - p)).u32(b0).u32(0).u32(0).u32(0);
  const variant = residual ? 'add' : 'plain';
  const k = `drop_path:${variant}:${x.dtype}`;
  const ts = residual ? [x, residual, out] : [x, out];
  dispatch(k, residual ? ['read', 'read', 'rw'] : ['read', 'rw'], () => source(x.dtype, !!residual), ts, u, [Math.min(Math.ceil(perSample / (WG * 8)), 65535), Math.min(B, 65535), 1], 'dropPath');
}
