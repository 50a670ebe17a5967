// FIANet (FIANET.md §1): BERT runs three times (full sentence, ground-object words, spatial words) as one batch
// of 3B; the Swin backbone with a FIAM after each stage produces out_1..4 = norm_i(R_i); TMEM enhances them with
// the sentence; SimpleDecoding predicts 2-class logits, bilinearly upsampled (align_corners=True) to the input.
// Module and attribute names equal the official state-dict key segments (backbone.*, text_encoder.*, classifier.*).
import type { Tensor } from '../../tensor/tensor.ts';
import { fromArray } from '../../tensor/tensor.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { Generator } from '../../tensor/random.ts';
import { add, cast } from '../../kernels/elementwise/elementwise.op.ts';
import { concat, copyInto, fillInto, permute, reshape, split } from '../../kernels/movement/movement.op.ts';
import { interpolate } from '../../kernels/resample/resample.op.ts';
import { Module } from '../../nn/module.ts';
import { Linear, ModuleList, normalTensor, type InitOptions } from '../../nn/layers.ts';
import { LayerNorm } from '../../nn/norm.ts';
import { dropPathRates } from '../../nn/regularize.ts';
import { BertModel } from './bert.ts';
import { PatchEmbed } from './swin.ts';
import { FianetStage } from './stage.ts';
import { TMEM } from './tmem.ts';
import { SimpleDecoding } from './decoder.ts';
import type { ModelConfig, TextFeatures } from './types.ts';

export interface FianetInit {
  device?: Tensor['device'];
  seed?: number;
  /** Allocate parameters without drawing initial values (parameter counting, or before loading weights). */
  skipInit?: boolean;
  /** Input side the model is built for: sizes the optional absolute position table (default 480). */
  imageSize?: number;
}

export class MultiModalSwin extends Module {
  readonly patch_embed: PatchEmbed;
  /** (1, tokens, C), Swin's optional absolute position embedding (ape); null in FIANet. */
  readonly absolute_pos_embed: Tensor | null;
  readonly layers: ModuleList<FianetStage>;
  readonly norms: LayerNorm[];
  readonly tmem: TMEM | null;
  readonly widths: number[];

  constructor(readonly c: ModelConfig, init: InitOptions, gen: Generator, imageSize = 480) {
    super();
    const b = c.backbone;
    this.widths = b.depths.map((_, i) => b.embed_dim * 2 ** i);
    this.patch_embed = this.registerModule('patch_embed', new PatchEmbed(b.patch_size, 3, b.embed_dim, init));
    // The table is sized for the input resolution the model is built for (no interpolation to other sizes).
    const grid = Math.ceil(imageSize / b.patch_size);
    this.absolute_pos_embed = b.ape
      ? this.registerParameter('absolute_pos_embed', normalTensor([1, grid * grid, b.embed_dim], 0.02, init))
      : null;
    const rates = dropPathRates(b.depths.reduce((a, d) => a + d, 0), b.drop_path_rate);
    let at = 0;
    this.layers = this.registerModule('layers', new ModuleList(b.depths.map((depth, i) => {
      const stage = new FianetStage({
        dim: this.widths[i]!, depth, heads: b.num_heads[i]!, windowSize: b.window_size, mlpRatio: b.mlp_ratio,
        dropPaths: rates.slice(at, at + depth), textDim: c.text.hidden_size, fusionHeads: c.fusion_heads[i] ?? 1,
        downsample: i < b.depths.length - 1, last: i === b.depths.length - 1,
      }, init, gen);
      at += depth;
      return stage;
    })));
    this.norms = this.widths.map((w, i) => this.registerModule(`norm${i}`, new LayerNorm(w, 1e-5, init)));
    this.tmem = c.ablation.tmem ? this.registerModule('tmem', new TMEM(this.widths, c.text.hidden_size, c.num_tmem, init)) : null;
  }

  /** images (B, 3, H, W) -> the four maps handed to the decoder, (B, C_i, H_i, W_i). */
  forward(images: Tensor, t: TextFeatures): Tensor[] {
    let { x, H, W } = this.patch_embed.forward(images);
    if (this.absolute_pos_embed) {
      if (this.absolute_pos_embed.shape[1] !== H * W) {
        throw new Error(`FIANet: absolute_pos_embed holds ${this.absolute_pos_embed.shape[1]} positions, the ${H}x${W} patch grid needs ${H * W}`);
      }
      x = add(x, this.absolute_pos_embed);
    }
    const outs: Tensor[] = [];
    this.layers.items.forEach((stage, i) => {
      const r = stage.forward(x, H, W, t, this.c.ablation);
      const [B, , C] = r.out.shape as [number, number, number];
      outs.push(permute(reshape(this.norms[i]!.forward(r.out), [B, H, W, C]), [0, 3, 1, 2]));
      if (r.next) ({ x, H, W } = { x: r.next, H: r.H, W: r.W });
    });
    return this.tmem ? this.tmem.forward(outs, t.fC, t.mC) : outs;
  }
}

export class FIANet extends Module {
  readonly backbone: MultiModalSwin;
  readonly text_encoder: BertModel;
  readonly classifier: SimpleDecoding;
  readonly generator: Generator;

  constructor(readonly config: ModelConfig, o: FianetInit = {}) {
    super();
    validateModelConfig(config);
    this.generator = new Generator(o.seed ?? 0);
    const init: InitOptions = { device: o.device, generator: this.generator, skipInit: o.skipInit };
    this.backbone = this.registerModule('backbone', new MultiModalSwin(config, init, this.generator, o.imageSize));
    if (!o.skipInit) initBackboneLinears(this.backbone, this.generator);
    this.text_encoder = this.registerModule('text_encoder', new BertModel(config.text, init, this.generator));
    const widths = this.backbone.widths;
    this.classifier = this.registerModule('classifier', new SimpleDecoding(widths, config.decoder_hidden, init));
  }

  /** BERT on [ids; ids; ids] with [m_C; m_G; m_S]: one batch of 3B sequences sharing the weights. */
  encodeText(ids: Tensor, mC: Tensor, mG: Tensor, mS: Tensor): TextFeatures {
    const m = [mC, mG, mS].map((x) => cast(x, 'f32'));
    const h = this.text_encoder.forward(concat([ids, ids, ids], 0), concat(m, 0));
    const [fC, fG, fS] = split(h, [ids.shape[0]!, ids.shape[0]!, ids.shape[0]!], 0) as [Tensor, Tensor, Tensor];
    return { fC, mC: m[0]!, fG, mG: m[1]!, fS, mS: m[2]! };
  }

  /**
   * images (B, 3, H, W) normalized; tokenIds (B, L) i32; masks (B, L) of 0/1 (any dtype) -> logits (B, 2, H, W).
   */
  forward(images: Tensor, tokenIds: Tensor, contextMask: Tensor, objectMask: Tensor, spatialMask: Tensor): Tensor {
    if (images.rank !== 4 || images.shape[1] !== 3) throw new Error(`FIANet: images must be (B, 3, H, W), found ${shapeStr(images.shape)}`);
    const [B, , H, W] = images.shape as [number, number, number, number];
    for (const [name, t] of [['tokenIds', tokenIds], ['contextMask', contextMask], ['objectMask', objectMask], ['spatialMask', spatialMask]] as const) {
      if (t.rank !== 2 || t.shape[0] !== B || t.shape[1] !== tokenIds.shape[1]) {
        throw new Error(`FIANet: ${name} must be (B, L) = (${B}, ${tokenIds.shape[1]}), found ${shapeStr(t.shape)}`);
      }
    }
    if (tokenIds.dtype !== 'i32') throw new Error(`FIANet: tokenIds must be i32, found ${tokenIds.dtype}`);
    const text = this.encodeText(tokenIds, contextMask, objectMask, spatialMask);
    const [y1, y2, y3, y4] = this.backbone.forward(images, text) as [Tensor, Tensor, Tensor, Tensor];
    const logits = this.classifier.forward(y4, y3, y2, y1);
    return interpolate(logits, { size: [H, W], mode: 'bilinear', alignCorners: true });
  }
}

/** timm-style init of the backbone (FIANET.md §11): every Linear trunc_normal(0.02) with zero bias. */
function initBackboneLinears(backbone: Module, g: Generator): void {
  for (const [, m] of backbone.namedModules()) {
    if (!(m instanceof Linear)) continue;
    const w = fromArray(g.truncNormal(m.weight.size, 0.02), m.weight.shape, { device: m.weight.device });
    copyInto(w, m.weight);
    w.dispose();
    if (m.bias) fillInto(m.bias, 0);
  }
}

export function validateModelConfig(c: ModelConfig): void {
  const b = c.backbone;
  if (b.depths.length !== 4) throw new Error(`FIANet: the backbone needs 4 stages (FIAM, TMEM and the decoder read four maps), found depths [${b.depths.join(', ')}]`);
  if (b.num_heads.length !== 4) throw new Error(`FIANet: num_heads needs 4 entries, found [${b.num_heads.join(', ')}]`);
}
