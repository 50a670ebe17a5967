// SimpleDecoding (LAVT's decoder, FIANET.md §8): from the deepest map up, bilinear (align_corners=True) to the
// next skip's size, concat [upsampled, skip], two 3x3 conv-BN-ReLU (no conv bias), and a final 1x1 to 2 classes.
import type { Tensor } from '../../tensor/tensor.ts';
import { scope } from '../../tensor/scope.ts';
import { relu } from '../../kernels/elementwise/elementwise.op.ts';
import { concat } from '../../kernels/movement/movement.op.ts';
import { interpolate } from '../../kernels/resample/resample.op.ts';
import { Module } from '../../nn/module.ts';
import type { InitOptions } from '../../nn/layers.ts';
import { BatchNorm2d } from '../../nn/norm.ts';
import { Conv2d } from '../../nn/conv.ts';

export class SimpleDecoding extends Module {
  readonly conv1_4: Conv2d; readonly bn1_4: BatchNorm2d; readonly conv2_4: Conv2d; readonly bn2_4: BatchNorm2d;
  readonly conv1_3: Conv2d; readonly bn1_3: BatchNorm2d; readonly conv2_3: Conv2d; readonly bn2_3: BatchNorm2d;
  readonly conv1_2: Conv2d; readonly bn1_2: BatchNorm2d; readonly conv2_2: Conv2d; readonly bn2_2: BatchNorm2d;
  readonly conv1_1: Conv2d;

  /** channels: the four stage widths [C1, C2, C3, C4]; hidden: 512 in the paper model. */
  constructor(channels: number[], hidden: number, init: InitOptions) {
    super();
    const [c1, c2, c3, c4] = channels as [number, number, number, number];
    const c3x3 = (name: string, i: number) => this.registerModule(name, new Conv2d(i, hidden, 3, { padding: 1, bias: false, ...init }));
    const bn = (name: string) => this.registerModule(name, new BatchNorm2d(hidden, init));
    this.conv1_4 = c3x3('conv1_4', c4 + c3); this.bn1_4 = bn('bn1_4');
    this.conv2_4 = c3x3('conv2_4', hidden); this.bn2_4 = bn('bn2_4');
    this.conv1_3 = c3x3('conv1_3', hidden + c2); this.bn1_3 = bn('bn1_3');
    this.conv2_3 = c3x3('conv2_3', hidden); this.bn2_3 = bn('bn2_3');
    this.conv1_2 = c3x3('conv1_2', hidden + c1); this.bn1_2 = bn('bn1_2');
    this.conv2_2 = c3x3('conv2_2', hidden); this.bn2_2 = bn('bn2_2');
    this.conv1_1 = this.registerModule('conv1_1', new Conv2d(hidden, 2, 1, init));
  }

  private up(x: Tensor, like: Tensor): Tensor {
    const [h, w] = [like.shape[2]!, like.shape[3]!];
    // Upsample only when the deeper map is smaller than the skip (always at 480).
    if (x.shape[2]! < h || x.shape[3]! < w) return interpolate(x, { size: [h, w], mode: 'bilinear', alignCorners: true });
    return x;
  }

  private stage(x: Tensor, skip: Tensor, a: Conv2d, ba: BatchNorm2d, b: Conv2d, bb: BatchNorm2d): Tensor {
    return scope(() => {
      const h = relu(ba.forward(a.forward(concat([this.up(x, skip), skip], 1))));
      return relu(bb.forward(b.forward(h)));
    });
  }

  /** (y4, y3, y2, y1) -> logits (B, 2, H1, W1). */
  forward(y4: Tensor, y3: Tensor, y2: Tensor, y1: Tensor): Tensor {
    let x = this.stage(y4, y3, this.conv1_4, this.bn1_4, this.conv2_4, this.bn2_4);
    x = this.stage(x, y2, this.conv1_3, this.bn1_3, this.conv2_3, this.bn2_3);
    x = this.stage(x, y1, this.conv1_2, this.bn1_2, this.conv2_2, this.bn2_2);
    return this.conv1_1.forward(x);
  }
}
