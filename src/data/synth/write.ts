// On-disk writers for the synthetic datasets, in each format's exact layout (DATASETS.md §10),
// so the real readers (src/data/refsegrs.ts, src/data/rrsisd.ts) load them unchanged.
// All encoders are other modules' (pickle, COCO RLE, sharp image I/O); this file only arranges them.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { dumpPickle, type DumpValue } from '../../io/pickle.ts';
import { encodeMask } from '../coco.ts';
import { writeFileAtomic, writeJpeg, writeTiff, type TiffCompression } from '../image-io.ts';
import { RRSISD_CATEGORIES } from '../rrsisd.ts';
import type { BinaryMask, RgbImage, Split } from '../types.ts';

// ---------------------------------------------------------------------------------------------
// RRSIS-D: <root>/rrsisd/{refs(unc).p,instances.json}, <root>/images/rrsisd/JPEGImages/<id>.jpg

export const RRSISD_LAYOUT = {
  refs: path.join('rrsisd', 'refs(unc).p'),
  instances: path.join('rrsisd', 'instances.json'),
  imageDir: path.join('images', 'rrsisd', 'JPEGImages'),
} as const;

export interface RrsisdEntry {
  id: number; // ref_id = ann_id = image_id = sent_id, as in the real data
  split: Split;
  sentence: string;
  categoryId: number;
  /** Annotation mask at the annotation size (the image entry's height/width). */
  mask: BinaryMask;
}

export function rrsisdFileName(id: number): string {
  return `${String(id).padStart(5, '0')}.jpg`;
}

export async function writeRrsisdImage(root: string, id: number, img: RgbImage, quality = 92): Promise<void> {
  await writeJpeg(path.join(root, RRSISD_LAYOUT.imageDir, rrsisdFileName(id)), img, { quality });
}

/** xyxy box in inclusive pixel indices around the mask; [0,0,0,0] for an empty mask. */
function bboxXyxy(m: BinaryMask): [number, number, number, number] {
  let x0 = m.width, y0 = m.height, x1 = -1, y1 = -1;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (!m.data[y * m.width + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1];
}

/** The refs pickle (protocol 2, list order = iteration order) and instances.json. */
export async function writeRrsisdIndex(root: string, entries: readonly RrsisdEntry[]): Promise<void> {
  const refs: DumpValue[] = entries.map((e) => {
    const sentence: DumpValue = { tokens: e.sentence.split(' '), raw: e.sentence, sent_id: e.id, sent: e.sentence };
    return {
      image_id: e.id, split: e.split, sentences: [sentence], file_name: rrsisdFileName(e.id),
      category_id: e.categoryId, ann_id: e.id, sent_ids: [e.id], ref_id: e.id,
    };
  });
  const instances = {
    images: entries.map((e) => ({ file_name: rrsisdFileName(e.id), height: e.mask.height, width: e.mask.width, id: e.id })),
    annotations: entries.map((e) => {
      let area = 0;
      for (const v of e.mask.data) area += v;
      // Real quirks kept: the key is `categories_id`, bbox is xyxy, segmentation is [RLE].
      return { bbox: bboxXyxy(e.mask), categories_id: e.categoryId, id: e.id, image_id: e.id, segmentation: [encodeMask(e.mask)], area };
    }),
    categories: RRSISD_CATEGORIES.map((c) => ({ name: c.name, id: c.id })),
  };
  await writeFileAtomic(path.join(root, RRSISD_LAYOUT.refs), dumpPickle(refs, 2));
  await writeFileAtomic(path.join(root, RRSISD_LAYOUT.instances), new TextEncoder().encode(JSON.stringify(instances)));
}

// ---------------------------------------------------------------------------------------------
// RefSegRS: <root>/images/<id>.tif, <root>/masks/<id>.tif, <root>/output_phrase_<split>.txt

export async function writeRefSegRSSample(root: string, id: number, img: RgbImage, mask: BinaryMask, compression: TiffCompression): Promise<void> {
  const grey = new Uint8Array(mask.data.length);
  for (let i = 0; i < grey.length; i++) grey[i] = mask.data[i] ? 255 : 0; // stored masks are 0/255
  await Promise.all([
    writeTiff(path.join(root, 'images', `${id}.tif`), img, { compression }),
    writeTiff(path.join(root, 'masks', `${id}.tif`), { width: mask.width, height: mask.height, bitDepth: 8, data: grey }, { compression }),
  ]);
}

export async function writeRefSegRSSplits(root: string, lines: Record<Split, { id: number; sentence: string }[]>): Promise<void> {
  for (const split of ['train', 'val', 'test'] as const) {
    const text = lines[split].map((l) => `${l.id} ${l.sentence}\n`).join('');
    await writeFileAtomic(path.join(root, `output_phrase_${split}.txt`), new TextEncoder().encode(text));
  }
}

/** Paths a generator owns under `root`; cleared before regenerating so no stale file survives. */
export function ownedPaths(format: 'rrsisd' | 'refsegrs'): string[] {
  return format === 'rrsisd'
    ? ['rrsisd', path.join('images', 'rrsisd')]
    : ['images', 'masks', 'output_phrase_train.txt', 'output_phrase_val.txt', 'output_phrase_test.txt'];
}

export async function clearOwned(root: string, format: 'rrsisd' | 'refsegrs'): Promise<void> {
  for (const p of ownedPaths(format)) await fs.rm(path.join(root, p), { recursive: true, force: true });
}
