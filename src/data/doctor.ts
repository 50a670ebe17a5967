// `fianet doctor --data ROOT --dataset rrsisd|refsegrs`: check a download before trusting it.
// Errors are things that break loading or training (missing/undecodable files, dangling ids,
// malformed RLE, duplicate ids the indexes would silently overwrite). Warnings are things the
// reference tolerates or the spec calls quirks (split sizes that differ from the paper, JPEG size !=
// annotation size, empty masks, masks that are not 0/255). Nothing here throws on bad data: every
// finding goes into the report. Repeated findings of one kind are capped (`maxPerKind`) and counted.

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { annToMask, maskArea } from './coco.ts';
import { readGreyImage, readImageSize, readRgbImage } from './image-io.ts';
import {
  readRefSegRS, REFSEGRS_EXPECTED_COUNTS, REFSEGRS_MASK_THRESHOLD, resolveRefSegRSRoot, splitFileName,
  type RefSegRSRecord,
} from './refsegrs.ts';
import { loadRRSISDIndex, refInSplit, RRSISD_EXPECTED_COUNTS, rrsisdPaths } from './rrsisd.ts';
import { SPLITS, type DatasetName, type Split } from './types.ts';

export interface DoctorReport {
  dataset: DatasetName;
  /** The folder actually read (RefSegRS may be one level down). */
  root: string;
  errors: string[];
  warnings: string[];
  summary: {
    splits: Record<Split, { count: number; expected: number }>;
    images: { checked: number; missing: number; unreadable: number; sizes: Record<string, number> };
    masks: { checked: number; empty: number; bad: number; sizeMismatch: number };
    duplicateIds: number;
    ok: boolean;
  };
}

export interface DoctorOptions {
  /** Fully decode every image (slow: ~10 ms per 800x800 JPEG) instead of reading headers only. */
  decodeImages?: boolean;
  /** At most this many messages per kind of finding; the rest are counted. Default 20. */
  maxPerKind?: number;
  /** Files checked at once. Default 8. */
  concurrency?: number;
}

class Findings {
  private counts = new Map<string, number>();
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  constructor(private readonly cap: number) {}
  add(level: 'error' | 'warning', kind: string, msg: string): void {
    const n = (this.counts.get(`${level}:${kind}`) ?? 0) + 1;
    this.counts.set(`${level}:${kind}`, n);
    if (n <= this.cap) (level === 'error' ? this.errors : this.warnings).push(msg);
  }
  error(kind: string, msg: string): void { this.add('error', kind, msg); }
  warn(kind: string, msg: string): void { this.add('warning', kind, msg); }
  finish(): void {
    for (const [key, n] of this.counts) {
      if (n <= this.cap) continue;
      const [level, kind] = key.split(':') as ['error' | 'warning', string];
      (level === 'error' ? this.errors : this.warnings).push(`... and ${n - this.cap} more ${kind} finding(s)`);
    }
  }
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

function emptySummary(): DoctorReport['summary'] {
  const splits = Object.fromEntries(SPLITS.map((s) => [s, { count: 0, expected: 0 }])) as DoctorReport['summary']['splits'];
  return { splits, images: { checked: 0, missing: 0, unreadable: 0, sizes: {} }, masks: { checked: 0, empty: 0, bad: 0, sizeMismatch: 0 }, duplicateIds: 0, ok: false };
}

const msgOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Check an image file; returns its size or undefined (and records why). */
async function checkImage(file: string, f: Findings, s: DoctorReport['summary'], decode: boolean) {
  s.images.checked++;
  if (!existsSync(file)) {
    s.images.missing++;
    f.error('missing image', `missing image: ${file}`);
    return undefined;
  }
  try {
    const size = decode ? await readRgbImage(file) : await readImageSize(file);
    const key = `${size.width}x${size.height}`;
    s.images.sizes[key] = (s.images.sizes[key] ?? 0) + 1;
    return { width: size.width, height: size.height };
  } catch (err) {
    s.images.unreadable++;
    f.error('unreadable image', `unreadable image: ${msgOf(err)}`);
    return undefined;
  }
}

export async function doctorDataset(root: string, dataset: DatasetName, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const f = new Findings(opts.maxPerKind ?? 20);
  const summary = emptySummary();
  let resolved = root;
  try {
    if (!existsSync(root) || !statSync(root).isDirectory()) f.error('layout', `dataset root ${root} is missing or not a folder`);
    else if (dataset === 'refsegrs') resolved = await doctorRefSegRS(root, f, summary, opts);
    else await doctorRRSISD(root, f, summary, opts);
  } catch (err) {
    // A reader bug or an unexpected layout: still a report, not a crash.
    f.error('unexpected', `check aborted: ${msgOf(err)}`);
  }
  f.finish();
  summary.ok = f.errors.length === 0;
  return { dataset, root: resolved, errors: f.errors, warnings: f.warnings, summary };
}

async function doctorRefSegRS(root: string, f: Findings, s: DoctorReport['summary'], opts: DoctorOptions): Promise<string> {
  const dir = resolveRefSegRSRoot(root);
  for (const sub of ['images', 'masks']) {
    if (!existsSync(path.join(dir, sub))) f.error('layout', `missing folder ${path.join(dir, sub)} (expected ${sub}/<id>.tif)`);
  }
  const byId = new Map<string, RefSegRSRecord>();
  const splitOf = new Map<string, Split>();
  for (const split of SPLITS) {
    s.splits[split].expected = REFSEGRS_EXPECTED_COUNTS[split];
    const file = path.join(dir, splitFileName(split));
    if (!existsSync(file)) { f.error('layout', `missing split file ${file}`); continue; }
    let recs: RefSegRSRecord[];
    try { recs = readRefSegRS(dir, split); } catch (err) { f.error('split file', msgOf(err)); continue; }
    s.splits[split].count = recs.length;
    if (recs.length !== REFSEGRS_EXPECTED_COUNTS[split]) {
      f.warn('split count', `${split}: ${recs.length} samples, the published split has ${REFSEGRS_EXPECTED_COUNTS[split]}`);
    }
    const seen = new Set<string>();
    for (const r of recs) {
      if (r.sentence.trim() === '') f.warn('empty expression', `${file}:${r.sentId + 1}: id ${r.idText} has an empty expression`);
      if (seen.has(r.idText)) {
        s.duplicateIds++;
        f.warn('duplicate id', `${split}: id ${r.idText} appears on several lines (same image and mask, several expressions)`);
      }
      seen.add(r.idText);
      const other = splitOf.get(r.idText);
      if (other && other !== split) {
        s.duplicateIds++;
        f.warn('cross-split id', `id ${r.idText} is in both ${other} and ${split} (same files: leakage)`);
      }
      splitOf.set(r.idText, split);
      byId.set(r.idText, r);
    }
  }
  await forEachLimit([...byId.values()], opts.concurrency ?? 8, async (r) => {
    const img = await checkImage(r.imagePath, f, s, opts.decodeImages ?? false);
    s.masks.checked++;
    if (!existsSync(r.maskPath)) { s.masks.bad++; f.error('missing mask', `missing mask: ${r.maskPath}`); return; }
    try {
      const grey = await readGreyImage(r.maskPath);
      let fg = 0;
      const values = new Set<number>();
      for (let i = 0; i < grey.data.length; i++) {
        const v = grey.data[i]!;
        if (v > REFSEGRS_MASK_THRESHOLD) fg++;
        if (values.size < 3) values.add(v);
      }
      if (fg === 0) { s.masks.empty++; f.warn('empty mask', `empty mask (no grey value > 50): ${r.maskPath}`); }
      if (values.size > 2) f.warn('mask values', `mask has more than two grey values (expected 0/255): ${r.maskPath}`);
      if (img && (img.width !== grey.width || img.height !== grey.height)) {
        s.masks.sizeMismatch++;
        f.error('size mismatch', `mask ${r.maskPath} is ${grey.width}x${grey.height} but its image is ${img.width}x${img.height}`);
      }
    } catch (err) {
      s.masks.bad++;
      f.error('unreadable mask', `unreadable mask: ${msgOf(err)}`);
    }
  });
  return dir;
}

async function doctorRRSISD(root: string, f: Findings, s: DoctorReport['summary'], opts: DoctorOptions): Promise<void> {
  const paths = rrsisdPaths(root);
  let missing = false;
  for (const [what, p] of [['refs pickle', paths.refs], ['instances.json', paths.instances], ['image folder', paths.imageDir]] as const) {
    if (!existsSync(p)) { f.error('layout', `missing ${what}: ${p}`); missing = true; }
  }
  if (missing && (!existsSync(paths.refs) || !existsSync(paths.instances))) return;
  let index;
  try { index = await loadRRSISDIndex(root); } catch (err) { f.error('parse', msgOf(err)); return; }
  const { refs, images, anns, cats } = index;

  // Duplicates: REFER's dict indexes would keep only the last one.
  const dup = <T>(items: readonly T[], key: (x: T) => number, what: string, level: 'error' | 'warning') => {
    const seen = new Set<number>();
    for (const x of items) {
      const k = key(x);
      if (seen.has(k)) { s.duplicateIds++; f.add(level, `duplicate ${what}`, `duplicate ${what} ${k}`); }
      seen.add(k);
    }
  };
  dup(refs, (r) => r.ref_id, 'ref_id', 'error');
  dup(refs.flatMap((r) => r.sentences), (x) => x.sent_id, 'sent_id', 'warning');
  const inst = index.instances;
  dup(inst.images, (x) => x.id, 'image id', 'error');
  dup(inst.annotations, (x) => x.id, 'annotation id', 'error');
  dup(inst.categories, (x) => x.id, 'category id', 'error');

  for (const split of SPLITS) {
    const n = refs.filter((r) => refInSplit(r.split, split)).length;
    s.splits[split] = { count: n, expected: RRSISD_EXPECTED_COUNTS[split] };
    if (n !== RRSISD_EXPECTED_COUNTS[split]) f.warn('split count', `${split}: ${n} refs, the published split has ${RRSISD_EXPECTED_COUNTS[split]}`);
  }
  for (const r of refs) {
    if (!SPLITS.some((sp) => refInSplit(r.split, sp))) f.warn('unknown split', `ref ${r.ref_id} has split ${JSON.stringify(r.split)}, which no loader split selects`);
    if (!cats.has(r.category_id)) f.warn('unknown category', `ref ${r.ref_id} has category_id ${r.category_id}, not in instances.json categories`);
  }

  // Every ref's annotation and image; each image file once.
  const imageChecks = new Map<number, { file: string; height: number; width: number }>();
  for (const r of refs) {
    const ann = anns.get(r.ann_id);
    const img = images.get(r.image_id);
    if (!ann) f.error('dangling ann_id', `ref ${r.ref_id}: ann_id ${r.ann_id} has no annotation in ${paths.instances}`);
    if (!img) f.error('dangling image_id', `ref ${r.ref_id}: image_id ${r.image_id} has no image entry in ${paths.instances}`);
    if (!ann || !img) continue;
    s.masks.checked++;
    try {
      const m = annToMask(ann, img.height, img.width, { file: paths.instances, annId: ann.id });
      if (maskArea(m) === 0) { s.masks.empty++; f.warn('empty mask', `ref ${r.ref_id}: annotation ${ann.id} decodes to an empty mask`); }
      if (m.width !== img.width || m.height !== img.height) {
        s.masks.sizeMismatch++;
        f.warn('rle size', `annotation ${ann.id}: RLE size ${m.height}x${m.width} differs from image entry ${img.height}x${img.width}`);
      }
    } catch (err) {
      s.masks.bad++;
      f.error('bad annotation', msgOf(err));
    }
    imageChecks.set(img.id, { file: path.join(paths.imageDir, img.file_name), height: img.height, width: img.width });
  }
  await forEachLimit([...imageChecks.values()], opts.concurrency ?? 8, async (im) => {
    const size = await checkImage(im.file, f, s, opts.decodeImages ?? false);
    if (size && (size.width !== im.width || size.height !== im.height)) {
      f.warn('image size', `${im.file} is ${size.width}x${size.height} but instances.json says ${im.width}x${im.height} ` +
        '(a known RRSIS-D quirk; image and mask are resized separately)');
    }
  });
}

export function formatDoctorReport(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push(`fianet doctor: ${r.dataset} at ${r.root}`);
  for (const split of SPLITS) {
    const { count, expected } = r.summary.splits[split];
    lines.push(`  ${split.padEnd(5)} ${String(count).padStart(6)} samples${count === expected ? '' : ` (published: ${expected})`}`);
  }
  const im = r.summary.images;
  const sizes = Object.entries(im.sizes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
  lines.push(`  images checked ${im.checked}, missing ${im.missing}, unreadable ${im.unreadable}${sizes ? `; sizes ${sizes}` : ''}`);
  const m = r.summary.masks;
  lines.push(`  masks checked ${m.checked}, empty ${m.empty}, bad ${m.bad}, size mismatches ${m.sizeMismatch}; duplicate ids ${r.summary.duplicateIds}`);
  if (r.errors.length) lines.push(`errors (${r.errors.length}):`, ...r.errors.map((e) => `  ✗ ${e}`));
  if (r.warnings.length) lines.push(`warnings (${r.warnings.length}):`, ...r.warnings.map((w) => `  ! ${w}`));
  lines.push(r.summary.ok ? 'OK: no errors' : `FAILED: ${r.errors.length} error(s)`);
  return lines.join('\n');
}
