// RRSIS-D reader, following REFER + RMSIN/FIANet `*_refer_bert.py` (DATASETS.md §3):
//   <root>/rrsisd/refs(unc).p  -> refs (list of dicts; split filter keeps pickle order)
//   <root>/rrsisd/instances.json -> images / annotations / categories, indexed by id
//   <root>/images/rrsisd/JPEGImages/<file_name>
// Links always go ref -> ann_id -> annotation and ref -> image_id -> image, never through the
// "all four ids are equal" convention the real data happens to follow.
//
// Documented behaviours:
//   - Split: 'train'/'val' match exactly, 'test' matches any split containing "test" (getRefIds).
//   - bbox is xyxy and `area` is garbage (§3.3): neither is used; the annotation's category key is
//     `categories_id` and is ignored too, because the loaders take the category from the ref.
//   - Category: the ref's category_id looked up in instances.json `categories` (the dataset's own
//     names, e.g. 'baseballfield'); `categoryPhrase` carries the expression wording (§3.4).
//   - Size mismatch (§3.7): the image is decoded at the JPEG's size and the mask at the RLE's size,
//     and they are returned as they are. Like the reference, nothing asserts they agree; the
//     transform resizes each to 480x480 on its own. `onWarning` is told about it.
//   - Sentences: one record per ref with every sentence in `sentences`; `sentence` is the first.
//     Training picks one at random; evaluation scores each (`expandSentences`).

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { annToMask } from './coco.ts';
import { readRgbImage } from './image-io.ts';
import { loadRefs, type ReferRef } from './refer-cache.ts';
import type { BinaryMask, Sample, SampleRecord, Split } from './types.ts';

/** §3.4: instances.json category names by id, and the wording expressions use. */
export const RRSISD_CATEGORIES: readonly { id: number; name: string; phrase: string }[] = [
  ['Expressway-Service-area', 'expressway service area'], ['Expressway-toll-station', 'expressway toll station'],
  ['airplane', 'airplane'], ['airport', 'airport'], ['baseballfield', 'baseball field'],
  ['basketballcourt', 'basketball court'], ['bridge', 'bridge'], ['chimney', 'chimney'], ['dam', 'dam'],
  ['golffield', 'golf field'], ['groundtrackfield', 'ground track field'], ['harbor', 'harbor'],
  ['overpass', 'overpass'], ['ship', 'ship'], ['stadium', 'stadium'], ['storagetank', 'storage tank'],
  ['tenniscourt', 'tennis court'], ['trainstation', 'train station'], ['vehicle', 'vehicle'], ['windmill', 'windmill'],
].map(([name, phrase], id) => ({ id, name: name!, phrase: phrase! }));

/** §3.6, for the doctor: split sizes of the real release. */
export const RRSISD_EXPECTED_COUNTS: Record<Split, number> = { train: 12181, val: 1740, test: 3481 };

export interface RRSISDSentence {
  sentId: number;
  raw: string;
}

export interface RRSISDRecord extends SampleRecord {
  dataset: 'rrsisd';
  categoryId: number;
  categoryPhrase: string;
  /** Every sentence of the ref, in pickle order. */
  sentences: RRSISDSentence[];
  /** The annotation's `segmentation`, verbatim (a list holding one RLE dict in the real data). */
  segmentation: unknown;
  /** The image entry's [height, width]; polygons are rasterised at this size. */
  annotationSize: [number, number];
  /** The ref's split string as stored (e.g. 'testA' would still land in 'test'). */
  rawSplit: string;
  /** instances.json path, for error messages. */
  instancesPath: string;
}

export class RRSISDError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'RRSISDError';
  }
}

export interface RRSISDPaths {
  refs: string;
  instances: string;
  imageDir: string;
}

/** The path logic of REFER (§3.1); the parentheses in `refs(unc).p` are literal. */
export function rrsisdPaths(root: string): RRSISDPaths {
  const dataDir = path.join(root, 'rrsisd');
  return {
    refs: path.join(dataDir, 'refs(unc).p'),
    instances: path.join(dataDir, 'instances.json'),
    imageDir: path.join(root, 'images', 'rrsisd', 'JPEGImages'),
  };
}

/** getRefIds(split=...) as REFER does it. */
export function refInSplit(refSplit: string, split: Split): boolean {
  return split === 'test' ? refSplit.includes('test') : refSplit === split;
}

export interface RRSISDInstances {
  images: { id: number; file_name: string; height: number; width: number }[];
  annotations: { id: number; image_id: number; segmentation: unknown }[];
  categories: { id: number; name: string }[];
}

export interface RRSISDIndex {
  paths: RRSISDPaths;
  refs: ReferRef[];
  images: Map<number, RRSISDInstances['images'][number]>;
  anns: Map<number, RRSISDInstances['annotations'][number]>;
  cats: Map<number, string>;
  /** The parsed instances.json, for checks that need the raw lists (duplicates). */
  instances: RRSISDInstances;
}

/** Load and index the pickle and the JSON once (the doctor reuses this). */
export async function loadRRSISDIndex(root: string): Promise<RRSISDIndex> {
  const paths = rrsisdPaths(root);
  let inst: RRSISDInstances;
  let text: string;
  try {
    text = await fs.readFile(paths.instances, 'utf8');
  } catch {
    throw new RRSISDError(paths.instances, 'instances.json is missing or unreadable');
  }
  try {
    inst = JSON.parse(text) as RRSISDInstances;
  } catch (err) {
    throw new RRSISDError(paths.instances, `invalid JSON (${(err as Error).message})`);
  }
  for (const k of ['images', 'annotations', 'categories'] as const) {
    if (!Array.isArray(inst[k])) throw new RRSISDError(paths.instances, `top-level "${k}" is not a list`);
  }
  const refs = await loadRefs(paths.refs);
  // Later entries overwrite earlier ones, like REFER's dict indexes; the doctor reports duplicates.
  const images = new Map(inst.images.map((im) => [im.id, im] as const));
  const anns = new Map(inst.annotations.map((a) => [a.id, a] as const));
  const cats = new Map(inst.categories.map((c) => [c.id, c.name] as const));
  return { paths, refs, images, anns, cats, instances: inst };
}

/** Records for one split from an index. Throws on refs that point at nothing. */
export function recordsFromIndex(index: RRSISDIndex, split: Split): RRSISDRecord[] {
  const { paths, refs, images, anns, cats } = index;
  const out: RRSISDRecord[] = [];
  for (const ref of refs) {
    if (!refInSplit(ref.split, split)) continue;
    const ann = anns.get(ref.ann_id);
    if (!ann) throw new RRSISDError(paths.instances, `ref ${ref.ref_id} names ann_id ${ref.ann_id}, which has no annotation`);
    const img = images.get(ref.image_id);
    if (!img) throw new RRSISDError(paths.instances, `ref ${ref.ref_id} names image_id ${ref.image_id}, which has no image entry`);
    const sentences = ref.sentences.map((s) => ({ sentId: s.sent_id, raw: s.raw }));
    out.push({
      dataset: 'rrsisd',
      split,
      rawSplit: ref.split,
      refId: ref.ref_id,
      imageId: ref.image_id,
      annId: ref.ann_id,
      sentId: sentences[0]!.sentId,
      sentence: sentences[0]!.raw,
      sentences,
      categoryId: ref.category_id,
      category: cats.get(ref.category_id) ?? RRSISD_CATEGORIES[ref.category_id]?.name ?? '',
      categoryPhrase: RRSISD_CATEGORIES[ref.category_id]?.phrase ?? '',
      imagePath: path.join(paths.imageDir, img.file_name),
      segmentation: ann.segmentation,
      annotationSize: [img.height, img.width],
      instancesPath: paths.instances,
    });
  }
  return out;
}

/** One record per ref of `split`, in pickle order. */
export async function readRRSISD(root: string, split: Split): Promise<RRSISDRecord[]> {
  return recordsFromIndex(await loadRRSISDIndex(root), split);
}

/** One record per (ref, sentence), for evaluation that scores every sentence separately. */
export function expandSentences(records: readonly RRSISDRecord[]): RRSISDRecord[] {
  return records.flatMap((r) => r.sentences.map((s) => ({ ...r, sentId: s.sentId, sentence: s.raw })));
}

/** Decode a record's mask only (column-major RLE -> row-major 0/1). */
export function rrsisdMask(record: RRSISDRecord): BinaryMask {
  const [h, w] = record.annotationSize;
  return annToMask({ id: record.annId, segmentation: record.segmentation }, h, w, { file: record.instancesPath, annId: record.annId });
}

/**
 * Decode image and mask. Sizes may differ (see the header); `onWarning` hears about it.
 * The image goes through Pillow-like convert('RGB') even though the reference skips it (§3.5).
 */
export async function loadRRSISDSample(record: RRSISDRecord, opts: { onWarning?: (msg: string) => void } = {}): Promise<Sample> {
  // Mask first: it is synchronous, and a bad RLE should fail before any file is opened.
  const mask = rrsisdMask(record);
  const image = await readRgbImage(record.imagePath);
  if (image.width !== mask.width || image.height !== mask.height) {
    opts.onWarning?.(
      `${record.imagePath}: image is ${image.width}x${image.height} but annotation ${record.annId} is ` +
        `${mask.width}x${mask.height}; both are resized to the model size separately, as the reference does`,
    );
  }
  return { ...record, image, mask };
}
