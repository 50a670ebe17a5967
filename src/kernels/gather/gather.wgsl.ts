// Row gather and its deterministic scatter-add. The scatter gives each invocation one column and walks the
// indices in order: no float atomics (WGSL has none), no order-dependent rounding, and plenty of
// parallelism for the shapes here (d = 768 BERT columns, or heads x a 20,736-entry Swin bias index).
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d } from '../common.ts';

const WG = 64;

const HEADER = `
struct U { n: u32, d: u32, rows: u32, wOff: u32, iOff: u32, _a: u32, _b: u32, _c: u32 };
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;`;

const GATHER = `${HEADER}
@group(0) @binding(1) var<storage, read> W: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let t = ${WGSL_LINEAR_ID(WG)};
  if (t >= u.n * u.d) { return; }
  let i = t / u.d;
  let j = t % u.d;
  // Out-of-range ids read row 0 rather than out of bounds; the CPU path reports them as errors.
  let r = u32(clamp(I[u.iOff + i], 0, i32(u.rows) - 1));
  O[t] = W[u.wOff + r * u.d + j];
}`;

const SCATTER = `${HEADER}
@group(0) @binding(1) var<storage, read> G: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let j = ${WGSL_LINEAR_ID(WG)};
  if (j >= u.d) { return; }
  for (var i = 0u; i < u.n; i++) {
    let r = u32(clamp(I[u.iOff + i], 0, i32(u.rows) - 1));
    O[r * u.d + j] += G[i * u.d + j];
  }
}`;

export function gatherRowsWgsl(w: Tensor, idx: Tensor, out: Tensor, n: number, d: number, rows: number): void {
  const u = new Uniforms().u32(n).u32(d).u32(rows).u32(w.offset).u32(idx.offset).u32(0).u32(0).u32(0);
  dispatch('gather_rows', ['read', 'read', 'rw'], () => GATHER, [w, idx, out], u, grid1d(n * d, WG), 'embedding');
}

export function scatterAddRowsWgsl(g: Tensor, idx: Tensor, out: Tensor, n: number, d: number, rows: number): void {
  const u = new Uniforms().u32(n).u32(d).u32(rows).u32(0).u32(idx.offset).u32(0).u32(0).u32(0);
  dispatch('scatter_add_rows', ['read', 'read', 'rw'], () => SCATTER, [g, idx, out], u, grid1d(d, WG), 'embedding_backward');
}
