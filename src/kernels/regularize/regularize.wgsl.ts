// DropPath over a contiguous (B, ...) tensor: one invocation per element, the keep decision drawn from the
// counter-based RNG at the element's sample index (so every element of a sample agrees, and the CPU
// reference draws the same numbers). Variant 'add' fuses the residual sum y = r + drop_path(x) that every
// Swin block does twice, saving one dispatch and one full read/write of the activation.
import type { DType } from '../../tensor/dtype.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { WGSL_RANDOM } from '../../tensor/random.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d, wgslEnable } from '../common.ts';

const WG = 256;

function source(dtype: DType, withResidual: boolean): string {
  return `${wgslEnable([dtype])}
struct U { n: u32, perSample: u32, key: u32, xOff: u32, rOff: u32, _a: u32, p: f32, scale: f32 };
@group(0) @binding(0) var<uniform> u: U;
alias T = ${dtype};
@group(0) @binding(1) var<storage, read> X: array<T>;
${withResidual ? '@group(0) @binding(2) var<storage, read> R: array<T>;' : ''}
@group(0) @binding(${withResidual ? 3 : 2}) var<storage, read_write> O: array<T>;
${WGSL_RANDOM}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  let keep = uniformAt(u.key, i / u.perSample) >= u.p;
  let v = select(0.0, f32(X[u.xOff + i]) * u.scale, keep);
  O[i] = T(${withResidual ? 'f32(R[u.rOff + i]) + v' : 'v'});
}`;
}

/** out = (residual +) drop_path(x); x, residual and out are contiguous with n elements. */
export function dropPathWgsl(
  x: Tensor, residual: Tensor | null, out: Tensor, n: number, perSample: number, p: number, key: number,
): void {
  const u = new Uniforms().u32(n).u32(perSample).u32(key).u32(x.offset).u32(residual?.offset ?? 0).u32(0)
    .f32(p).f32(1 / (1 - p));
  const variant = residual ? 'add' : 'plain';
  const k = `drop_path:${variant}:${x.dtype}`;
  const ts = residual ? [x, residual, out] : [x, out];
  dispatch(k, residual ? ['read', 'read', 'rw'] : ['read', 'rw'], () => source(x.dtype, !!residual), ts, u, grid1d(n, WG), 'dropPath');
}
