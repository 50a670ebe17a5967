// Swin window-attention helpers (FIANET.md §6.3–6.5): window partition and its reverse (reshape/permute views;
// the one data movement is the strided copy kernel behind reshape), padding to a window multiple and the crop
// back, and the host-side builders of the relative-position index and the shift mask, plus the bias gather.
// All are differentiable compositions of existing ops.
import { shapeStr } from '../../tensor/shape.ts';
import { fromArray, type Tensor } from '../../tensor/tensor.ts';
import type { DeviceName } from '../../tensor/storage.ts';
import { pad, permute, reshape, slice } from '../movement/movement.op.ts';
import { embedding } from '../gather/gather.op.ts';

function check4(op: string, x: Tensor, ws: number): [number, number, number, number] {
  if (x.rank !== 4) throw new Error(`${op}: expects (B, H, W, C), found ${shapeStr(x.shape)}`);
  const [B, H, W, C] = x.shape as [number, number, number, number];
  if (!Number.isInteger(ws) || ws < 1 || H % ws || W % ws) throw new Error(`${op}: ${shapeStr(x.shape)} is not a multiple of window ${ws}`);
  return [B, H, W, C];
}

/** (B, Hp, Wp, C) -> (B·nW, ws·ws, C); windows in (batch, window row, window column) order, tokens row-major. */
export function windowPartition(x: Tensor, ws: number): Tensor {
  const [B, H, W, C] = check4('windowPartition', x, ws);
  const t = reshape(x, [B, H / ws, ws, W / ws, ws, C]);
  return reshape(permute(t, [0, 1, 3, 2, 4, 5]), [(B * H * W) / (ws * ws), ws * ws, C]);
}

/** (B·nW, ws·ws, C) -> (B, Hp, Wp, C), the inverse of windowPartition. */
export function windowReverse(windows: Tensor, ws: number, H: number, W: number): Tensor {
  const [BW, N, C] = windows.shape as [number, number, number];
  if (windows.rank !== 3 || N !== ws * ws || H % ws || W % ws || BW % ((H / ws) * (W / ws))) {
    throw new Error(`windowReverse: ${shapeStr(windows.shape)} are not ${ws}x${ws} windows of a ${H}x${W} grid`);
  }
  const B = BW / ((H / ws) * (W / ws));
  const t = reshape(windows, [B, H / ws, W / ws, ws, ws, C]);
  return reshape(permute(t, [0, 1, 3, 2, 4, 5]), [B, H, W, C]);
}

/** Zero-pads (B, H, W, C) on the bottom and right to multiples of ws (§6.3 step 2, after the LayerNorm). */
export function padToWindow(x: Tensor, ws: number): Tensor {
  if (x.rank !== 4) throw new Error(`padToWindow: expects (B, H, W, C), found ${shapeStr(x.shape)}`);
  const [, H, W] = x.shape as [number, number, number, number];
  const ph = (ws - (H % ws)) % ws;
  const pw = (ws - (W % ws)) % ws;
  return pad(x, [0, 0, 0, pw, 0, ph]);
}

/** Crops (B, Hp, Wp, C) back to (B, H, W, C): views. */
export function cropFromWindow(x: Tensor, H: number, W: number): Tensor {
  return slice(slice(x, 1, 0, H), 2, 0, W);
}

/** relative_position_index (ws², ws²): (ha − hb + ws − 1)·(2ws − 1) + (wa − wb + ws − 1) (§6.4). */
export function relativePositionIndex(ws: number): Int32Array {
  const N = ws * ws;
  const span = 2 * ws - 1;
  const out = new Int32Array(N * N);
  for (let a = 0; a < N; a++) {
    const ha = Math.floor(a / ws), wa = a % ws;
    for (let b = 0; b < N; b++) {
      const hb = Math.floor(b / ws), wb = b % ws;
      out[a * N + b] = (ha - hb + ws - 1) * span + (wa - wb + ws - 1);
    }
  }
  return out;
}

/**
 * Shift mask (nW, ws², ws²) for a padded Hp×Wp grid, window ws, shift s (§6.5): cells are labelled by row band
 * ([0, Hp−ws), [Hp−ws, Hp−s), [Hp−s, Hp)) and column band, in the shifted frame (not rolled); a pair of
 * tokens in one window gets 0 when labels match, −100 otherwise.
 */
export function shiftMask(Hp: number, Wp: number, ws: number, s: number): Float32Array {
  if (Hp % ws || Wp % ws || s <= 0 || s >= ws) throw new Error(`shiftMask: grid ${Hp}x${Wp}, window ${ws}, shift ${s} are not valid`);
  const band = (i: number, n: number) => (i < n - ws ? 0 : i < n - s ? 1 : 2);
  const nWh = Hp / ws, nWw = Wp / ws, N = ws * ws;
  const out = new Float32Array(nWh * nWw * N * N);
  const labels = new Int32Array(N);
  for (let wh = 0; wh < nWh; wh++) {
    for (let ww = 0; ww < nWw; ww++) {
      for (let t = 0; t < N; t++) labels[t] = 3 * band(wh * ws + Math.floor(t / ws), Hp) + band(ww * ws + (t % ws), Wp);
      const base = (wh * nWw + ww) * N * N;
      for (let a = 0; a < N; a++) for (let b = 0; b < N; b++) out[base + a * N + b] = labels[a] === labels[b] ? 0 : -100;
    }
  }
  return out;
}

/** The shift mask as a tensor (nW, 1, N, N): attention() reads its batch dim as window = b mod nW. */
export function shiftMaskTensor(Hp: number, Wp: number, ws: number, s: number, device?: DeviceName): Tensor {
  const N = ws * ws;
  return fromArray(shiftMask(Hp, Wp, ws, s), [(Hp / ws) * (Wp / ws), 1, N, N], { device });
}

/** bias[h, a, b] = table[index[a, b], h]: table (T, heads), index (N, N) i32 -> (heads, N, N). */
export function relativePositionBias(table: Tensor, index: Tensor): Tensor {
  if (table.rank !== 2 || index.rank !== 2 || index.shape[0] !== index.shape[1]) {
    throw new Error(`relativePositionBias: expects table (T, heads) and index (N, N), found ${shapeStr(table.shape)} and ${shapeStr(index.shape)}`);
  }
  const N = index.shape[0]!;
  const rows = embedding(table, reshape(index, [N * N])); // (N², heads); its gradient scatter-adds into the table
  return permute(reshape(rows, [N, N, table.shape[1]!]), [2, 0, 1]);
}
