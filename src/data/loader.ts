// DataLoader: seeded per-epoch shuffle, batching, drop_last, bounded asynchronous prefetch and
// collation into the Batch type (resize to S, ImageNet normalisation, tokens, phrase masks).
//
// Determinism: everything random is a function of (seed, epoch, item) — the shuffle of an epoch,
// the sentence picked for a ref, the black boxes drawn on an image — never of the order in which
// promises happen to resolve. So prefetch depth, decode timing and resuming mid-epoch cannot
// change what a batch contains.
import { phraseMasks, type PhraseMode } from './phrases.ts';
import { BertTokenizer } from './tokenizer.ts';
import { BlackBoxAugment, mixSeed, normalizeImageNet, resizeBilinear, resizeNearest, SeededRandom } from './transforms.ts';
import type { Batch, BinaryMask, DatasetName, Sample, SampleRecord } from './types.ts';

/** Token ids and the three (L,) masks of one sentence (FIANET.md §2.3). */
export interface EncodedText {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  objectMask: Int32Array;
  spatialMask: Int32Array;
}

export type SentenceEncoder = (sentence: string, record: SampleRecord) => EncodedText;

export interface DataLoaderOptions<R extends SampleRecord> {
  records: readonly R[];
  /** Decodes one record at original resolution (the dataset reader's loadSample). */
  loadSample: (record: R) => Promise<Sample>;
  /**
   * Turns a sentence into ids + masks of length textLength. Default: bert-base-uncased WordPiece
   * plus m_G/m_S from phrases.ts in `phraseMode` (bertSentenceEncoder).
   */
  encodeText?: SentenceEncoder;
  /** Phrase-mask flavour for the default encoder: 'official' (FIANet parity, default) or 'aligned'. */
  phraseMode?: PhraseMode;
  batchSize: number;
  imageSize: number;
  textLength: number;
  /**
   * 'train': one item per ref, one of its sentences drawn per epoch (seeded), black boxes if
   * given. 'eval': one item per record (= per sentence), each scored separately.
   */
  mode: 'train' | 'eval';
  shuffle?: boolean; // default: mode === 'train'
  dropLast?: boolean; // default: false
  seed?: number; // default 0
  /** Batches decoded ahead of the consumer (0 = load on demand). Default 2. */
  prefetch?: number;
  /** RRSIS-D occlusion; applied in train mode only. */
  blackBoxes?: BlackBoxAugment;
  /** Also return each sample's original-resolution mask (for the 'original' evaluation protocol). */
  keepOriginalMasks?: boolean;
}

/** A Batch plus where it sits in the epoch, so a trainer can checkpoint (epoch, position). */
export interface LoadedBatch extends Batch {
  epoch: number;
  /** 0-based batch index in the epoch; resume with position = index + 1. */
  index: number;
  originalMasks?: BinaryMask[];
}

export interface LoaderPosition {
  epoch: number;
  /** Number of batches of `epoch` already consumed. */
  position: number;
}

export class DataLoader<R extends SampleRecord> {
  readonly opts: Required<Omit<DataLoaderOptions<R>, 'blackBoxes' | 'encodeText'>> & { blackBoxes?: BlackBoxAugment };
  private readonly encoders = new Map<DatasetName, SentenceEncoder>();
  /** Train: records grouped by ref (dataset order of first appearance). Eval: one group per record. */
  private readonly groups: R[][];
  private readonly textCache = new Map<string, EncodedText>();

  constructor(opts: DataLoaderOptions<R>) {
    if (!(opts.batchSize >= 1)) throw new Error(`DataLoader: batchSize must be >= 1, got ${opts.batchSize}`);
    // Field by field with ??, so an explicit `undefined` still gets the default.
    this.opts = {
      ...opts,
      shuffle: opts.shuffle ?? opts.mode === 'train',
      dropLast: opts.dropLast ?? false,
      seed: opts.seed ?? 0,
      prefetch: Math.max(0, Math.floor(opts.prefetch ?? 2)),
      keepOriginalMasks: opts.keepOriginalMasks ?? false,
      phraseMode: opts.phraseMode ?? 'official',
    };
    if (opts.encodeText) for (const d of ['rrsisd', 'refsegrs'] as const) this.encoders.set(d, opts.encodeText);
    // A reader may list a ref once with all its sentences (RRSIS-D's `sentences`); expand those to
    // one record per sentence so both modes see sentences as items.
    const perSentence = opts.records.flatMap((r) => expandRecord(r));
    if (opts.mode === 'train') {
      const byRef = new Map<string, R[]>();
      for (const r of perSentence) {
        const key = `${r.dataset}:${r.refId}`;
        let g = byRef.get(key);
        if (!g) byRef.set(key, (g = []));
        g.push(r);
      }
      this.groups = [...byRef.values()];
    } else {
      this.groups = perSentence.map((r) => [r]);
    }
  }

  /** Items per epoch: refs in train mode, sentences in eval mode. */
  get numItems(): number {
    return this.groups.length;
  }

  get batchesPerEpoch(): number {
    const n = this.groups.length, b = this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The records of every batch of `epoch`, in order: a pure function of (seed, epoch). */
  plan(epoch: number): R[][] {
    const order = this.groups.map((_, i) => i);
    if (this.opts.shuffle) new SeededRandom(mixSeed(this.opts.seed, epoch, 0x5f1)).shuffle(order);
    const picked = order.map((gi) => {
      const g = this.groups[gi]!;
      if (g.length === 1) return g[0]!;
      // Train with several sentences per ref: the draw depends on the ref, not on its position.
      return g[new SeededRandom(mixSeed(this.opts.seed, epoch, gi, 0x5e7)).int(0, g.length - 1)]!;
    });
    const out: R[][] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) out.push(picked.slice(b * this.opts.batchSize, (b + 1) * this.opts.batchSize));
    return out;
  }

  /**
   * Batches of `epoch` starting at batch `start` (resume). Up to `prefetch` further batches are
   * being decoded while the consumer holds the current one; they are always yielded in plan order.
   */
  async *epoch(epoch: number, start = 0): AsyncGenerator<LoadedBatch> {
    const plan = this.plan(epoch);
    const queue: Promise<LoadedBatch>[] = [];
    let next = start;
    const fill = (ahead: number): void => {
      while (queue.length < ahead && next < plan.length) {
        const p = this.loadBatch(plan[next]!, epoch, next);
        // A prefetched batch can fail before anyone awaits it; the error resurfaces on await.
        p.catch(() => undefined);
        queue.push(p);
        next++;
      }
    };
    fill(Math.max(1, this.opts.prefetch));
    while (queue.length > 0) {
      const batch = await queue.shift()!;
      // Top up before handing the batch over so decoding overlaps the consumer's step.
      fill(this.opts.prefetch);
      yield batch;
      if (queue.length === 0) fill(1);
    }
  }

  /** Continues an interrupted run: the rest of `pos.epoch`, then the following epochs up to `epochs`. */
  async *resume(pos: LoaderPosition, epochs: number): AsyncGenerator<LoadedBatch> {
    for (let e = pos.epoch; e < epochs; e++) yield* this.epoch(e, e === pos.epoch ? pos.position : 0);
  }

  async loadBatch(records: R[], epoch: number, index: number): Promise<LoadedBatch> {
    const { imageSize: S, textLength: L } = this.opts;
    const B = records.length;
    const batch: LoadedBatch = {
      size: B,
      images: new Float32Array(B * 3 * S * S),
      masks: new Uint8Array(B * S * S),
      tokenIds: new Int32Array(B * L),
      contextMask: new Int32Array(B * L),
      objectMask: new Int32Array(B * L),
      spatialMask: new Int32Array(B * L),
      records: records.map(stripPixels),
      imageSize: S,
      textLength: L,
      epoch,
      index,
    };
    if (this.opts.keepOriginalMasks) batch.originalMasks = new Array<BinaryMask>(B);
    await Promise.all(records.map(async (rec, b) => {
      const sample = await this.opts.loadSample(rec);
      this.collateInto(batch, b, sample, epoch);
    }));
    return batch;
  }

  private collateInto(batch: LoadedBatch, b: number, sample: Sample, epoch: number): void {
    const { imageSize: S, textLength: L } = this.opts;
    let image = sample.image;
    if (this.opts.mode === 'train' && this.opts.blackBoxes) image = this.opts.blackBoxes.apply(image, sample.refId, epoch);
    // Pillow returns a copy at equal size; skipping the resize is bit-identical.
    if (image.width !== S || image.height !== S) image = resizeBilinear(image, S, S);
    normalizeImageNet(image, batch.images, b * 3 * S * S);
    const m = sample.mask.width === S && sample.mask.height === S ? sample.mask : resizeNearest(sample.mask, S, S);
    batch.masks.set(m.data, b * S * S);
    if (batch.originalMasks) batch.originalMasks[b] = sample.mask;
    const t = this.text(sample);
    for (const [dst, src] of [
      [batch.tokenIds, t.inputIds], [batch.contextMask, t.attentionMask],
      [batch.objectMask, t.objectMask], [batch.spatialMask, t.spatialMask],
    ] as const) {
      if (src.length !== L) throw new Error(`DataLoader: text encoder returned length ${src.length}, expected ${L}`);
      dst.set(src, b * L);
    }
  }

  /** Tokenised once per distinct sentence, like the reference datasets do at construction. */
  private text(rec: SampleRecord): EncodedText {
    const key = `${rec.dataset}\u0000${rec.sentence}`;
    let t = this.textCache.get(key);
    if (!t) {
      let enc = this.encoders.get(rec.dataset);
      if (!enc) this.encoders.set(rec.dataset, (enc = bertSentenceEncoder(rec.dataset, this.opts.textLength, this.opts.phraseMode)));
      this.textCache.set(key, (t = enc(rec.sentence, rec)));
    }
    return t;
  }
}

/** One record per sentence for records that carry a `sentences: {sentId, raw}[]` list. */
function expandRecord<R extends SampleRecord>(r: R): R[] {
  const list = (r as { sentences?: unknown }).sentences;
  if (!Array.isArray(list) || list.length <= 1) return [r];
  return (list as { sentId: number; raw: string }[]).map((s) => ({ ...r, sentId: s.sentId, sentence: s.raw }));
}

/** Records in a batch carry no pixels (a reader may hand back Sample objects as records). */
function stripPixels(r: SampleRecord): SampleRecord {
  const { dataset, split, refId, imageId, annId, sentId, sentence, category, imagePath, maskPath } = r;
  return maskPath === undefined
    ? { dataset, split, refId, imageId, annId, sentId, sentence, category, imagePath }
    : { dataset, split, refId, imageId, annId, sentId, sentence, category, imagePath, maskPath };
}

/**
 * Helper for the trainer: the occlusion augmentation over a train split's refs (RRSIS-D only).
 * 2401 is the reference's random.seed; the subset differs from Python's (different generator).
 */
export function blackBoxesFor(dataset: DatasetName, records: readonly SampleRecord[], seed = 2401): BlackBoxAugment | undefined {
  if (dataset !== 'rrsisd') return undefined;
  const ids = [...new Set(records.filter((r) => r.split === 'train').map((r) => r.refId))];
  return new BlackBoxAugment(ids, { seed });
}

/** The reference text pipeline: WordPiece ids cut/padded to L, m_C, and FIANet's m_G / m_S. */
export function bertSentenceEncoder(dataset: DatasetName, textLength: number, mode: PhraseMode = 'official',
  tokenizer: BertTokenizer = BertTokenizer.builtin()): SentenceEncoder {
  return (sentence) => {
    const enc = tokenizer.encode(sentence, textLength);
    const { objectMask, spatialMask } = phraseMasks(sentence, enc, { dataset, mode, maxLen: textLength, tokenizer });
    return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, objectMask, spatialMask };
  };
}
