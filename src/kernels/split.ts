// Dispatches over tensors larger than the adapter's storage-binding limit (128 MiB on lavapipe; Swin-B's stage-1
// MLP activations at batch 8 are 236 MB). A launch runs on pieces of the output's leading dims, and each operand
// whose buffer exceeds the limit is bound as a window: the bytes the piece touches. Kernels need no change: a
// window is a storage whose tensors count offsets from its start, and kernels take offsets and strides from
// uniforms. With every buffer under the limit (the common case) the launch runs once, untouched.
import { byteSize } from '../tensor/dtype.ts';
import { shapeStr } from '../tensor/shape.ts';
import { Storage } from '../tensor/storage.ts';
import { Tensor, empty } from '../tensor/tensor.ts';
import { copyInto } from './movement/movement.op.ts';
import { getRuntime } from '../runtime/device.ts';

/** The dim of input i that runs along output dim `outDim` (narrowed with it), or null (bound whole). */
export type Align = (input: number, outDim: number) => number | null;

/** Broadcasting alignment: dims match from the right; a size-1 input dim broadcast over the output stays whole. */
export const alignBroadcast = (out: Tensor, ins: readonly Tensor[]): Align => (i, outDim) => {
  const t = ins[i]!;
  const d = outDim - (out.rank - t.rank);
  return d < 0 || (t.shape[d] === 1 && out.shape[outDim] !== 1) ? null : d;
};

/** Element range [lo, hi] a view touches (strides are non-negative in this engine). */
function span(t: Tensor): [number, number] {
  let hi = t.offset;
  for (let d = 0; d < t.rank; d++) hi += (t.shape[d]! - 1) * t.strides[d]!;
  return [t.offset, hi];
}

/** Bytes a storage binds as it stands: its whole buffer, or its window. */
const boundBytes = (t: Tensor): number => {
  const b = t.storage.binding;
  return 'buffer' in b ? b.size! : b.size;
};

/** Bytes the binding of t needs: its whole buffer (or window) when that fits the limit, else the aligned range it touches. */
export function bindingBytes(t: Tensor, limit = getRuntime().maxBindingBytes): number {
  const size = boundBytes(t);
  if (size <= limit || t.size === 0) return size;
  const eb = byteSize(t.dtype);
  const [lo, hi] = span(t);
  const align = getRuntime().bindingAlignment;
  return (hi + 1) * eb - Math.floor((lo * eb) / align) * align;
}

/** t itself when its buffer fits the limit; else a view of the same elements on a window of its storage. */
function windowed(t: Tensor, limit: number): Tensor {
  if (boundBytes(t) <= limit || t.size === 0) return t;
  const s = t.storage;
  const eb = byteSize(t.dtype);
  const [lo, hi] = span(t);
  const start = Math.floor((lo * eb) / getRuntime().bindingAlignment) * getRuntime().bindingAlignment;
  const w = Storage.window(s, start, ((hi + 1) * eb - start) / eb);
  return new Tensor(w, t.shape, t.strides, t.offset - start / eb);
}

function narrow(t: Tensor, d: number, start: number, n: number): Tensor {
  const shape = [...t.shape];
  shape[d] = n;
  return t.view(shape, t.strides, t.offset + start * t.strides[d]!);
}

export const fitsBinding = (ts: readonly (Tensor | null)[], limit = getRuntime().maxBindingBytes) =>
  ts.every((t) => !t || bindingBytes(t, limit) <= limit);

/**
 * Runs `launch(out, ins, first)` once when every binding fits; otherwise on pieces of `out` (dims 0..maxDim-1,
 * outer first: a dim is split only once the dims before it are down to one row), each input narrowed where
 * `align` says it runs along the split dim. Operands are windowed before the launch; `ins` may hold nulls
 * (absent optional operands). `first` is the offset of the piece's first element from `out`'s (for a dense out,
 * its row-major index: counter-based random streams use it). `multiple`: pieces along dim 0 start and end at
 * multiples of it (attention's periodic masks). When a one-row piece along every splittable dim still does not
 * fit, `onTooLarge` (if given) gets the piece; otherwise this throws naming the op and shapes.
 */
export function splitForBinding(
  op: string, out: Tensor, ins: readonly (Tensor | null)[], align: Align, launch: (out: Tensor, ins: (Tensor | null)[], first: number) => void,
  opts: { maxDim?: number; multiple?: number; onTooLarge?: (out: Tensor, ins: (Tensor | null)[]) => void } = {},
): void {
  const rt = getRuntime();
  const limit = rt.maxBindingBytes;
  // Fast path: whole buffers under the limit (every op checks this, so it must stay cheap).
  if (boundBytes(out) <= limit && ins.every((t) => !t || boundBytes(t) <= limit)) {
    launch(out, [...ins], 0);
    return;
  }
  const maxDim = opts.maxDim ?? out.rank;
  const run = (o: Tensor, xs: (Tensor | null)[], dim: number): void => {
    if (o.size === 0) return;
    if (fitsBinding([o, ...xs], limit)) {
      const wo = windowed(o, limit);
      const wx = xs.map((t) => (t ? windowed(t, limit) : null));
      try {
        launch(wo, wx, o.offset - out.offset);
      } finally {
        if (wo !== o) wo.dispose();
        wx.forEach((t, i) => { if (t && t !== xs[i]) t.dispose(); });
      }
      return;
    }
    if (dim >= maxDim) {
      if (opts.onTooLarge) return opts.onTooLarge(o, xs);
      throw new Error(`${op}: output ${shapeStr(out.shape)} with inputs ${ins.map((t) => (t ? shapeStr(t.shape) : '-')).join(', ')} ` +
        `cannot be split so that each binding fits the adapter's limit of ${limit} bytes`);
    }
    const R = o.shape[dim]!;
    const piece = (r0: number, n: number): [Tensor, (Tensor | null)[]] => [
      narrow(o, dim, r0, n),
      xs.map((t, i) => {
        if (!t) return null;
        const d = align(i, dim);
        return d === null ? t.view(t.shape, t.strides, t.offset) : narrow(t, d, r0, n);
      }),
    ];
    const free = ([po, px]: [Tensor, (Tensor | null)[]]) => { po.dispose(); px.forEach((t) => t?.dispose()); };
    // Rows per piece: halve until the first piece fits (pieces are alike: same strides, shifted offsets).
    const step = dim === 0 ? opts.multiple ?? 1 : 1;
    let n = R;
    while (n > step) {
      const p = piece(0, n);
      const ok = fitsBinding([p[0], ...p[1]], limit);
      free(p);
      if (ok) break;
      n = Math.max(step, Math.ceil(n / 2 / step) * step);
    }
    for (let r0 = 0; r0 < R; r0 += n) {
      const p = piece(r0, Math.min(n, R - r0));
      try {
        run(p[0], p[1], n === step ? dim + 1 : dim);
      } finally {
        free(p);
      }
    }
  };
  run(out, [...ins], 0);
}

const emptyLike = (t: Tensor) => empty(t.shape, t.dtype, t.device);

/**
 * For a kernel that writes its outputs dense from element 0: passes each piece in `outs` through when it is
 * such a tensor, else a fresh tensor of its shape that is copied into the piece afterwards (split pieces only).
 */
export function intoPieces(outs: Tensor[], write: (dense: Tensor[]) => void): void {
  const ds = outs.map((o) => (o.offset === 0 && o.isContiguous ? o : emptyLike(o)));
  write(ds);
  ds.forEach((t, k) => {
    if (t === outs[k]) return;
    copyInto(t, outs[k]!);
    t.dispose();
  });
}
