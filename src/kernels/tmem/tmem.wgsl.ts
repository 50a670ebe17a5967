// TMEM's fused kernels (FIANET.md §7.1; references in tmem.cpu.ts).
// Pyramid pooling: ONE dispatch pools up to four strided stage maps (B, C_i, H_i, W_i) to the coarse grid
// (oh, ow) and writes them channel-concatenated (B, ΣC_i, oh, ow); the WGSL text has one pool function per
// input binding (generated from one template), and the uniforms carry each input's dims, strides, element
// offset and channel offset. Its backward is gather-form (each input pixel sums g/area over the cells that
// contain it: no atomics, deterministic), one dispatch per input map.
// Gate: y = local ⊙ up(hsigmoid(actPre)) + up(global), bilinear align_corners = False, in ONE dispatch; its
// backward is two: fine column strips write dLocal = g ⊙ act and reduce (g, g ⊙ local) vertically onto the
// coarse rows, coarse column strips finish dGlobal and dActPre horizontally (gather form: deterministic, no
// atomics, every input read once and contiguously).
// Launch layout: column strips. Workgroups are 1-D along x, the grid is (x chunks, 1, planes), and each
// lane walks down its column: per-column work happens once, loads and stores of a row are contiguous across
// lanes, and no lane divides by a shape. (llvmpipe scalarises u32 division, ≈4 ns a lane, and pays for
// f32 -> u32 conversions: cell bounds use a float quotient, exact below FDIV_LIMIT, and bilinear weights
// are tent functions in floats.)
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, dispatch } from '../common.ts';

const WG = 64;
/** Pooled rows are short (15 at 480²): narrower workgroups for the pooling forward's column strips. */
const WG_POOL = 16;
const MAX_GRID = 65535;
/** Inputs per pooling forward dispatch (storage bindings: 4 inputs + output). */
export const POOL_GROUP = 4;
/** Every operand of fdivr (shape products like H·oh) must stay below this for the quotient to be exact. */
export const FDIV_LIMIT = 1 << 22;

const INDEX_MATH = `
// floor(a / b) from rb = 1/b for a < 2^22: (a + 0.5)/b sits at least 0.5/b from an integer, and the f32
// product errs by less than that.
fn fdivr(a: u32, rb: f32) -> u32 { return u32((f32(a) + 0.5) * rb); }`;

export interface PoolInput { t: Tensor; C: number; H: number; W: number; c0: number }

const grid3 = (x: number, y: number, z: number): [number, number, number] => [Math.max(1, x), Math.max(1, y), Math.max(1, Math.min(z, MAX_GRID))];

const POOL_HEAD = `
// Per input: dims (C, H, W, first output channel), strides (b, c, h, w), off (element offset, then as f32
// bits 1/H and 1/W, or 1/kh and 1/kw with off.w = 1 when H = kh·oh and W = kw·ow; the uniform slot has
// room for three vec4 per input).
struct In { dims: vec4<u32>, str: vec4<u32>, off: vec4<u32> };
struct U { B: u32, Ctot: u32, oh: u32, ow: u32, cBase: u32, Cg: u32, gOff: u32, _a: u32,
  roh: f32, row: f32, _b: f32, _c: f32, ins: array<In, ${POOL_GROUP}> };
@group(1) @binding(0) var<uniform> u: U;
${INDEX_MATH}`;

// One branch per input: the channel selects the binding (WGSL cannot index bindings); it is uniform per workgroup.
const chain = (k: number, cond: (i: number) => string, body: (i: number) => string) =>
  Array.from({ length: k }, (_, i) => `${i ? ' else ' : ''}${i < k - 1 ? `if (${cond(i)}) ` : ''}{ ${body(i)} }`).join('');

// Column strips: a lane owns one column of one channel and walks down its rows (and the batch), so column
// bounds are computed once per lane and a workgroup does a whole plane's worth of work, not one row.
function poolSource(k: number): string {
  const fns = Array.from({ length: k }, (_, i) => `
@group(0) @binding(${i + 1}) var<storage, read> X${i}: array<f32>;
fn pool${i}(c: u32, ox: u32) {
  let d = u.ins[${i}];
  // PyTorch's cell: rows floor(oy·H/oh) .. ceil((oy+1)·H/oh), the same for columns.
  let x0 = fdivr(ox * d.dims.z, u.row);
  let x1 = fdivr((ox + 1u) * d.dims.z + u.ow - 1u, u.row);
  for (var oy = 0u; oy < u.oh; oy++) {
    let y0 = fdivr(oy * d.dims.y, u.roh);
    let y1 = fdivr((oy + 1u) * d.dims.y + u.oh - 1u, u.roh);
    let inv = 1.0 / f32((y1 - y0) * (x1 - x0));
    for (var b = 0u; b < u.B; b++) {
      let base = d.off.x + b * d.str.x + c * d.str.y;
      var s = 0.0;
      for (var y = y0; y < y1; y++) {
        let row = base + y * d.str.z;
        for (var x = x0; x < x1; x++) { s += X${i}[row + x * d.str.w]; }
      }
      O[((b * u.Ctot + d.dims.w + c) * u.oh + oy) * u.ow + ox] = s * inv;
    }
  }
}`).join('');
  return `${POOL_HEAD}${fns}
@group(0) @binding(${k + 1}) var<storage, read_write> O: array<f32>;
@compute @workgroup_size(${WG_POOL})
fn main(${WGSL_IDS}) {
  // Grid (ow chunks, 1, channels of the group).
  let ox = wid.x * ${WG_POOL}u + lid.x;
  if (ox >= u.ow) { return; }
  for (var cl = wid.z; cl < u.Cg; cl += nwg.z) {
    let c = u.cBase + cl;
    ${chain(k, (j) => `c < u.ins[${j}].dims.w + u.ins[${j}].dims.x`, (j) => `pool${j}(c - u.ins[${j}].dims.w, ox);`)}
  }
}`;
}

function poolBackwardSource(): string {
  return `${POOL_HEAD}
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> DX: array<f32>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (W chunks, 1, C) of the one input in slot 0, in column strips; dx is contiguous (B, C, H, W).
  let d = u.ins[0];
  let H = d.dims.y;
  let W = d.dims.z;
  let ix = wid.x * ${WG}u + lid.x;
  if (ix >= W) { return; }
  if (d.off.w != 0u) {
    // Exact factors kh = H/oh, kw = W/ow (TMEM at 480²: 8, 4, 2, 1): one cell per pixel, no loops.
    // off.y, off.z hold 1/kh and 1/kw here.
    let rkh = bitcast<f32>(d.off.y);
    let rkw = bitcast<f32>(d.off.z);
    let ox = fdivr(ix, rkw);
    let invArea = rkh * rkw;
    for (var c = wid.z; c < d.dims.x; c += nwg.z) {
      for (var b = 0u; b < u.B; b++) {
        let gb = u.gOff + (b * u.Ctot + d.dims.w + c) * u.oh * u.ow + ox;
        let xb = (b * d.dims.x + c) * H * W + ix;
        for (var iy = 0u; iy < H; iy++) { DX[xb + iy * W] = G[gb + fdivr(iy, rkh) * u.ow] * invArea; }
      }
    }
    return;
  }
  // Cells containing row iy: floor(iy·oh/H) <= oy <= ceil((iy+1)·oh/H) - 1 (the same for columns).
  let rH = bitcast<f32>(d.off.y);
  let rW = bitcast<f32>(d.off.z);
  let ox0 = fdivr(ix * u.ow, rW);
  let ox1 = fdivr((ix + 1u) * u.ow + W - 1u, rW);
  for (var c = wid.z; c < d.dims.x; c += nwg.z) {
    for (var b = 0u; b < u.B; b++) {
      let gb = u.gOff + (b * u.Ctot + d.dims.w + c) * u.oh * u.ow;
      for (var iy = 0u; iy < H; iy++) {
        let oy0 = fdivr(iy * u.oh, rH);
        let oy1 = fdivr((iy + 1u) * u.oh + H - 1u, rH);
        var s = 0.0;
        for (var oy = oy0; oy < oy1; oy++) {
          let ch = fdivr((oy + 1u) * H + u.oh - 1u, u.roh) - fdivr(oy * H, u.roh);
          for (var ox = ox0; ox < ox1; ox++) {
            let cw = fdivr((ox + 1u) * W + u.ow - 1u, u.row) - fdivr(ox * W, u.row);
            s += G[gb + oy * u.ow + ox] / f32(ch * cw);
          }
        }
        DX[((b * d.dims.x + c) * H + iy) * W + ix] = s;
      }
    }
  }
}`;
}

function poolUniforms(B: number, Ctot: number, oh: number, ow: number, group: PoolInput[], gOff: number): Uniforms {
  const u = new Uniforms().u32(B).u32(Ctot).u32(oh).u32(ow).u32(group[0]!.c0).u32(group.reduce((s, x) => s + x.C, 0)).u32(gOff).u32(0)
    .f32(1 / oh).f32(1 / ow).f32(0).f32(0);
  for (let k = 0; k < POOL_GROUP; k++) {
    const x = group[k];
    const st = x ? x.t.strides : [0, 0, 0, 0];
    u.u32(x?.C ?? 0).u32(x?.H ?? 1).u32(x?.W ?? 1).u32(x?.c0 ?? 0);
    u.u32(st[0]!).u32(st[1]!).u32(st[2]!).u32(st[3]!);
    const exact = x !== undefined && x.H % oh === 0 && x.W % ow === 0;
    const [rh, rw] = exact ? [oh / x.H, ow / x.W] : [1 / (x?.H ?? 1), 1 / (x?.W ?? 1)];
    u.u32(x?.t.offset ?? 0).f32(rh).f32(rw).u32(exact ? 1 : 0);
  }
  return u;
}

/** Pools a group of ≤ 4 inputs into their channel range of out (B, Ctot, oh, ow). */
export function poolConcatWgsl(group: PoolInput[], B: number, Ctot: number, oh: number, ow: number, out: Tensor): void {
  const k = group.length;
  const Cg = group.reduce((s, x) => s + x.C, 0);
  const u = poolUniforms(B, Ctot, oh, ow, group, 0);
  dispatch(`tmem_pool:${k}`, [...group.map(() => 'read' as const), 'rw'], () => poolSource(k), [...group.map((x) => x.t), out], u,
    grid3(Math.ceil(ow / WG_POOL), 1, Cg), 'pyramidPoolConcat');
}

/** The gradient dx (contiguous, shaped like input.t) of one input from g (B, Ctot, oh, ow) contiguous. */
export function poolConcatBackwardWgsl(g: Tensor, input: PoolInput, dx: Tensor, B: number, Ctot: number, oh: number, ow: number): void {
  const u = poolUniforms(B, Ctot, oh, ow, [{ ...input, t: dx }], g.offset);
  dispatch('tmem_pool_bwd', ['read', 'rw'], poolBackwardSource, [g, dx], u, grid3(Math.ceil(input.W / WG), 1, input.C), 'pyramidPoolConcat.backward');
}

// ---- gate ------------------------------------------------------------------------------------------------
const GATE_HEAD = `
struct U { P: u32, H: u32, W: u32, h: u32, w: u32, lOff: u32, gOff: u32, aOff: u32,
  grOff: u32, _a: u32, sy: f32, sx: f32 };
@group(1) @binding(0) var<uniform> u: U;
// PyTorch's area_pixel_compute_source_index for align_corners = False (half-pixel centres, clamped at 0),
// also clamped at n - 1 where both taps fall on the last index: the sample point in coarse coordinates.
fn src(o: u32, n: u32, s: f32) -> f32 { return min(max((f32(o) + 0.5) * s - 0.5, 0.0), f32(n - 1u)); }
struct Tap { i0: u32, i1: u32, l: f32 };
fn tap(o: u32, n: u32, s: f32) -> Tap {
  let v = src(o, n, s);
  let i0 = u32(v);
  return Tap(i0, min(i0 + 1u, n - 1u), v - f32(i0));
}
fn hsig(a: f32) -> f32 { return clamp(a + 3.0, 0.0, 6.0) / 6.0; }`;

// Column strips: a lane owns one column x of one plane and walks down its H rows. The horizontal taps are
// fixed per lane and the vertical ones change only every H/h rows, so the lane interpolates the coarse
// values along x once per coarse row and keeps the two rows it needs in registers: per fine pixel it
// reads local and writes y (contiguous across lanes) instead of gathering 8 coarse values.
const strip = (withGlobal: boolean) => `
// Coarse values of the plane at rows (i0, i1), interpolated along x with the lane's taps.
struct Rows { a0: f32, a1: f32, g0: f32, g1: f32 };
fn rowsAt(aBase: u32, gBase: u32, ty: Tap, tx: Tap) -> Rows {
  var r: Rows;
  let r0 = ty.i0 * u.w;
  let r1 = ty.i1 * u.w;
  r.a0 = (1.0 - tx.l) * hsig(A[aBase + r0 + tx.i0]) + tx.l * hsig(A[aBase + r0 + tx.i1]);
  r.a1 = (1.0 - tx.l) * hsig(A[aBase + r1 + tx.i0]) + tx.l * hsig(A[aBase + r1 + tx.i1]);${withGlobal ? `
  r.g0 = (1.0 - tx.l) * Gl[gBase + r0 + tx.i0] + tx.l * Gl[gBase + r0 + tx.i1];
  r.g1 = (1.0 - tx.l) * Gl[gBase + r1 + tx.i0] + tx.l * Gl[gBase + r1 + tx.i1];` : ''}
  return r;
}`;

function gateSource(): string {
  return `${GATE_HEAD}
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> Gl: array<f32>;
@group(0) @binding(3) var<storage, read> A: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
${strip(true)}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (W chunks, 1, planes).
  let x = wid.x * ${WG}u + lid.x;
  if (x >= u.W) { return; }
  let tx = tap(x, u.w, u.sx);
  for (var p = wid.z; p < u.P; p += nwg.z) {
    let aBase = u.aOff + p * u.h * u.w;
    let gBase = u.gOff + p * u.h * u.w;
    var cur = 0xffffffffu;
    var r: Rows;
    for (var y = 0u; y < u.H; y++) {
      let ty = tap(y, u.h, u.sy);
      if (ty.i0 != cur) {
        cur = ty.i0;
        r = rowsAt(aBase, gBase, ty, tx);
      }
      let i = (p * u.H + y) * u.W + x;
      O[i] = L[u.lOff + i] * mix(r.a0, r.a1, ty.l) + mix(r.g0, r.g1, ty.l);
    }
  }
}`;
}

// The backward in two column-strip passes, both reading contiguously:
//  1. fine strips (lanes = fine columns x): dLocal = g ⊙ act, and the vertical half of the transposed
//     interpolation, V[r][x] = Σ_y wy(y, r)·(g, g ⊙ local)[y][x] for coarse rows r (P, h, W): rows complete
//     in order down the column (the first tap never decreases), so two accumulators roll down it;
//  2. coarse strips (lanes = coarse columns): the horizontal half, Σ_x tent(x, c)·V[r][x], gives dGlobal and,
//     through the h-sigmoid's slope, dActPre.
function gateBackwardFineSource(): string {
  return `${GATE_HEAD}
@group(0) @binding(1) var<storage, read> Gr: array<f32>;
@group(0) @binding(2) var<storage, read> L: array<f32>;
@group(0) @binding(3) var<storage, read> A: array<f32>;
@group(0) @binding(4) var<storage, read_write> DL: array<f32>;
@group(0) @binding(5) var<storage, read_write> V: array<vec2<f32>>;
${strip(false)}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (W chunks, 1, planes).
  let x = wid.x * ${WG}u + lid.x;
  if (x >= u.W) { return; }
  let tx = tap(x, u.w, u.sx);
  for (var p = wid.z; p < u.P; p += nwg.z) {
    let aBase = u.aOff + p * u.h * u.w;
    let vBase = p * u.h * u.W + x;
    var rows = 0xffffffffu;
    var r: Rows;
    var cur = 0u;
    var acc0 = vec2<f32>(0.0);
    var acc1 = vec2<f32>(0.0);
    for (var y = 0u; y < u.H; y++) {
      let ty = tap(y, u.h, u.sy);
      if (ty.i0 != rows) {
        rows = ty.i0;
        r = rowsAt(aBase, 0u, ty, tx);
      }
      let i = (p * u.H + y) * u.W + x;
      let g = Gr[u.grOff + i];
      DL[i] = g * mix(r.a0, r.a1, ty.l);
      // Coarse rows before ty.i0 are complete (rows a downsampling skips get zeros).
      while (cur < ty.i0) {
        V[vBase + cur * u.W] = acc0;
        acc0 = acc1;
        acc1 = vec2<f32>(0.0);
        cur++;
      }
      let hs = vec2<f32>(g, g * L[u.lOff + i]);
      acc0 += (1.0 - ty.l) * hs;
      if (ty.i1 == ty.i0) { acc0 += ty.l * hs; } else { acc1 += ty.l * hs; }
    }
    while (cur < u.h) {
      V[vBase + cur * u.W] = acc0;
      acc0 = acc1;
      acc1 = vec2<f32>(0.0);
      cur++;
    }
  }
}`;
}

function gateBackwardCoarseSource(): string {
  return `${GATE_HEAD}
@group(0) @binding(1) var<storage, read> V: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read_write> DG: array<f32>;
@group(0) @binding(4) var<storage, read_write> DA: array<f32>;
// The bilinear weight of coarse index c at fine index o is the tent max(0, 1 - |src(o) - c|).
fn tent(o: u32, c: u32, n: u32, s: f32) -> f32 { return max(0.0, 1.0 - abs(src(o, n, s) - f32(c))); }
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  // Grid (w chunks, 1, planes): lanes are coarse columns c, walking down the h coarse rows.
  let c = wid.x * ${WG}u + lid.x;
  if (c >= u.w) { return; }
  // Fine columns whose sample point lies within one of c, widened by one for rounding.
  let lo = u32(clamp(i32(floor((f32(c) - 0.5) / u.sx - 0.5)) - 1, 0, i32(u.W) - 1));
  let hi = u32(clamp(i32(ceil((f32(c) + 1.5) / u.sx - 0.5)) + 1, 0, i32(u.W) - 1));
  for (var p = wid.z; p < u.P; p += nwg.z) {
    for (var r = 0u; r < u.h; r++) {
      let vRow = (p * u.h + r) * u.W;
      var s = vec2<f32>(0.0);
      for (var x = lo; x <= hi; x++) { s += tent(x, c, u.w, u.sx) * V[vRow + x]; }
      let j = (p * u.h + r) * u.w + c;
      DG[j] = s.x;
      let a = A[u.aOff + j];
      DA[j] = select(0.0, s.y / 6.0, a > -3.0 && a < 3.0);
    }
  }
}`;
}

export interface GateShape { P: number; H: number; W: number; h: number; w: number }

function gateUniforms(d: GateShape, lOff: number, gOff: number, aOff: number, grOff: number): Uniforms {
  return new Uniforms().u32(d.P).u32(d.H).u32(d.W).u32(d.h).u32(d.w).u32(lOff).u32(gOff).u32(aOff)
    .u32(grOff).u32(0).f32(d.h / d.H).f32(d.w / d.W);
}

/** y (P, H, W) from contiguous local (P, H, W), glob and act (P, h, w). */
export function gateWgsl(local: Tensor, glob: Tensor, act: Tensor, d: GateShape, out: Tensor): void {
  const u = gateUniforms(d, local.offset, glob.offset, act.offset, 0);
  dispatch('tmem_gate', ['read', 'read', 'read', 'rw'], gateSource, [local, glob, act, out], u, grid3(Math.ceil(d.W / WG), 1, d.P), 'tmemGate');
}

/**
 * dLocal (P, H, W), dGlob and dAct (P, h, w) from contiguous g (P, H, W), local and act; v is scratch of
 * P·h·W·2 floats (the vertically reduced (g, g ⊙ local)).
 */
export function gateBackwardWgsl(g: Tensor, local: Tensor, act: Tensor, d: GateShape, dLocal: Tensor, dGlob: Tensor, dAct: Tensor, v: Tensor): void {
  const u = gateUniforms(d, local.offset, 0, act.offset, g.offset);
  dispatch('tmem_gate_bwd_fine', ['read', 'read', 'read', 'rw', 'rw'], gateBackwardFineSource, [g, local, act, dLocal, v], u,
    grid3(Math.ceil(d.W / WG), 1, d.P), 'tmemGate.backward');
  dispatch('tmem_gate_bwd_coarse', ['read', 'read', 'rw', 'rw'], gateBackwardCoarseSource, [v, act, dGlob, dAct], u,
    grid3(Math.ceil(d.w / WG), 1, d.P), 'tmemGate.backward');
}
