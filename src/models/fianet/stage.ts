// One backbone stage as the official `layers.i` module: the Swin blocks, then FIAM (context branch PWAM with its
// tanh gate, OPAB, channel modulation), then patch merging of the updated visual stream (FIANET.md §5.5):
//   R = PWAM(X, F_C, m_C);  Δ = (g_C ⊙ R + OPAB(X, ...)) ⊙ s;  X' = X + Δ;  out = norm_i(R);  next = merge(X')
// For the last stage X' is discarded, so its OPAB, gate and channel modulation are dead (never computed, never
// stepped) unless an ablation makes the output read X'.
import type { Tensor } from '../../tensor/tensor.ts';
import { keep, scope } from '../../tensor/scope.ts';
import { add, mul } from '../../kernels/elementwise/elementwise.op.ts';
import { shiftMaskTensor } from '../../kernels/attention/swin.ts';
import { Module } from '../../nn/module.ts';
import { ModuleList, type InitOptions, type Linear } from '../../nn/layers.ts';
import type { Generator } from '../../tensor/random.ts';
import { PatchMerging, SwinBlock, tnLinear } from './swin.ts';
import { channelGate, OPAB, PWAM, TanhGate } from './fiam.ts';
import type { Ablation, TextFeatures } from './types.ts';

export interface StageSpec {
  dim: number;
  depth: number;
  heads: number;
  windowSize: number;
  mlpRatio: number;
  dropPaths: number[];
  textDim: number;
  fusionHeads: number;
  downsample: boolean;
  last: boolean;
}

export class FianetStage extends Module {
  readonly blocks: ModuleList<SwinBlock>;
  readonly downsample: PatchMerging | null;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly context_pixel_attn: PWAM;
  readonly context_tanh_gate: TanhGate;
  readonly object_position_align_blk: OPAB;
  private maskCache = new Map<string, Tensor>();

  constructor(readonly s: StageSpec, init: InitOptions, gen: Generator | undefined) {
    super();
    const ws = s.windowSize;
    this.blocks = this.registerModule('blocks', new ModuleList(Array.from({ length: s.depth }, (_, j) =>
      new SwinBlock(s.dim, s.heads, ws, j % 2 === 0 ? 0 : Math.floor(ws / 2), s.dropPaths[j] ?? 0, s.mlpRatio, init, gen))));
    this.downsample = s.downsample ? this.registerModule('downsample', new PatchMerging(s.dim, init)) : null;
    this.fc1 = this.registerModule('fc1', tnLinear(s.dim, Math.max(1, Math.floor(s.dim / 8)), true, init));
    this.fc2 = this.registerModule('fc2', tnLinear(Math.max(1, Math.floor(s.dim / 8)), s.dim, true, init));
    this.context_pixel_attn = this.registerModule('context_pixel_attn', new PWAM(s.dim, s.textDim, s.fusionHeads, init));
    this.context_tanh_gate = this.registerModule('context_tanh_gate', new TanhGate(s.dim, init));
    this.object_position_align_blk = this.registerModule('object_position_align_blk', new OPAB(s.dim, s.textDim, s.fusionHeads, init));
  }

  /** The shift mask for the padded grid, built once per (grid, device) and kept (it is a constant). */
  private shiftMask(H: number, W: number, device: Tensor['device']): Tensor | null {
    if (this.s.depth < 2) return null;
    const ws = this.s.windowSize;
    const Hp = Math.ceil(H / ws) * ws;
    const Wp = Math.ceil(W / ws) * ws;
    const key = `${Hp}x${Wp}:${device}`;
    let m = this.maskCache.get(key);
    if (!m) {
      m = keep(shiftMaskTensor(Hp, Wp, ws, Math.floor(ws / 2), device));
      this.maskCache.set(key, m);
    }
    return m;
  }

  /**
   * x (B, H*W, C) -> { out: the feature handed to TMEM/decoder before norm_i (R, or X' / X when the context
   * branch is ablated), next: merged X' for the next stage (null for the last stage) }.
   */
  forward(x: Tensor, H: number, W: number, t: TextFeatures, ab: Ablation): { out: Tensor; next: Tensor | null; H: number; W: number } {
    const mask = this.shiftMask(H, W, x.device);
    let h = x;
    for (const blk of this.blocks) h = blk.forward(h, H, W, mask);
    // FIAM's temporaries are freed when the stage returns (saved tensors keep what backward needs).
    return scope(() => this.fiam(h, H, W, t, ab));
  }

  private fiam(h: Tensor, H: number, W: number, t: TextFeatures, ab: Ablation): { out: Tensor; next: Tensor | null; H: number; W: number } {
    const needFused = !this.s.last || !ab.context;
    const R = ab.context ? this.context_pixel_attn.forward(h, t.fC, t.mC) : null;
    let fused: Tensor | null = null;
    if (needFused) {
      const terms: Tensor[] = [];
      if (R) terms.push(mul(this.context_tanh_gate.forward(R), R));
      if (ab.opab) {
        const o = this.object_position_align_blk.forward(h, H, W, t.fG, t.mG, t.fS, t.mS, { object: ab.object, spatial: ab.spatial });
        if (o) terms.push(o);
      }
      if (terms.length === 0) fused = h;
      else {
        let delta = terms.reduce((a, b) => add(a, b));
        if (ab.channel_modulation) delta = mul(delta, channelGate(h, this.fc1, this.fc2));
        fused = add(h, delta);
      }
    }
    const out = R ?? (ab.context_off_feature === 'fused' ? fused! : h);
    if (this.s.last || !this.downsample) return { out, next: null, H, W };
    const m = this.downsample.forward(fused!, H, W);
    return { out, next: m.x, H: m.H, W: m.W };
  }

  override dispose(): void {
    for (const m of this.maskCache.values()) m.dispose();
    this.maskCache.clear();
    super.dispose();
  }
}
