// `fianet eval RUN_DIR|CKPT --split val|test [--save-preds] [--text-ablation swap]`: metrics.json (oIoU, mIoU,
// Pr@X, per class and category, protocol), a per-sample CSV, optional prediction PNGs and a gallery of the best
// and worst samples per category (image, expression, ground truth, prediction).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { readFileSync } from 'node:fs';
import * as F from '../index.ts';
import { validate } from '../config/schema.ts';
import { checkConfig, CONFIG_SCHEMA, type FianetConfig } from '../config/fianet.ts';
import { FIANet } from '../models/fianet/model.ts';
import { loadCheckpoint } from '../models/fianet/weights.ts';
import { prepareData } from '../train/data.ts';
import { evaluate } from '../train/evaluate.ts';
import { sampleKey, swappedSentences } from '../train/text-ablation.ts';
import { writeFileAtomic } from '../train/run-dir.ts';
import { writePng } from '../data/image-io.ts';
import { resizeBilinear, resizeNearestU8 } from '../data/transforms.ts';
import type { SampleRecord, Split } from '../data/types.ts';
import type { SampleScore } from '../data/metrics.ts';

export interface EvalCliOptions {
  target: string;
  split: Split;
  checkpoint?: 'best' | 'last';
  savePreds?: boolean;
  textAblation?: 'none' | 'swap';
  gallery?: number;
  quiet?: boolean;
  /** Overwrite an existing eval/<split>/ folder. */
  force?: boolean;
}

/** A run folder, or a checkpoint inside one (its config.yaml is two levels up). */
export function resolveRun(target: string, which: 'best' | 'last' = 'best'): { runDir: string; ckpt: string; cfg: FianetConfig } {
  let runDir = target;
  let ckpt = path.join(target, 'checkpoints', `${which}.safetensors`);
  if (existsSync(target) && statSync(target).isFile()) {
    ckpt = target;
    runDir = path.dirname(path.dirname(target));
  }
  const cfgFile = path.join(runDir, 'config.yaml');
  if (!existsSync(cfgFile)) throw new Error(`eval: ${cfgFile} not found: pass a run folder, or a checkpoint inside one`);
  if (!existsSync(ckpt)) throw new Error(`eval: checkpoint ${ckpt} not found`);
  const cfg = validate(yaml.load(readFileSync(cfgFile, 'utf8')), CONFIG_SCHEMA, '', cfgFile) as unknown as FianetConfig;
  checkConfig(cfg, cfgFile);
  return { runDir, ckpt, cfg };
}

const csvCell = (v: unknown) => (typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));

export async function runEval(o: EvalCliOptions): Promise<Record<string, unknown>> {
  const { runDir, ckpt, cfg } = resolveRun(o.target, o.checkpoint);
  const device = await F.initDevice(cfg.device);
  const data = await prepareData(cfg);
  const records = data.splits[o.split];
  if (!records.length) throw new Error(`eval: the ${o.split} split of ${data.root} is empty`);
  const model = new FIANet(cfg.model, { device, skipInit: true, imageSize: cfg.data.image_size });
  await loadCheckpoint(model, ckpt);
  const swap = o.textAblation === 'swap' ? swappedSentences(records, cfg.train.seed) : null;
  const outDir = path.join(runDir, 'eval', `${o.split}${swap ? '-textswap' : ''}${o.checkpoint === 'last' ? '-last' : ''}`);
  if (existsSync(path.join(outDir, 'metrics.json')) && !o.force) {
    throw new Error(`eval: ${outDir} already holds results; pass --force to overwrite them`);
  }
  mkdirSync(outDir, { recursive: true });
  const S = cfg.data.image_size;
  const preds = new Map<string, Uint8Array>();
  const keepPreds = o.savePreds || (o.gallery ?? 4) > 0;
  const ev = await evaluate(model, cfg, data, records, {
    sentenceFor: swap ? (r) => swap.get(sampleKey(r)) ?? r.sentence : undefined,
    onBatch: keepPreds ? (b, p) => { b.records.forEach((r, i) => preds.set(sampleKey(r), p.slice(i * S * S, (i + 1) * S * S))); } : undefined,
  });
  const m = ev.metrics;
  const result = {
    split: o.split, checkpoint: ckpt, text_ablation: o.textAblation ?? 'none',
    resolution: m.protocol === 'network' ? `${S}x${S} (network size, nearest-resized ground truth)` : 'original',
    images_per_s: ev.imagesPerSec, ...m,
  };
  writeFileAtomic(path.join(outDir, 'metrics.json'), JSON.stringify(result, null, 1));
  const rows = ['ref_id,sent_id,category,sentence,I,U,IoU', ...ev.samples.map((s) => [s.refId, s.sentId, s.category, s.sentence, s.I, s.U, s.iou.toFixed(6)].map(csvCell).join(','))];
  writeFileAtomic(path.join(outDir, 'samples.csv'), rows.join('\n') + '\n');
  if (o.savePreds) {
    for (const [k, p] of preds) await writePng(path.join(outDir, 'preds', `${k.replace(':', '-')}.png`), { width: S, height: S, bitDepth: 8, data: p.map((v) => v * 255) });
  }
  if ((o.gallery ?? 4) > 0) await writeGallery(outDir, ev.samples, records, preds, data.loadSample, S, o.gallery ?? 4, swap);
  if (!o.quiet) {
    console.log(`${o.split}${swap ? ' (text swapped)' : ''}: oIoU ${m.oIoU.toFixed(2)} mIoU ${m.mIoU.toFixed(2)} ` +
      Object.entries(m.precision).map(([k, v]) => `Pr@${k} ${v.toFixed(2)}`).join(' ') + ` [${m.protocol} protocol, ${m.count} samples]`);
    console.log(`wrote ${outDir}/metrics.json, samples.csv${o.savePreds ? ', preds/' : ''}${(o.gallery ?? 4) > 0 ? ', gallery.html' : ''}`);
  }
  model.dispose();
  return result;
}

/** Best and worst k per category: image | ground truth | prediction, with the expression, as PNGs plus one HTML page. */
async function writeGallery(outDir: string, samples: SampleScore[], records: SampleRecord[], preds: Map<string, Uint8Array>,
  loadSample: (r: SampleRecord) => Promise<{ image: { width: number; height: number; data: Uint8Array } }>, S: number, k: number, swap: Map<string, string> | null): Promise<void> {
  const byKey = new Map(records.map((r) => [`${r.refId}:${r.sentId}`, r]));
  const cats = new Map<string, SampleScore[]>();
  for (const s of samples) {
    const c = s.category || 'other';
    if (!cats.has(c)) cats.set(c, []);
    cats.get(c)!.push(s);
  }
  const html: string[] = ['<!doctype html><meta charset="utf-8"><title>fianet gallery</title><style>body{font-family:sans-serif} img{image-rendering:pixelated;width:384px} td{padding:4px;vertical-align:top}</style>'];
  mkdirSync(path.join(outDir, 'gallery'), { recursive: true });
  for (const [cat, list] of [...cats].sort()) {
    const sorted = [...list].sort((a, b) => b.iou - a.iou);
    const picks = [...sorted.slice(0, k).map((s) => ['best', s] as const), ...sorted.slice(-k).reverse().map((s) => ['worst', s] as const)];
    html.push(`<h2>${cat}</h2><table>`);
    for (const [kind, s] of picks) {
      const r = byKey.get(`${s.refId}:${s.sentId}`)!;
      const pred = preds.get(sampleKey(r));
      if (!pred) continue;
      const sample = await loadSample(r);
      const img = resizeBilinear(sample.image as never, S, S);
      const gtSmall = (sample as unknown as { mask: { width: number; height: number; data: Uint8Array } }).mask;
      const gt = resizeNearestU8(gtSmall.data, gtSmall.width, gtSmall.height, S, S);
      const strip = new Uint8Array(S * 3 * S * 3);
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const i = y * S + x;
          for (let c = 0; c < 3; c++) {
            const v = img.data[i * 3 + c]!;
            strip[(y * 3 * S + x) * 3 + c] = v;
            strip[(y * 3 * S + S + x) * 3 + c] = gt[i] ? (c === 1 ? 255 : v >> 1) : v >> 1;
            strip[(y * 3 * S + 2 * S + x) * 3 + c] = pred[i] ? (c === 0 ? 255 : v >> 1) : v >> 1;
          }
        }
      }
      const name = `gallery/${cat.replace(/\W+/g, '_')}-${kind}-${s.refId}-${s.sentId}.png`;
      await writePng(path.join(outDir, name), { width: 3 * S, height: S, data: strip });
      const text = swap ? `${escapeHtml(swap.get(sampleKey(r)) ?? s.sentence)} <small>(swapped; own: ${escapeHtml(s.sentence)})</small>` : escapeHtml(s.sentence);
      html.push(`<tr><td><img src="${name}"></td><td>${kind} · IoU ${(100 * s.iou).toFixed(1)}<br>${text}<br><small>image | ground truth (green) | prediction (red)</small></td></tr>`);
    }
    html.push('</table>');
  }
  writeFileAtomic(path.join(outDir, 'gallery.html'), html.join('\n'));
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
