// Inference on one image and one expression: the same preprocessing as the loaders (Pillow-exact bilinear
// resize, ImageNet normalization, WordPiece ids, phrase masks), argmax over the two logits, and the mask
// resized back to the image with nearest.
import * as F from '../../index.ts';
import type { BinaryMask, DatasetName, RgbImage } from '../../data/types.ts';
import { normalizeImageNet, resizeBilinear, resizeNearestU8 } from '../../data/transforms.ts';
import { bertSentenceEncoder } from '../../data/loader.ts';
import type { BertTokenizer } from '../../data/tokenizer.ts';
import type { PhraseMode } from '../../data/phrases.ts';
import type { FIANet } from './model.ts';

export interface PredictOptions {
  imageSize: number;
  textLength: number;
  dataset: DatasetName;
  phraseMode?: PhraseMode;
  tokenizer?: BertTokenizer;
}

export interface Prediction {
  /** At the image's own resolution. */
  mask: BinaryMask;
  /** At the network resolution (imageSize x imageSize). */
  networkMask: BinaryMask;
  /** Fraction of foreground pixels. */
  coverage: number;
}

export async function predictMask(model: FIANet, image: RgbImage, text: string, o: PredictOptions): Promise<Prediction> {
  const S = o.imageSize;
  const pixels = normalizeImageNet(resizeBilinear(image, S, S));
  const record = { dataset: o.dataset, split: 'test', refId: 0, imageId: 0, annId: 0, sentId: 0, sentence: text, category: '', imagePath: '' } as const;
  const enc = bertSentenceEncoder(o.dataset, o.textLength, o.phraseMode ?? 'official', o.tokenizer)(text, record);
  const wasTraining = model.training;
  model.eval();
  const device = model.backbone.patch_embed.proj.weight.device;
  const pred = F.noGrad(() => F.scope(() => {
    const t = (a: Int32Array) => F.fromArray(a, [1, o.textLength], { device, dtype: 'i32' });
    const logits = model.forward(F.fromArray(pixels, [1, 3, S, S], { device }), t(enc.inputIds), t(enc.attentionMask), t(enc.objectMask), t(enc.spatialMask));
    return F.keep(F.argmax(logits, 1));
  }));
  const net = Uint8Array.from(await pred.toArray());
  pred.dispose();
  model.train(wasTraining);
  const full = resizeNearestU8(net, S, S, image.width, image.height);
  return {
    mask: { width: image.width, height: image.height, data: full },
    networkMask: { width: S, height: S, data: net },
    coverage: net.reduce((a, v) => a + v, 0) / net.length,
  };
}
