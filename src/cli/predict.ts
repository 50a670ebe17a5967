// `fianet predict CKPT --image IMG --text "..." --out mask.png [--overlay overlay.png]`.
import * as F from '../index.ts';
import { FIANet } from '../models/fianet/model.ts';
import { loadCheckpoint } from '../models/fianet/weights.ts';
import { predictMask } from '../models/fianet/predict.ts';
import { readRgbImage, writePng } from '../data/image-io.ts';
import { resolveRun } from './eval.ts';

export async function runPredict(o: { target: string; image: string; text: string; out: string; overlay?: string }): Promise<void> {
  const { ckpt, cfg } = resolveRun(o.target);
  const device = await F.initDevice(cfg.device);
  const model = new FIANet(cfg.model, { device, skipInit: true, imageSize: cfg.data.image_size });
  await loadCheckpoint(model, ckpt);
  const img = await readRgbImage(o.image);
  const p = await predictMask(model, img, o.text, { imageSize: cfg.data.image_size, textLength: cfg.data.text_length, dataset: cfg.data.dataset, phraseMode: cfg.data.phrase_mode });
  await writePng(o.out, { width: img.width, height: img.height, bitDepth: 8, data: p.mask.data.map((v) => v * 255) });
  if (o.overlay) {
    const data = Uint8Array.from(img.data);
    for (let i = 0; i < p.mask.data.length; i++) {
      if (p.mask.data[i]) {
        data[i * 3] = Math.round(0.5 * data[i * 3]! + 127);
        data[i * 3 + 1] = Math.round(0.5 * data[i * 3 + 1]!);
        data[i * 3 + 2] = Math.round(0.5 * data[i * 3 + 2]!);
      }
    }
    await writePng(o.overlay, { width: img.width, height: img.height, data });
  }
  console.log(`"${o.text}": ${(100 * p.coverage).toFixed(1)}% of the image; mask ${o.out}${o.overlay ? `, overlay ${o.overlay}` : ''}`);
  model.dispose();
}
