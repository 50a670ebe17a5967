// Swin Transformer pieces as FIANet uses them (FIANET.md §6): patch embedding, the (shifted) window block with
// zero padding to a window multiple after LN1, patch merging with the x0,x1,x2,x3 channel order.
import type { Tensor } from '../../tensor/tensor.ts';
import { scope } from '../../tensor/scope.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { gelu } from '../../kernels/elementwise/elementwise.op.ts';
import { pad, permute, reshape, roll } from '../../kernels/movement/movement.op.ts';
import { cropFromWindow, padToWindow, windowPartition, windowReverse } from '../../kernels/attention/swin.ts';
import { Module } from '../../nn/module.ts';
import { Linear, type InitOptions } from '../../nn/layers.ts';
import { LayerNorm } from '../../nn/norm.ts';
import { Conv2d } from '../../nn/conv.ts';
import { WindowAttention } from '../../nn/attention.ts';
import { DropPath } from '../../nn/regularize.ts';
import type { Generator } from '../../tensor/random.ts';

// Backbone Linears: trunc_normal(std 0.02), bias 0 (FIANET.md §11).
export const tnLinear = (i: number, o: number, bias: boolean, init: InitOptions) => new Linear(i, o, bias, { ...init, init: 'trunc_normal', std: 0.02 });

export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(dim: number, hidden: number, init: InitOptions) {
    super();
    this.fc1 = this.registerModule('fc1', tnLinear(dim, hidden, true, init));
    this.fc2 = this.registerModule('fc2', tnLinear(hidden, dim, true, init));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}

export class SwinBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention;
  readonly drop_path: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(readonly dim: number, heads: number, readonly ws: number, readonly shift: number, dropPath: number, mlpRatio: number,
    init: InitOptions, gen: Generator | undefined) {
    super();
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, 1e-5, init));
    this.attn = this.registerModule('attn', new WindowAttention(dim, ws, heads, init));
    this.drop_path = this.registerModule('drop_path', new DropPath(dropPath, gen));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, 1e-5, init));
    this.mlp = this.registerModule('mlp', new Mlp(dim, Math.round(dim * mlpRatio), init));
  }

  /** x (B, H*W, C) on an H x W grid; mask (nW, N, N) of 0/-100 for shifted blocks on the padded grid. */
  forward(x: Tensor, H: number, W: number, mask: Tensor | null): Tensor {
    // A scope per block frees its temporaries as soon as the block is done (saved tensors keep what backward needs).
    return scope(() => this.run(x, H, W, mask));
  }

  private run(x: Tensor, H: number, W: number, mask: Tensor | null): Tensor {
    const [B, L, C] = x.shape as [number, number, number];
    if (L !== H * W) throw new Error(`SwinBlock: ${shapeStr(x.shape)} does not hold a ${H}x${W} grid`);
    // LN1, then zero-pad to a window multiple: padded tokens attend and are attended to (no key mask).
    let h = padToWindow(reshape(this.norm1.forward(x), [B, H, W, C]), this.ws);
    const [Hp, Wp] = [h.shape[1]!, h.shape[2]!];
    if (this.shift) h = roll(h, [-this.shift, -this.shift], [1, 2]);
    const win = this.attn.forward(windowPartition(h, this.ws), this.shift ? mask : null);
    let back = windowReverse(win, this.ws, Hp, Wp);
    if (this.shift) back = roll(back, [this.shift, this.shift], [1, 2]);
    const a = reshape(cropFromWindow(back, H, W), [B, L, C]);
    const x1 = this.drop_path.addTo(x, a);
    return this.drop_path.addTo(x1, this.mlp.forward(this.norm2.forward(x1)));
  }
}

export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  readonly norm: LayerNorm;
  constructor(readonly patch: number, inChannels: number, readonly dim: number, init: InitOptions) {
    super();
    this.proj = this.registerModule('proj', new Conv2d(inChannels, dim, patch, { stride: patch, ...init }));
    this.norm = this.registerModule('norm', new LayerNorm(dim, 1e-5, init));
  }
  /** images (B, 3, H, W) -> tokens (B, Hp*Wp, C) with the grid size. Pads right/bottom to a patch multiple. */
  forward(x: Tensor): { x: Tensor; H: number; W: number } {
    const [, , H, W] = x.shape as [number, number, number, number];
    const ph = (this.patch - (H % this.patch)) % this.patch;
    const pw = (this.patch - (W % this.patch)) % this.patch;
    const y = this.proj.forward(ph || pw ? pad(x, [0, pw, 0, ph]) : x);
    const [B, C, h, w] = y.shape as [number, number, number, number];
    return { x: this.norm.forward(permute(reshape(y, [B, C, h * w]), [0, 2, 1])), H: h, W: w };
  }
}

export class PatchMerging extends Module {
  readonly norm: LayerNorm;
  readonly reduction: Linear;
  constructor(readonly dim: number, init: InitOptions) {
    super();
    this.norm = this.registerModule('norm', new LayerNorm(4 * dim, 1e-5, init));
    this.reduction = this.registerModule('reduction', tnLinear(4 * dim, 2 * dim, false, init));
  }
  /** (B, H*W, C) -> (B, ceil(H/2)*ceil(W/2), 2C). */
  forward(x: Tensor, H: number, W: number): { x: Tensor; H: number; W: number } {
    const [B, , C] = x.shape as [number, number, number];
    let g = reshape(x, [B, H, W, C]);
    if (H % 2 || W % 2) g = pad(g, [0, 0, 0, W % 2, 0, H % 2]);
    // torch.cat([x0, x1, x2, x3], -1) with x0 = (even row, even col), x1 = (odd row, even col), x2 = (even row,
    // odd col), x3 = (odd row, odd col): channel block (col parity, row parity) of pixel (i, j). As a view
    // (B, h, 2, w, 2, C) -> (B, h, w, col parity, row parity, C) it is one copy, and its gradient one copy back,
    // instead of four strided slices, a concat and four zero-filled slice gradients summed.
    const [h, w] = [g.shape[1]! / 2, g.shape[2]! / 2];
    const cat = reshape(permute(reshape(g, [B, h, 2, w, 2, C]), [0, 1, 3, 4, 2, 5]), [B, h * w, 4 * C]);
    return { x: this.reduction.forward(this.norm.forward(cat)), H: h, W: w };
  }
}
