// Attention layers on the fused attention op.
//   MultiheadAttention  torch.nn.MultiheadAttention with batch_first=True and PyTorch's parameter names
//                       (in_proj_weight (3E, E), in_proj_bias (3E), out_proj), key padding and additive masks.
//   WindowAttention     Swin's window MHSA (FIANET.md §6.3–6.4) with the official state-dict names: qkv, proj,
//                       relative_position_bias_table ((2ws−1)², heads) and the relative_position_index buffer.
// BERT's layer (query/key/value Linears) is assembled by the model from the functional pieces: attention(),
// splitHeads(), mergeHeads().
import { fromArray, type Tensor } from '../tensor/tensor.ts';
import { shapeStr } from '../tensor/shape.ts';
import { defaultGenerator } from '../tensor/random.ts';
import { linear } from '../kernels/matmul/matmul.op.ts';
import { fillInto, reshape, slice } from '../kernels/movement/movement.op.ts';
import { cast, mul } from '../kernels/elementwise/elementwise.op.ts';
import { attention, attentionPacked, mergeHeads, splitHeads } from '../kernels/attention/attention.op.ts';
import { relativePositionBias, relativePositionIndex } from '../kernels/attention/swin.ts';
import { Module } from './module.ts';
import { Linear, uniformTensor, type InitOptions } from './layers.ts';

export interface MultiheadAttentionOptions extends InitOptions {
  bias?: boolean;
  /** Dropout on the attention probabilities in training mode (torch's `dropout`). */
  dropout?: number;
}

export interface MhaForwardOptions {
  /** (B, Nk): 1 (or true) marks padding keys that are ignored, as torch's key_padding_mask. */
  keyPaddingMask?: Tensor | null;
  /** Additive mask broadcastable to (B, H, Nq, Nk) (batch dim may divide B), no gradient. */
  attnMask?: Tensor | null;
}

export class MultiheadAttention extends Module {
  readonly in_proj_weight: Tensor;
  readonly in_proj_bias: Tensor | null;
  readonly out_proj: Linear;
  readonly headDim: number;
  readonly dropout: number;

  constructor(readonly embedDim: number, readonly numHeads: number, o: MultiheadAttentionOptions = {}) {
    super();
    this.dropout = o.dropout ?? 0;
    if (embedDim % numHeads) throw new Error(`MultiheadAttention: embedDim ${embedDim} is not divisible by ${numHeads} heads`);
    this.headDim = embedDim / numHeads;
    // PyTorch: xavier_uniform_ on in_proj_weight, zeros on the biases.
    const bound = Math.sqrt(6 / (embedDim + 3 * embedDim));
    this.in_proj_weight = this.registerParameter('in_proj_weight', uniformTensor([3 * embedDim, embedDim], bound, o));
    this.in_proj_bias = o.bias === false ? null
      : this.registerParameter('in_proj_bias', fromArray(new Float32Array(3 * embedDim), [3 * embedDim], { device: o.device }));
    this.out_proj = this.registerModule('out_proj', new Linear(embedDim, embedDim, o.bias !== false, o));
    if (this.out_proj.bias) fillInto(this.out_proj.bias, 0);
  }

  /** query (B, Nq, E), key/value (B, Nk, E) -> (B, Nq, E). */
  forward(query: Tensor, key: Tensor = query, value: Tensor = key, o: MhaForwardOptions = {}): Tensor {
    const E = this.embedDim;
    if (query.rank !== 3 || key.rank !== 3 || value.rank !== 3 || query.shape[2] !== E || key.shape[2] !== E || value.shape[2] !== E) {
      throw new Error(`MultiheadAttention: expects (B, N, ${E}) inputs, found ${shapeStr(query.shape)}, ${shapeStr(key.shape)}, ${shapeStr(value.shape)}`);
    }
    const w = (i: number) => slice(this.in_proj_weight, 0, i * E, (i + 1) * E);
    const b = (i: number) => (this.in_proj_bias ? slice(this.in_proj_bias, 0, i * E, (i + 1) * E) : null);
    const q = splitHeads(linear(query, w(0), b(0)), this.numHeads);
    const k = splitHeads(linear(key, w(1), b(1)), this.numHeads);
    const v = splitHeads(linear(value, w(2), b(2)), this.numHeads);
    let mask = o.attnMask ?? null;
    if (o.keyPaddingMask) {
      // PyTorch fills padded keys with -inf; a finite -1e4 gives the same softmax without NaN rows.
      const [B, Nk] = key.shape as [number, number];
      const pad = reshape(mul(cast(o.keyPaddingMask, query.dtype), -10000), [B, 1, 1, Nk]);
      if (mask) throw new Error('MultiheadAttention: pass either keyPaddingMask or attnMask, fold the other in first');
      mask = pad;
    }
    return this.out_proj.forward(mergeHeads(attention(q, k, v, { mask, dropout: this.training ? this.dropout : 0 })));
  }
}

export interface WindowAttentionOptions extends InitOptions {
  qkvBias?: boolean;
  /** Overrides head_dim^-0.5 (Swin's qk_scale). */
  qkScale?: number;
}

export class WindowAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly relative_position_bias_table: Tensor;
  readonly relative_position_index: Tensor;
  readonly scale: number;

  constructor(readonly dim: number, readonly windowSize: number, readonly numHeads: number, o: WindowAttentionOptions = {}) {
    super();
    if (dim % numHeads) throw new Error(`WindowAttention: dim ${dim} is not divisible by ${numHeads} heads`);
    this.scale = o.qkScale ?? (dim / numHeads) ** -0.5;
    const ws = windowSize;
    const T = (2 * ws - 1) ** 2;
    // trunc_normal_(std=0.02): normal draws clipped to ±2 std.
    const g = o.generator ?? defaultGenerator;
    const table = Float32Array.from(g.normal(T * numHeads), (x) => 0.02 * Math.max(-2, Math.min(2, x)));
    this.relative_position_bias_table = this.registerParameter('relative_position_bias_table', fromArray(table, [T, numHeads], { device: o.device }));
    this.relative_position_index = this.registerBuffer('relative_position_index',
      fromArray(relativePositionIndex(ws), [ws * ws, ws * ws], { device: o.device, dtype: 'i32' }));
    this.qkv = this.registerModule('qkv', new Linear(dim, 3 * dim, o.qkvBias ?? true, o));
    this.proj = this.registerModule('proj', new Linear(dim, dim, true, o));
  }

  /**
   * x (B·nW, N, C) windows; mask (nW, N, N) or (nW, 1, N, N) of 0/−100 for shifted blocks (windows of one
   * image are consecutive, so the mask repeats per image), or null.
   */
  forward(x: Tensor, mask: Tensor | null = null): Tensor {
    const [BW, N, C] = x.shape as [number, number, number];
    if (x.rank !== 3 || C !== this.dim || N !== this.windowSize ** 2) {
      throw new Error(`WindowAttention: expects (B·nW, ${this.windowSize ** 2}, ${this.dim}), found ${shapeStr(x.shape)}`);
    }
    const bias = relativePositionBias(this.relative_position_bias_table, this.relative_position_index);
    let m = mask;
    if (m && m.rank === 3) m = reshape(m, [m.shape[0]!, 1, N, N]);
    if (m && BW % m.shape[0]!) throw new Error(`WindowAttention: mask ${shapeStr(m.shape)} does not tile ${BW} windows`);
    // q, k, v are read in place from the (B·nW, N, 3C) projection, and their gradients land in one tensor.
    return this.proj.forward(mergeHeads(attentionPacked(this.qkv.forward(x), this.numHeads, { scale: this.scale, bias, mask: m })));
  }
}
