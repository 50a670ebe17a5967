// `fianet synth`: a small dataset in RRSIS-D or RefSegRS on-disk format (DATASETS.md §10), made of
// procedural aerial scenes whose expressions need the text to find the target. Deterministic for
// (format, n, size, seed): every scene draws from its own seed, so write order cannot matter.
// A manifest is written last; ensureSynthetic() reuses a directory only when its manifest matches.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { mixSeed, SeededRandom } from '../transforms.ts';
import type { DatasetName, RgbImage, Split } from '../types.ts';
import { choosePhrases, headClass, makeRefSegRSScene, phraseMask, phraseText } from './refsegrs-scene.ts';
import { ATTRIBUTE_KINDS, makeRrsisdScene, type RrsisdSceneOptions } from './rrsisd-scene.ts';
import { clearOwned, type RrsisdEntry, writeRefSegRSSample, writeRefSegRSSplits, writeRrsisdImage, writeRrsisdIndex } from './write.ts';

/** Bump when the generator's output changes, so cached datasets are regenerated. */
export const SYNTH_VERSION = 1;
export const MANIFEST = 'synth-manifest.json';
/** Present while a generation runs; lets ensureSynthetic() recognise its own interrupted output. */
export const PARTIAL = 'synth-partial';

export interface SynthOptions {
  format: DatasetName;
  out: string;
  /** Number of samples (refs / phrase lines). */
  n: number;
  /** Side of the square images; default 800 (RRSIS-D) or 512 (RefSegRS), like the real data. */
  size?: number;
  seed?: number;
  /**
   * RRSIS-D only: scene knobs (rrsisd-scene.ts). objectScale > 1 suits low-resolution runs: at 64² a
   * stride-4 mask cannot outline a 4-pixel vehicle. Defaults give the real data's proportions.
   */
  scene?: RrsisdSceneOptions;
  /** Split fractions; default train 0.7, val 0.1, test 0.2. */
  fractions?: Record<Split, number>;
}

export interface SynthSummary {
  format: DatasetName;
  version: number;
  /** The directory to hand to readRRSISD / readRefSegRS. */
  root: string;
  n: number;
  size: number;
  seed: number;
  /** Non-default scene knobs only (absent: RRSIS-D-like defaults). */
  scene?: RrsisdSceneOptions;
  counts: Record<Split, number>;
  /** Samples per category (RRSIS-D instances name; RefSegRS the phrase's head class). */
  categories: Record<string, number>;
  /** RRSIS-D: ids whose annotation is deliberately empty (§3.7). */
  emptyMaskIds: number[];
  /** RRSIS-D: ids whose JPEG is not size×size although the annotation says so (§3.7). */
  sizeMismatchIds: number[];
  /** RefSegRS: ids that share a tile with another id (§2.2 duplicated tiles). */
  duplicateTileIds: number[][];
  ms: number;
}

const DEFAULT_FRACTIONS: Record<Split, number> = { train: 0.7, val: 0.1, test: 0.2 };

/** The validated non-default scene knobs, in a fixed key order (they are compared as JSON), or undefined. */
function sceneKnobs(format: DatasetName, scene: RrsisdSceneOptions | undefined): RrsisdSceneOptions | undefined {
  const objectScale = scene?.objectScale ?? 1;
  const maxDistractors = scene?.maxDistractors ?? 3;
  if (!(objectScale > 0)) throw new Error(`synth: objectScale must be > 0, got ${objectScale}`);
  if (!Number.isInteger(maxDistractors) || maxDistractors < 0 || maxDistractors > 3) {
    throw new Error(`synth: maxDistractors must be an integer in 0..3, got ${maxDistractors}`);
  }
  const attributes = scene?.attributes ?? [...ATTRIBUTE_KINDS];
  const bad = attributes.filter((a) => !(ATTRIBUTE_KINDS as readonly string[]).includes(a));
  if (bad.length) throw new Error(`synth: unknown attribute kind(s) ${bad.join(', ')}; expected some of ${ATTRIBUTE_KINDS.join(', ')}`);
  const kinds = ATTRIBUTE_KINDS.filter((k) => attributes.includes(k)); // canonical order, no duplicates
  const out: RrsisdSceneOptions = {
    ...(objectScale !== 1 ? { objectScale } : {}),
    ...(maxDistractors !== 3 ? { maxDistractors } : {}),
    ...(kinds.length !== ATTRIBUTE_KINDS.length ? { attributes: kinds } : {}),
  };
  if (Object.keys(out).length === 0) return undefined;
  if (format !== 'rrsisd') throw new Error(`synth: scene options ${JSON.stringify(out)} apply to the rrsisd format only, not ${format}`);
  return out;
}

/** Folder-name suffix naming the non-default scene knobs ('' for the defaults), e.g. '-x3-d1-ac'. */
export function sceneTag(format: DatasetName, scene?: RrsisdSceneOptions): string {
  const k = sceneKnobs(format, scene);
  if (!k) return '';
  return (k.objectScale !== undefined ? `-x${k.objectScale}` : '')
    + (k.maxDistractors !== undefined ? `-d${k.maxDistractors}` : '')
    + (k.attributes ? `-a${k.attributes.map((a) => a[0]).join('')}` : '');
}

/** Runs async jobs with at most `limit` in flight; rejects on the first failure. */
class Pool {
  private readonly running = new Set<Promise<void>>();
  constructor(private readonly limit: number) {}
  async add(job: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const p = job().finally(() => this.running.delete(p));
    this.running.add(p);
  }
  async drain(): Promise<void> {
    await Promise.all(this.running);
  }
}

/** Split of each of `count` units: a seeded shuffle cut by the fractions, each split non-empty if possible. */
function assignSplits(count: number, seed: number, fr: Record<Split, number>): Split[] {
  const order = new SeededRandom(mixSeed(seed, 0x5b1)).shuffle([...Array(count).keys()]);
  let nVal = Math.round(count * fr.val), nTest = Math.round(count * fr.test);
  if (count >= 3) { nVal = Math.max(1, nVal); nTest = Math.max(1, nTest); }
  const out = new Array<Split>(count).fill('train');
  order.forEach((u, k) => { if (k < nVal) out[u] = 'val'; else if (k < nVal + nTest) out[u] = 'test'; });
  return out;
}

/** `n` distinct ids in [lo, hi), seeded, in random (unsorted) order. */
function sparseIds(n: number, lo: number, hi: number, rng: SeededRandom): number[] {
  const ids = new Set<number>();
  while (ids.size < n) ids.add(rng.int(lo, hi - 1));
  return [...ids];
}

export async function generateSynthetic(opts: SynthOptions): Promise<SynthSummary> {
  const t0 = performance.now();
  const seed = opts.seed ?? 0;
  const size = opts.size ?? (opts.format === 'rrsisd' ? 800 : 512);
  if (!(opts.n >= 1) || !Number.isInteger(opts.n)) throw new Error(`synth: n must be a positive integer, got ${opts.n}`);
  if (!(size >= 32)) throw new Error(`synth: size must be >= 32, got ${size}`);
  const scene = sceneKnobs(opts.format, opts.scene);
  // Never clear a directory we did not make (it could be a real dataset root).
  const existing = await fs.readdir(opts.out).catch(() => [] as string[]);
  if (existing.length > 0 && !existing.includes(MANIFEST) && !existing.includes(PARTIAL)) {
    throw new Error(`synth: ${opts.out} is not empty and holds no ${MANIFEST}; refusing to overwrite it`);
  }
  await fs.mkdir(opts.out, { recursive: true });
  await fs.rm(path.join(opts.out, MANIFEST), { force: true }); // incomplete until the manifest is back
  await fs.writeFile(path.join(opts.out, PARTIAL), '');
  await clearOwned(opts.out, opts.format);
  const summary: SynthSummary = {
    format: opts.format, version: SYNTH_VERSION, root: path.resolve(opts.out), n: opts.n, size, seed,
    ...(scene ? { scene } : {}),
    counts: { train: 0, val: 0, test: 0 }, categories: {}, emptyMaskIds: [], sizeMismatchIds: [], duplicateTileIds: [], ms: 0,
  };
  const fractions = opts.fractions ?? DEFAULT_FRACTIONS;
  if (opts.format === 'rrsisd') await generateRrsisd(opts.out, opts.n, size, seed, scene ?? {}, fractions, summary);
  else await generateRefSegRS(opts.out, opts.n, size, seed, fractions, summary);
  summary.ms = Math.round(performance.now() - t0);
  await fs.writeFile(path.join(opts.out, MANIFEST), JSON.stringify(summary, null, 1) + '\n');
  await fs.rm(path.join(opts.out, PARTIAL), { force: true });
  return summary;
}

async function generateRrsisd(out: string, n: number, size: number, seed: number, sceneOpts: RrsisdSceneOptions, fr: Record<Split, number>, summary: SynthSummary): Promise<void> {
  const rng = new SeededRandom(mixSeed(seed, 0x1d5));
  // Sparse 5-digit ids, many above 17,402 like the real release.
  const ids = sparseIds(n, 1, Math.max(30000, 3 * n), rng);
  const splits = assignSplits(n, seed, fr);
  // Quirks (§3.7): a few JPEGs one row taller or 13/800 shorter than their annotation, one empty mask.
  const quirky = n >= 10 ? rng.shuffle([...Array(n).keys()]) : [];
  const k = Math.max(1, Math.round(n * 0.005));
  const taller = new Set(quirky.slice(0, k)), shorter = new Set(quirky.slice(k, 2 * k));
  const empty = quirky.find((i) => splits[i] === 'train' && !taller.has(i) && !shorter.has(i));
  const entries: RrsisdEntry[] = [];
  const pool = new Pool(8);
  for (let i = 0; i < n; i++) {
    const scene = makeRrsisdScene(size, new SeededRandom(mixSeed(seed, i, 0x5ce)), sceneOpts);
    const id = ids[i]!;
    let image: RgbImage = scene.image;
    if (taller.has(i)) image = withHeight(image, size + 1);
    if (shorter.has(i)) image = withHeight(image, Math.max(1, Math.round((size * 787) / 800)));
    if (image !== scene.image) summary.sizeMismatchIds.push(id);
    let mask = scene.mask;
    if (i === empty) {
      mask = { ...mask, data: new Uint8Array(mask.data.length) };
      summary.emptyMaskIds.push(id);
    }
    entries.push({ id, split: splits[i]!, sentence: scene.sentence, categoryId: scene.categoryId, mask });
    summary.counts[splits[i]!]++;
    summary.categories[scene.category] = (summary.categories[scene.category] ?? 0) + 1;
    await pool.add(() => writeRrsisdImage(out, id, image));
  }
  await pool.drain();
  await writeRrsisdIndex(out, entries);
}

/** Pads by repeating the last row, or crops rows: the JPEG/annotation size mismatch of §3.7. */
function withHeight(img: RgbImage, h: number): RgbImage {
  const row = img.width * 3;
  const data = new Uint8Array(row * h);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(Math.min(y, img.height - 1) * row, (Math.min(y, img.height - 1) + 1) * row), y * row);
  return { width: img.width, height: h, data };
}

async function generateRefSegRS(out: string, n: number, size: number, seed: number, fr: Record<Split, number>, summary: SynthSummary): Promise<void> {
  const rng = new SeededRandom(mixSeed(seed, 0x2e5));
  // Ids without padding, not contiguous, not sorted, some above n (§2.1).
  const ids = sparseIds(n, 1, Math.floor(n * 1.15) + 60, rng);
  // Splits are cut over sample slots; a tile takes its first slot's split for all its phrases, so
  // duplicated tiles never straddle splits.
  const slotSplits = assignSplits(n, seed, fr);
  const lines: Record<Split, { id: number; sentence: string }[]> = { train: [], val: [], test: [] };
  const pool = new Pool(8);
  for (let used = 0, tile = 0; used < n; tile++) {
    const tileRng = new SeededRandom(mixSeed(seed, tile, 0x7e1));
    // Most tiles give one phrase; about 8% give 2-3 (the same tile under several ids, §2.2).
    const want = Math.min(n - used, tileRng.next() < 0.08 ? tileRng.int(2, 3) : 1);
    const scene = makeRefSegRSScene(size, tileRng);
    const phrases = choosePhrases(scene, tileRng, want);
    if (phrases.length === 0) continue; // a tile with nothing visible enough: draw the next one
    const split = slotSplits[used]!;
    const tileIds: number[] = [];
    for (const p of phrases) {
      const id = ids[used++]!;
      tileIds.push(id);
      lines[split].push({ id, sentence: phraseText(p) });
      summary.counts[split]++;
      const head = headClass(p.noun);
      summary.categories[head] = (summary.categories[head] ?? 0) + 1;
      // Mostly PackBits; every tenth file uncompressed, so both reader paths see data.
      const compression = id % 10 === 0 ? 'none' : 'packbits';
      const mask = phraseMask(scene, p);
      await pool.add(() => writeRefSegRSSample(out, id, scene.image, mask, compression));
    }
    if (tileIds.length > 1) summary.duplicateTileIds.push(tileIds);
  }
  await pool.drain();
  await writeRefSegRSSplits(out, lines);
}

/** Reads the manifest of a complete dataset, or undefined. */
export async function readManifest(out: string): Promise<SynthSummary | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(out, MANIFEST), 'utf8')) as SynthSummary;
  } catch {
    return undefined;
  }
}

/**
 * Generates into `out` unless a complete dataset with the same (format, n, size, seed, scene knobs, version)
 * is already there (generateSynthetic refuses a non-empty directory that is not one of ours).
 */
export async function ensureSynthetic(opts: SynthOptions): Promise<SynthSummary & { reused: boolean }> {
  const size = opts.size ?? (opts.format === 'rrsisd' ? 800 : 512);
  const seed = opts.seed ?? 0;
  const m = await readManifest(opts.out);
  if (m && m.format === opts.format && m.n === opts.n && m.size === size && m.seed === seed
    && JSON.stringify(m.scene ?? null) === JSON.stringify(sceneKnobs(opts.format, opts.scene) ?? null) && m.version === SYNTH_VERSION && !opts.fractions) {
    return { ...m, reused: true };
  }
  return { ...(await generateSynthetic({ ...opts, size, seed })), reused: false };
}
