// The Fine-grained Image-text Alignment Module pieces (FIANET.md §5): SILA pixel-to-word cross-attention,
// the context branch PWAM, the tanh gates, the object/position alignment block OPAB and channel modulation.
// Token-major throughout: visual (B, N, C), text (B, L, Ct), word masks (B, L) as f32 0/1.
import type { Tensor } from '../../tensor/tensor.ts';
import { gelu, mul, relu, sigmoid, sub, tanh } from '../../kernels/elementwise/elementwise.op.ts';
import { concat, permute, reshape, unsqueeze } from '../../kernels/movement/movement.op.ts';
import { max, mean } from '../../kernels/reduce/reduce.op.ts';
import { instanceNormTokens } from '../../kernels/norm/norm.op.ts';
import { attention, mergeHeads, splitHeads } from '../../kernels/attention/attention.op.ts';
import { Module } from '../../nn/module.ts';
import { ModuleList, type InitOptions, type Linear } from '../../nn/layers.ts';
import { Conv2d } from '../../nn/conv.ts';
import { Conv1dTokens, Indexed } from './parts.ts';
import { tnLinear } from './swin.ts';

const seq1 = (m: Conv1dTokens) => new ModuleList([m]);

/**
 * SILA(X, F, m) (§5.1): Q = IN(f_query(X)), K = f_key(F) * m, V = f_value(F) * m, softmax over words of
 * Q K^T / sqrt(C) + 10000 (m - 1), then IN(W(A V)). The scale is 1/sqrt(C) even with several heads.
 */
export class SILA extends Module {
  readonly f_query: ModuleList<Conv1dTokens>;
  readonly f_key: ModuleList<Conv1dTokens>;
  readonly f_value: ModuleList<Conv1dTokens>;
  readonly W: ModuleList<Conv1dTokens>;
  constructor(vDim: number, lDim: number, readonly dim: number, readonly heads: number, init: InitOptions) {
    super();
    this.f_query = this.registerModule('f_query', seq1(new Conv1dTokens(vDim, dim, true, init)));
    this.f_key = this.registerModule('f_key', seq1(new Conv1dTokens(lDim, dim, true, init)));
    this.f_value = this.registerModule('f_value', seq1(new Conv1dTokens(lDim, dim, true, init)));
    this.W = this.registerModule('W', seq1(new Conv1dTokens(dim, dim, true, init)));
  }

  forward(x: Tensor, text: Tensor, m: Tensor): Tensor {
    const [B, L] = m.shape as [number, number];
    const q = instanceNormTokens(this.f_query.at(0).forward(x));
    const mk = unsqueeze(m, -1); // (B, L, 1): masked words get zero keys and values
    const k = mul(this.f_key.at(0).forward(text), mk);
    const v = mul(this.f_value.at(0).forward(text), mk);
    const bias = reshape(mul(sub(m, 1), 10000), [B, 1, 1, L]);
    const o = attention(splitHeads(q, this.heads), splitHeads(k, this.heads), splitHeads(v, this.heads), { scale: 1 / Math.sqrt(this.dim), mask: bias });
    return instanceNormTokens(this.W.at(0).forward(mergeHeads(o)));
  }
}

/** The context branch (LAVT's PWAM, §5.2): R = GELU(project_mm(GELU(vis_project(X)) * SILA(X, F_C, m_C))). */
export class PWAM extends Module {
  readonly vis_project: ModuleList<Conv1dTokens>;
  readonly image_lang_att: SILA;
  readonly project_mm: ModuleList<Conv1dTokens>;
  constructor(dim: number, lDim: number, heads: number, init: InitOptions) {
    super();
    this.vis_project = this.registerModule('vis_project', seq1(new Conv1dTokens(dim, dim, true, init)));
    this.image_lang_att = this.registerModule('image_lang_att', new SILA(dim, lDim, dim, heads, init));
    this.project_mm = this.registerModule('project_mm', seq1(new Conv1dTokens(dim, dim, true, init)));
  }
  forward(x: Tensor, text: Tensor, m: Tensor): Tensor {
    const vis = gelu(this.vis_project.at(0).forward(x));
    const lang = this.image_lang_att.forward(x, text, m);
    return gelu(this.project_mm.at(0).forward(mul(vis, lang)));
  }
}

/** tanh(W_b ReLU(W_a x)) with bias-free Linears at indices 0 and 2 (Sequential(Linear, ReLU, Linear, Tanh)). */
export class TanhGate extends Indexed<Linear> {
  constructor(dim: number, init: InitOptions) {
    super({ 0: tnLinear(dim, dim, false, init), 2: tnLinear(dim, dim, false, init) });
  }
  forward(x: Tensor): Tensor {
    return tanh(this.at[2]!.forward(relu(this.at[0]!.forward(x))));
  }
}

/** The object/position alignment block (§5.3): O = tanh-gated SILA_go(X, F_G, m_G) * sigmoid(conv([mean; max] of SILA_sp)). */
export class OPAB extends Module {
  readonly go_cross_attn: SILA;
  readonly sp_cross_attn: SILA;
  readonly go_tanh_gating: TanhGate;
  readonly go_embedding: Linear; // declared and saved by the official code, never used
  readonly conv1: Conv2d;
  constructor(dim: number, lDim: number, heads: number, init: InitOptions) {
    super();
    this.go_cross_attn = this.registerModule('go_cross_attn', new SILA(dim, lDim, dim, heads, init));
    this.sp_cross_attn = this.registerModule('sp_cross_attn', new SILA(dim, lDim, dim, heads, init));
    this.go_tanh_gating = this.registerModule('go_tanh_gating', new TanhGate(dim, init));
    this.go_embedding = this.registerModule('go_embedding', tnLinear(dim, dim, false, init));
    this.conv1 = this.registerModule('conv1', new Conv2d(2, 1, 3, { padding: 1, bias: false, ...init }));
  }

  forward(x: Tensor, H: number, W: number, fG: Tensor, mG: Tensor, fS: Tensor, mS: Tensor, o: { object: boolean; spatial: boolean }): Tensor | null {
    if (!o.object) return null; // O = 0 (what an empty m_G gives anyway)
    const g = this.go_cross_attn.forward(x, fG, mG);
    const gTilde = mul(this.go_tanh_gating.forward(g), g);
    if (!o.spatial) return gTilde; // M = 1
    const [B, N, C] = x.shape as [number, number, number];
    // (B, N, C) -> (B, C, H, W) map -> [mean over C; max over C] (B, 2, H, W) -> conv -> sigmoid -> (B, N, 1)
    const p = permute(reshape(this.sp_cross_attn.forward(x, fS, mS), [B, H, W, C]), [0, 3, 1, 2]);
    const map = concat([mean(p, 1, true), max(p, 1, true)], 1);
    const M = reshape(sigmoid(this.conv1.forward(map)), [B, N, 1]);
    return mul(gTilde, M);
  }
}

/** SE-style channel gate from the visual stream (§5.4): s = sigmoid(fc2(ReLU(fc1(mean over tokens of X)))), (B, 1, C). */
export function channelGate(x: Tensor, fc1: Linear, fc2: Linear): Tensor {
  return unsqueeze(sigmoid(fc2.forward(relu(fc1.forward(mean(x, 1))))), 1);
}
