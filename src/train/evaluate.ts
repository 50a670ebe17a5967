// Evaluation of a model on a split: batch-wise forward in eval mode (no graph), argmax at the network size,
// per-sample IoU, oIoU, mIoU, Pr@X and per-category breakdowns, with the protocol named in the result.
import * as F from '../index.ts';
import type { FianetConfig } from '../config/fianet.ts';
import type { SampleRecord } from '../data/types.ts';
import { DataLoader, bertSentenceEncoder, type LoadedBatch } from '../data/loader.ts';
import { MetricAccumulator, type MetricsResult, type SampleScore } from '../data/metrics.ts';
import type { FIANet } from '../models/fianet/model.ts';
import type { RunData } from './data.ts';

export interface EvalOptions {
  batchSize?: number;
  /** Called per batch with the network-size predictions (B·S·S bytes) for saving. */
  onBatch?: (batch: LoadedBatch, pred: Uint8Array) => Promise<void> | void;
  /** Replaces each record's sentence (text ablations). */
  sentenceFor?: (r: SampleRecord) => string;
}

export interface EvalResult {
  metrics: MetricsResult;
  samples: SampleScore[];
  imagesPerSec: number;
  seconds: number;
}

export function batchTensors(b: LoadedBatch, device: F.DeviceName) {
  const S = b.imageSize;
  const L = b.textLength;
  const t = (a: Int32Array) => F.fromArray(a, [b.size, L], { device, dtype: 'i32' });
  return {
    images: F.fromArray(b.images, [b.size, 3, S, S], { device }),
    ids: t(b.tokenIds), mC: t(b.contextMask), mG: t(b.objectMask), mS: t(b.spatialMask),
    masks: F.fromArray(Int32Array.from(b.masks), [b.size, S, S], { device, dtype: 'i32' }),
  };
}

export async function evaluate(model: FIANet, cfg: FianetConfig, data: RunData, records: SampleRecord[], o: EvalOptions = {}): Promise<EvalResult> {
  const device = model.backbone.patch_embed.proj.weight.device;
  const enc = bertSentenceEncoder(cfg.data.dataset, cfg.data.text_length, cfg.data.phrase_mode);
  const loader = new DataLoader({
    records, loadSample: data.loadSample, batchSize: o.batchSize ?? cfg.train.batch_size, imageSize: cfg.data.image_size,
    textLength: cfg.data.text_length, mode: 'eval', shuffle: false, dropLast: false, prefetch: cfg.data.prefetch,
    keepOriginalMasks: cfg.eval.protocol === 'original',
    encodeText: o.sentenceFor ? (s, r) => enc(o.sentenceFor!(r), r) : enc,
  });
  const acc = new MetricAccumulator({ protocol: cfg.eval.protocol, thresholds: cfg.eval.thresholds, dataset: cfg.data.dataset, keepSamples: true });
  const wasTraining = model.training;
  model.eval();
  const t0 = performance.now();
  let n = 0;
  const S = cfg.data.image_size;
  // Batch k's prediction is read back while batch k+1 runs, so the device never idles on the host's recording.
  type Pending = { b: LoadedBatch; pred: F.Tensor; values: Promise<ArrayLike<number>> };
  const finish = async (q: Pending): Promise<void> => {
    const p = Uint8Array.from(await q.values);
    q.pred.dispose();
    for (let i = 0; i < q.b.size; i++) {
      const pm = { width: S, height: S, data: p.subarray(i * S * S, (i + 1) * S * S) };
      const gt = cfg.eval.protocol === 'original' && q.b.originalMasks ? q.b.originalMasks[i]! : { width: S, height: S, data: q.b.masks.subarray(i * S * S, (i + 1) * S * S) };
      acc.add(pm, gt, q.b.records[i]!);
    }
    n += q.b.size;
    await o.onBatch?.(q.b, p);
  };
  let pending: Pending | null = null;
  for await (const b of loader.epoch(0)) {
    const pred = F.noGrad(() => F.scope(() => {
      const x = batchTensors(b, device);
      return F.keep(F.argmax(model.forward(x.images, x.ids, x.mC, x.mG, x.mS), 1));
    }));
    const next: Pending = { b, pred, values: pred.toArray() };
    if (pending) await finish(pending);
    pending = next;
  }
  if (pending) await finish(pending);
  model.train(wasTraining);
  const seconds = (performance.now() - t0) / 1000;
  return { metrics: acc.result(), samples: acc.samples, imagesPerSec: n / seconds, seconds };
}
