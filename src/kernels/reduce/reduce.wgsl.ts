// Reductions over any set of axes. The kept and reduced dims arrive as two (shape, stride) lists in the
// uniforms. Two launch modes, chosen per call: one invocation per output walking its reduced elements with
// an odometer (many outputs, e.g. a bias gradient), or one 64-lane workgroup per output that strides over
// the reduced elements and combines through workgroup memory (few outputs over many elements, e.g. a loss).
import type { DType } from '../../tensor/dtype.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, dispatch, grid1d, rank8At, wgslEnable, wgslOffsetFn } from '../common.ts';
import type { ReduceMode, ReducePlan } from './reduce.cpu.ts';

const WG = 64;

function combineSrc(mode: ReduceMode): { init: string; step: string } {
  switch (mode) {
    case 'sum': return { init: 'f32(0)', step: 'acc = acc + v;' };
    case 'max':
    case 'argmax': return { init: '-3.4028234663852886e38', step: 'if (v > acc) { acc = v; best = r; }' };
    case 'min':
    case 'argmin': return { init: '3.4028234663852886e38', step: 'if (v < acc) { acc = v; best = r; }' };
  }
}

function source(mode: ReduceMode, inT: DType, outT: DType, perGroup: boolean, outRank: number, redRank: number): string {
  const { init, step } = combineSrc(mode);
  const isArg = mode === 'argmax' || mode === 'argmin';
  const result = isArg ? 'TO(best)' : mode === 'sum' ? 'TO(acc / u.divisor)' : 'TO(acc)';
  const better = mode === 'max' || mode === 'argmax' ? '>' : '<';
  const head = `${wgslEnable([inT, outT])}
struct U {
  nOut: u32, _outRank: u32, _redRank: u32, count: u32, // the ranks travel in the pipeline key
  offset: u32, divisor: f32, oOff: u32, _b: u32,
  outShape: array<vec4<u32>, 2>, outStr: array<vec4<u32>, 2>,
  redShape: array<vec4<u32>, 2>, redStr: array<vec4<u32>, 2>,
};
@group(1) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read> X: array<${inT}>;
alias TO = ${outT};
@group(0) @binding(2) var<storage, read_write> O: array<TO>;
${wgslOffsetFn('outOffset', outRank, 'u.outShape', ['u.outStr'])}
${wgslOffsetFn('redOffset', redRank, 'u.redShape', ['u.redStr'])}`;
  // The innermost reduced dim, walked as a plain strided loop (a row): constant indices into the uniforms.
  const last = (f: string) => rank8At(`u.${f}`, redRank - 1);
  const innerLets = `let inner = ${redRank > 0 ? last('redShape') : '1u'};
  let innerStr = ${redRank > 0 ? last('redStr') : '0u'};`;
  if (!perGroup) {
    return `${head}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let o = ${WGSL_LINEAR_ID(WG)};
  if (o >= u.nOut) { return; }
  let base = outOffset(o, u.offset);
  var acc = f32(${init});
  var best = 0u;
  // Rows of the innermost reduced dim: the index decode runs once per row (the same row on every lane), the
  // row is a plain strided loop.
  ${innerLets}
  for (var ro = 0u; ro < u.count; ro += inner) {
    let rowBase = redOffset(ro, base);
    for (var i = 0u; i < inner; i++) {
      let r = ro + i;
      let v = f32(X[rowBase + i * innerStr]);
      ${step}
    }
  }
  O[u.oOff + o] = ${result};
}`;
  }
  return `${head}
var<workgroup> sv: array<f32, ${WG}>;
var<workgroup> si: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let o = wid.y * nwg.x + wid.x;
  let l = lid.x;
  let base = outOffset(min(o, u.nOut - 1u), u.offset);
  var acc = f32(${init});
  var best = 0u;
  // Rows of the innermost reduced dim: the index decode runs once per row, not once per element.
  ${innerLets}
  for (var ro = 0u; ro < u.count; ro += inner) {
    let rowBase = redOffset(ro, base);
    for (var i = l; i < inner; i += ${WG}u) {
      let r = ro + i;
      let v = f32(X[rowBase + i * innerStr]);
      ${step}
    }
  }
  sv[l] = acc;
  si[l] = best;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (l < s) {
      ${mode === 'sum'
        ? 'sv[l] = sv[l] + sv[l + s];'
        : `let v2 = sv[l + s]; let i2 = si[l + s];
      if (v2 ${better} sv[l] || (v2 == sv[l] && i2 < si[l])) { sv[l] = v2; si[l] = i2; }`}
    }
    workgroupBarrier();
  }
  if (l == 0u && o < u.nOut) {
    acc = sv[0];
    best = si[0];
    O[u.oOff + o] = ${result};
  }
}`;
}

export function reduceWgsl(mode: ReduceMode, x: Tensor, plan: ReducePlan, out: Tensor, divisor: number): void {
  const nOut = out.size;
  // Few outputs over many elements: a workgroup per output keeps all lanes busy.
  const perGroup = plan.count >= 1024 && nOut < 4096;
  const [outRank, redRank] = [plan.outShape.length, plan.redShape.length];
  const key = `reduce:${mode}:${x.dtype}:${out.dtype}:${perGroup ? 'wg' : 'thread'}:o${outRank}r${redRank}`;
  const u = new Uniforms()
    .u32(nOut).u32(plan.outShape.length).u32(plan.redShape.length).u32(plan.count)
    .u32(plan.offset).f32(divisor).u32(out.offset).u32(0)
    .arr8(plan.outShape, 1).arr8(plan.outStrides).arr8(plan.redShape, 1).arr8(plan.redStrides);
  const grid = perGroup ? grid1d(nOut, 1) : grid1d(nOut, WG);
  dispatch(key, ['read', 'rw'], () => source(mode, x.dtype, out.dtype, perGroup, outRank, redRank), [x, out], u, grid, mode);
}
