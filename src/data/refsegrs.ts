// RefSegRS reader, following FIANet `data/refsegrs_refer_bert.py` (DATASETS.md §2):
//   <root>/output_phrase_{train,val,test}.txt   "<id> <expression>" per line, file order = sample order
//   <root>/images/<id>.tif, <root>/masks/<id>.tif   paths by plain concatenation of the id text
// `root` may also be a folder holding exactly one child folder with the split files (zips differ).
//
// Line parsing (§2.3): strip one trailing "\n" or "\r\n" (and a lone trailing "\r"), skip lines
// that are then empty, split at the first space; the expression is kept otherwise verbatim
// (internal double spaces stay). The reference does not strip, so its expression still ends with
// the line terminator; that exact string is kept as `rawSentence` for anyone who hashes or
// compares against reference outputs, while `sentence` is the stripped one (BERT sees no difference).
// Mask (§2.2): single-channel read at native depth, foreground = grey value > 50, strictly.

import { CLASS_VOCAB } from './vocab.ts';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readGreyImage, readRgbImage } from './image-io.ts';
import { loadRRSISDSample, type RRSISDRecord } from './rrsisd.ts';
import type { BinaryMask, Sample, SampleRecord, Split } from './types.ts';

/** The 14 classes (FIANET.md §4.1), in the reference's order. */
export const REFSEGRS_CLASSES: readonly string[] = CLASS_VOCAB.refsegrs;

/** §2.5 (train/val from the LGCE paper, test confirmed independently). */
export const REFSEGRS_EXPECTED_COUNTS: Record<Split, number> = { train: 2172, val: 431, test: 1817 };

export const REFSEGRS_MASK_THRESHOLD = 50;

export interface RefSegRSRecord extends SampleRecord {
  dataset: 'refsegrs';
  maskPath: string;
  /** The expression exactly as the reference holds it, line terminator included. */
  rawSentence: string;
  /** The id text as written in the file (paths are built from it). */
  idText: string;
}

export class RefSegRSError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'RefSegRSError';
  }
}

export function splitFileName(split: Split): string {
  return `output_phrase_${split}.txt`;
}

function hasSplitFiles(dir: string): boolean {
  return ['train', 'val', 'test'].some((s) => existsSync(path.join(dir, splitFileName(s as Split))));
}

/** The folder that holds the split files: `root` itself or its single child that does. */
export function resolveRefSegRSRoot(root: string): string {
  if (hasSplitFiles(root)) return root;
  let children: string[] = [];
  try {
    children = readdirSync(root).filter((n) => statSync(path.join(root, n)).isDirectory());
  } catch {
    throw new RefSegRSError(root, 'dataset root is missing or not a folder');
  }
  const hits = children.filter((n) => hasSplitFiles(path.join(root, n)));
  if (hits.length === 1) return path.join(root, hits[0]!);
  if (hits.length > 1) throw new RefSegRSError(root, `several child folders hold split files: ${hits.join(', ')}`);
  return root; // let the missing split file produce the error that names its path
}

export interface ParsedLine {
  idText: string;
  id: number;
  sentence: string;
  rawSentence: string;
}

/**
 * Parse one physical line (terminator included, as readlines() yields it). Returns null for a
 * line that is empty after stripping the terminator.
 */
export function parseSplitLine(line: string, where: string): ParsedLine | null {
  const body = line.replace(/\r?\n$|\r$/, '');
  if (body.length === 0) return null;
  const sp = body.indexOf(' ');
  const idText = sp < 0 ? body : body.slice(0, sp);
  if (!/^\d+$/.test(idText)) throw new RefSegRSError(where, `expected "<id> <expression>", got ${JSON.stringify(body)}`);
  const terminator = line.slice(body.length);
  const sentence = sp < 0 ? '' : body.slice(sp + 1);
  return { idText, id: Number(idText), sentence, rawSentence: sentence + terminator };
}

/**
 * The category of an expression: the class whose words occur earliest in it (whole words, an
 * optional plural "s"/"es"), the longer class winning at the same position ("road marking" over
 * "road"); '' when none occurs. E.g. "van driving on the road" -> van, "sidewalk along with tree" ->
 * sidewalk, "light-duty vehicle" -> vehicle.
 */
export function refsegrsCategory(sentence: string): string {
  const text = sentence.toLowerCase();
  let best = '';
  let bestAt = Infinity;
  for (const cls of REFSEGRS_CLASSES) {
    const re = new RegExp(`(?<![a-z])${cls.replace(/ /g, '\\s+')}(?:s|es)?(?![a-z])`);
    const m = re.exec(text);
    if (!m) continue;
    if (m.index < bestAt || (m.index === bestAt && cls.length > best.length)) {
      best = cls;
      bestAt = m.index;
    }
  }
  return best;
}

/** Records of one split in file order. Sync: it reads one small text file. */
export function readRefSegRS(root: string, split: Split): RefSegRSRecord[] {
  const dir = resolveRefSegRSRoot(root);
  const file = path.join(dir, splitFileName(split));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new RefSegRSError(file, `split file for "${split}" is missing or unreadable`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a UTF-8 BOM is not part of the first id
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const out: RefSegRSRecord[] = [];
  lines.forEach((line, lineNo) => {
    const p = parseSplitLine(line, `${file}:${lineNo + 1}`);
    if (!p) return;
    out.push({
      dataset: 'refsegrs',
      split,
      refId: p.id,
      imageId: p.id,
      annId: p.id,
      sentId: lineNo,
      sentence: p.sentence,
      rawSentence: p.rawSentence,
      idText: p.idText,
      category: refsegrsCategory(p.sentence),
      imagePath: path.join(dir, 'images', `${p.idText}.tif`),
      maskPath: path.join(dir, 'masks', `${p.idText}.tif`),
    });
  });
  return out;
}

/** Read a RefSegRS mask file: grey (any depth, colour via BT.601) > 50. */
export async function readRefSegRSMask(maskPath: string): Promise<BinaryMask> {
  const grey = await readGreyImage(maskPath);
  const data = new Uint8Array(grey.width * grey.height);
  for (let i = 0; i < data.length; i++) data[i] = grey.data[i]! > REFSEGRS_MASK_THRESHOLD ? 1 : 0;
  return { width: grey.width, height: grey.height, data };
}

export interface LoadSampleOptions {
  /**
   * RefSegRS only: throw when image and mask sizes differ (default true; both are 512x512 in the
   * real data, so a mismatch means a broken file). RRSIS-D never throws on it (§3.7).
   */
  strictSize?: boolean;
  onWarning?: (msg: string) => void;
}

/** Decode a record of either dataset to pixels at their stored resolution. */
export async function loadSample(record: SampleRecord, opts: LoadSampleOptions = {}): Promise<Sample> {
  if (record.dataset === 'rrsisd') return loadRRSISDSample(record as RRSISDRecord, opts);
  if (!record.maskPath) throw new RefSegRSError(record.imagePath, 'RefSegRS record has no maskPath');
  const [image, mask] = await Promise.all([readRgbImage(record.imagePath), readRefSegRSMask(record.maskPath)]);
  if (image.width !== mask.width || image.height !== mask.height) {
    const msg = `mask ${record.maskPath} is ${mask.width}x${mask.height} but image ${record.imagePath} is ${image.width}x${image.height}`;
    if (opts.strictSize ?? true) throw new RefSegRSError(record.maskPath, `size mismatch: ${msg}`);
    opts.onWarning?.(msg);
  }
  return { ...record, image, mask };
}
