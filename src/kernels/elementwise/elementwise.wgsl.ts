// One generic WGSL kernel for every element-wise table entry: up to three broadcasting, strided inputs,
// a contiguous output. The pipeline key is (entry, dtypes, vec4 or the decode rank); shapes, strides, offsets and the scalar
// parameters come from the uniform slot, so one pipeline serves every shape.
// The vec4 variant (dense same-shape operands, 16-byte aligned, length % 4 == 0) binds every array as
// vec4 and handles four elements per invocation: on llvmpipe each per-lane load is a scalar gather, so loading
// 16 bytes at a time is what makes streaming ops fast.
import type { DType } from '../../tensor/dtype.ts';
import { Uniforms, WGSL_IDS, WGSL_LINEAR_ID, grid1d, wgslEnable, wgslOffsetFn, dispatch } from '../common.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { EW_PRELUDE, type EwEntry } from './elementwise.table.ts';

const WG = 256;
const NAMES = ['A', 'B', 'C'] as const;

/** The table expression as a function of scalars: the vec4 variant calls it once per component. */
function opFn(entry: EwEntry, inTypes: DType[]): string {
  const args = inTypes.map((_, k) => `${NAMES[k]!.toLowerCase()}: T${NAMES[k]}`).join(', ');
  return `fn op(${args}, i: u32, p0: f32, p1: f32) -> TO { return TO(${entry.wgsl}); }`;
}

/** The uniform struct and bindings both variants share; `vec` binds the arrays as vec4 of the element type. */
function header(inTypes: DType[], outType: DType, vec: boolean): string {
  const arr = (t: string) => (vec ? `array<vec4<${t}>>` : `array<${t}>`);
  const decls = inTypes.map((t, k) => `alias T${NAMES[k]} = ${t};\n@group(0) @binding(${k + 1}) var<storage, read> ${NAMES[k]}: ${arr(`T${NAMES[k]}`)};`).join('\n');
  return `${wgslEnable([...inTypes, outType])}
struct U {
  n: u32, _rank: u32, _contig: u32, oOff: u32, // rank and contiguity travel in the pipeline key
  shape: array<vec4<u32>, 2>,
  ${inTypes.map((_, k) => `s${k}: array<vec4<u32>, 2>,`).join('\n  ')}
  off: vec4<u32>,
  p: vec4<f32>,
  base: vec4<u32>, // x: the row-major index of element 0 (a split piece's start): what i means in the table
};
@group(1) @binding(0) var<uniform> u: U;
${decls}
alias TO = ${outType};
@group(0) @binding(${inTypes.length + 1}) var<storage, read_write> O: ${arr('TO')};
${EW_PRELUDE}`;
}

function vec4Source(entry: EwEntry, inTypes: DType[], outType: DType): string {
  const loads = inTypes.map((_, k) => `let v${k} = ${NAMES[k]}[i + u.off[${k}] / 4u];`).join('\n  ');
  const comp = (c: string, j: number) => `op(${inTypes.map((_, k) => `v${k}.${c}`).join(', ')}, u.base.x + e + ${j}u, u.p.x, u.p.y)`;
  return `${header(inTypes, outType, true)}
${opFn(entry, inTypes)}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i * 4u >= u.n) { return; }
  let e = i * 4u;
  ${loads}
  O[i + u.oOff / 4u] = vec4<TO>(${['x', 'y', 'z', 'w'].map((c, j) => comp(c, j)).join(', ')});
}`;
}

/**
 * The strided variant: each input's element offset decoded from i through the shared shape and its strides
 * (wgslOffsetFn, unrolled over the rank, a pipeline variant like the dtypes; rank 0 for dense operands, which
 * need no decode). Indexed by a loop counter, those uniform reads were per-lane gathers on llvmpipe, three per
 * dim and element, which made a broadcast multiply 3x slower than its arithmetic.
 */
function source(entry: EwEntry, inTypes: DType[], outType: DType, rank: number): string {
  const n = inTypes.length;
  const loads = inTypes.map((_, k) => `let ${NAMES[k]!.toLowerCase()} = ${NAMES[k]}[${n === 1 ? 'o' : `o.${'xyz'[k]}`}];`).join('\n  ');
  const base = n === 1 ? 'u.off.x' : `u.off.${'xyz'.slice(0, n)}`;
  return `${header(inTypes, outType, false)}
${opFn(entry, inTypes)}
${wgslOffsetFn('offsets', rank, 'u.shape', inTypes.map((_, k) => `u.s${k}`))}
@compute @workgroup_size(${WG})
fn main(${WGSL_IDS}) {
  let i = ${WGSL_LINEAR_ID(WG)};
  if (i >= u.n) { return; }
  let o = ${rank === 0 ? `${base} + i` : `offsets(i, ${base})`};
  ${loads}
  O[i + u.oOff] = op(${inTypes.map((_, k) => NAMES[k]!.toLowerCase()).join(', ')}, u.base.x + i, u.p.x, u.p.y);
}`;
}

/**
 * Dispatches `entry` over inputs already viewed at the output shape (broadcast strides, 0 on expanded axes).
 * `contig` is true when every input is a dense same-shape view, which skips the index decode. `first`: the
 * row-major index of out's element 0 within the whole output when out is a split piece (the random streams of
 * dropout are indexed by it, so a split run draws what an unsplit one does).
 */
export function ewWgsl(
  entry: EwEntry, inputs: Tensor[], inStrides: number[][], out: Tensor, p0: number, p1: number, contig: boolean,
  shape: readonly number[], first = 0,
): void {
  const inTypes = inputs.map((t) => t.dtype);
  const vec4 = contig && out.size % 4 === 0 && [...inputs, out].every((t) => t.offset % 4 === 0 && t.dtype !== 'f16');
  const rank = contig ? 0 : shape.length;
  const key = `ew:${entry.name}:${inTypes.join(',')}:${out.dtype}${vec4 ? ':vec4' : `:r${rank}`}`;
  const u = new Uniforms().u32(out.size).u32(shape.length).u32(contig ? 1 : 0).u32(out.offset).arr8(shape, 1);
  for (const s of inStrides) u.arr8(s);
  u.pad();
  for (let k = 0; k < 4; k++) u.u32(inputs[k]?.offset ?? 0);
  u.f32(p0).f32(p1).f32(0).f32(0).u32(first).u32(0).u32(0).u32(0);
  const code = vec4 ? () => vec4Source(entry, inTypes, out.dtype) : () => source(entry, inTypes, out.dtype, rank);
  dispatch(key, [...inputs.map(() => 'read' as const), 'rw'], code, [...inputs, out], u, grid1d(vec4 ? out.size / 4 : out.size, WG), entry.name);
}
