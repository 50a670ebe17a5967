// Shape and stride arithmetic shared by the tensor views, the kernels and their CPU references.

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i]!;
  }
  return true;
}

export function shapeStr(shape: Shape): string {
  return `(${shape.join(', ')})`;
}

/** Normalizes a possibly negative axis; throws naming the op when out of range. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    throw new Error(`${op}: axis ${axis} out of range for a tensor of rank ${rank}`);
  }
  return a;
}

export function normAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(a, rank, op)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new Error(`${op}: repeated axis in [${list.join(', ')}]`);
  return out;
}

/** NumPy broadcasting of two shapes; throws naming the op and both shapes. */
export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read `shape`/`strides` as if expanded to `target` (0 on broadcast axes). */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const rank = target.length;
  const out = new Array<number>(rank).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const t = rank - shape.length + i;
    out[t] = shape[i] === 1 && target[t] !== 1 ? 0 : strides[i]!;
  }
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Resolves one -1 in a reshape target. */
export function inferShape(target: readonly number[], n: number, op: string): number[] {
  const neg = target.filter((d) => d === -1).length;
  if (neg > 1) throw new Error(`${op}: more than one -1 in ${shapeStr(target)}`);
  const known = target.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const out = target.map((d) => (d === -1 ? n / known : d));
  if (out.some((d) => !Number.isInteger(d) || d < 0) || numel(out) !== n) {
    throw new Error(`${op}: cannot view ${n} elements as ${shapeStr(target)}`);
  }
  return out;
}

/**
 * Strides for viewing (shape, strides) as `target` without a copy, or null when the memory order forbids it.
 * Walks the source dims from the innermost outwards in "chunks" of dims that are contiguous with each other;
 * each chunk must be covered exactly by a run of target dims, which then get strides inside that chunk.
 */
export function viewStrides(shape: Shape, strides: readonly number[], target: Shape): number[] | null {
  const out = new Array<number>(target.length).fill(1);
  if (numel(shape) === 0 || shape.length === 0) return contiguousStrides(target);
  let td = target.length - 1;
  let base = strides[shape.length - 1]!;
  let srcCount = 1;
  let dstCount = 1;
  for (let sd = shape.length - 1; sd >= 0; sd--) {
    srcCount *= shape[sd]!;
    const chunkEnds = sd === 0 || (shape[sd - 1] !== 1 && strides[sd - 1] !== srcCount * base);
    if (!chunkEnds) continue;
    while (td >= 0 && (dstCount < srcCount || target[td] === 1)) {
      out[td] = dstCount * base;
      dstCount *= target[td]!;
      td--;
    }
    if (dstCount !== srcCount) return null;
    if (sd > 0) {
      base = strides[sd - 1]!;
      srcCount = 1;
      dstCount = 1;
    }
  }
  return td === -1 ? out : null;
}
