// TMEM (FIANET.md §7): pool the four stage maps to the coarsest grid and concatenate, 1x1 down, num_tmem blocks of
// (LN -> pixel-to-word SILA -> residual, LN -> FFN -> residual) on the coarse tokens, BN, 1x1 up, split per stage,
// and a per-scale h-sigmoid injection gate: y_i = BN1(conv(x_i)) * up(hsig(BN3(conv(t_i)))) + up(BN2(conv(t_i))).
// Channel lists come from the backbone widths, so small configs work (the official code hard-codes Swin-B's).
import type { Tensor } from '../../tensor/tensor.ts';
import { scope } from '../../tensor/scope.ts';
import { add, gelu } from '../../kernels/elementwise/elementwise.op.ts';
import { permute, reshape, split } from '../../kernels/movement/movement.op.ts';
import { pyramidPoolConcat, tmemGate } from '../../kernels/tmem/tmem.op.ts';
import { Module } from '../../nn/module.ts';
import { ModuleList, type InitOptions, type Linear } from '../../nn/layers.ts';
import { LayerNorm, BatchNorm2d } from '../../nn/norm.ts';
import { Conv2d } from '../../nn/conv.ts';
import { SILA } from './fiam.ts';
import { tnLinear } from './swin.ts';
import { Indexed } from './parts.ts';

/** FeedForward: net = Sequential(Linear, GELU, Dropout, Linear, Dropout); the Linears sit at 0 and 3. */
class FeedForward extends Module {
  readonly net: Indexed<Linear>;
  constructor(dim: number, hidden: number, init: InitOptions) {
    super();
    this.net = this.registerModule('net', new Indexed({ 0: tnLinear(dim, hidden, true, init), 3: tnLinear(hidden, dim, true, init) }));
  }
  forward(x: Tensor): Tensor {
    return this.net.at[3]!.forward(gelu(this.net.at[0]!.forward(x)));
  }
}

class TMEMBlock extends Module {
  readonly norm1: LayerNorm;
  readonly tma: SILA;
  readonly norm2: LayerNorm;
  readonly ff: FeedForward;
  constructor(dim: number, textDim: number, init: InitOptions) {
    super();
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, 1e-5, init));
    this.tma = this.registerModule('tma', new SILA(dim, textDim, dim, 1, init));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, 1e-5, init));
    this.ff = this.registerModule('ff', new FeedForward(dim, 2 * dim, init));
  }
  /** T (B, n, D) coarse tokens; no self-attention among visual tokens. */
  forward(t: Tensor, fC: Tensor, mC: Tensor): Tensor {
    return scope(() => {
      const a = add(t, this.tma.forward(this.norm1.forward(t), fC, mC));
      return add(a, this.ff.forward(this.norm2.forward(a)));
    });
  }
}

class InjectionGate extends Module {
  readonly local_embedding: Conv2d;
  readonly global_embedding: Conv2d;
  readonly global_act: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly bn2: BatchNorm2d;
  readonly bn3: BatchNorm2d;
  constructor(c: number, init: InitOptions) {
    super();
    this.local_embedding = this.registerModule('local_embedding', new Conv2d(c, c, 1, init));
    this.global_embedding = this.registerModule('global_embedding', new Conv2d(c, c, 1, init));
    this.global_act = this.registerModule('global_act', new Conv2d(c, c, 1, init));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(c, init));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(c, init));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(c, init));
  }
  forward(xl: Tensor, xg: Tensor): Tensor {
    const local = this.bn1.forward(this.local_embedding.forward(xl));
    const glob = this.bn2.forward(this.global_embedding.forward(xg));
    const act = this.bn3.forward(this.global_act.forward(xg));
    return tmemGate(local, glob, act);
  }
}

export class TMEM extends Module {
  readonly down_channel: Conv2d;
  readonly block: ModuleList<TMEMBlock>;
  readonly bn: BatchNorm2d;
  readonly up_channel: Conv2d;
  readonly fusion: ModuleList<InjectionGate>;
  readonly dim: number;

  constructor(readonly channels: number[], textDim: number, numBlocks: number, init: InitOptions) {
    super();
    const total = channels.reduce((a, b) => a + b, 0);
    this.dim = Math.floor(total / 4); // Swin-B: 1920 -> 480
    this.down_channel = this.registerModule('down_channel', new Conv2d(total, this.dim, 1, init));
    this.block = this.registerModule('block', new ModuleList(Array.from({ length: numBlocks }, () => new TMEMBlock(this.dim, textDim, init))));
    this.bn = this.registerModule('bn', new BatchNorm2d(this.dim, init));
    this.up_channel = this.registerModule('up_channel', new Conv2d(this.dim, total, 1, init));
    this.fusion = this.registerModule('fusion', new ModuleList(channels.map((c) => new InjectionGate(c, init))));
  }

  /** outs[i] (B, C_i, H_i, W_i) -> y_i of the same shapes. */
  forward(outs: Tensor[], fC: Tensor, mC: Tensor): Tensor[] {
    const last = outs[outs.length - 1]!;
    const [h, w] = [last.shape[2]!, last.shape[3]!];
    const pooled = this.down_channel.forward(pyramidPoolConcat(outs, [h, w])); // (B, D, h, w)
    const B = pooled.shape[0]!;
    let t = permute(reshape(pooled, [B, this.dim, h * w]), [0, 2, 1]); // (B, h*w, D)
    for (const blk of this.block) t = blk.forward(t, fC, mC);
    const g = this.up_channel.forward(this.bn.forward(reshape(permute(t, [0, 2, 1]), [B, this.dim, h, w])));
    const parts = split(g, this.channels, 1);
    return outs.map((x, i) => this.fusion.at(i).forward(x, parts[i]!));
  }
}
