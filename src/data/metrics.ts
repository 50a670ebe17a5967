// Referring-segmentation metrics exactly as the field reports them (DATASETS.md §7, FIANET.md §12):
// per-sample I and U, IoU = I/U (0 when U = 0), oIoU = 100·ΣI/ΣU, mIoU = 100·mean IoU,
// Pr@X = 100·#(IoU ≥ X)/N, plus per-class breakdowns. Streaming: add one sample at a time.
import { resizeNearestU8 } from './transforms.ts';
import { CLASS_VOCAB } from './vocab.ts';
import type { BinaryMask, DatasetName, SampleRecord } from './types.ts';

/**
 * 'network': score at the network's input size against the NEAREST-resized ground truth (the
 * reference protocol). 'original': NEAREST-resize the prediction back to the original mask size
 * and score there (LAVT's original protocol; reported separately, never mixed).
 */
export type EvalProtocol = 'network' | 'original';

export const CLASS_NAMES = CLASS_VOCAB;

export const DEFAULT_THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9] as const;

export interface SampleScore {
  refId: number;
  sentId: number;
  sentence: string;
  category: string;
  I: number;
  U: number;
  iou: number;
}

export interface GroupMetrics {
  count: number;
  oIoU: number;
  mIoU: number;
}

export interface MetricsResult extends GroupMetrics {
  protocol: EvalProtocol;
  /** '>=' (reference) or '>' (some other codebases). */
  precisionOp: '>=' | '>';
  /** Keys are the thresholds as written, e.g. '0.5' -> percentage of samples with IoU ≥ 0.5. */
  precision: Record<string, number>;
  sumI: number;
  sumU: number;
  /** Class names matched case-sensitively as substrings of the sentence (a sample may count for several). */
  perClass: Record<string, GroupMetrics>;
  /** Grouped by the record's own category field. */
  perCategory: Record<string, GroupMetrics>;
}

/** I = #(pred ∧ gt), U = #(pred ∨ gt), treating any non-zero value as foreground. */
export function intersectionUnion(pred: Uint8Array, gt: Uint8Array): { I: number; U: number } {
  if (pred.length !== gt.length) throw new Error(`intersectionUnion: size mismatch ${pred.length} vs ${gt.length}`);
  let I = 0, U = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] !== 0, g = gt[i] !== 0;
    if (p && g) I++;
    if (p || g) U++;
  }
  return { I, U };
}

export function iouOf(I: number, U: number): number {
  return U === 0 ? 0 : I / U;
}

class Group {
  count = 0;
  sumI = 0;
  sumU = 0;
  sumIoU = 0;
  add(s: SampleScore): void {
    this.count++;
    this.sumI += s.I;
    this.sumU += s.U;
    this.sumIoU += s.iou;
  }
  metrics(): GroupMetrics {
    return {
      count: this.count,
      oIoU: this.sumU === 0 ? 0 : (100 * this.sumI) / this.sumU,
      mIoU: this.count === 0 ? 0 : (100 * this.sumIoU) / this.count,
    };
  }
}

export interface AccumulatorOptions {
  protocol?: EvalProtocol;
  thresholds?: readonly number[];
  precisionOp?: '>=' | '>';
  /** Class vocabulary for the sentence-regex breakdown; defaults to CLASS_NAMES[dataset] when dataset is given. */
  classNames?: readonly string[];
  dataset?: DatasetName;
  /** Keep every SampleScore (for per-sample dumps); on by default. */
  keepSamples?: boolean;
}

type RecordLike = Pick<SampleRecord, 'refId' | 'sentId' | 'sentence' | 'category'>;

export class MetricAccumulator {
  readonly protocol: EvalProtocol;
  readonly thresholds: readonly number[];
  readonly precisionOp: '>=' | '>';
  readonly samples: SampleScore[] = [];
  private readonly classNames: readonly string[];
  private readonly classPatterns: RegExp[];
  private readonly keep: boolean;
  private readonly all = new Group();
  private readonly hits: number[];
  private readonly byClass = new Map<string, Group>();
  private readonly byCategory = new Map<string, Group>();

  constructor(opts: AccumulatorOptions = {}) {
    this.protocol = opts.protocol ?? 'network';
    this.thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
    this.precisionOp = opts.precisionOp ?? '>=';
    this.classNames = opts.classNames ?? (opts.dataset ? CLASS_NAMES[opts.dataset] : []);
    // The author's script uses re.search(name, sentence): escape to keep the names literal.
    this.classPatterns = this.classNames.map((n) => new RegExp(n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    this.keep = opts.keepSamples ?? true;
    this.hits = this.thresholds.map(() => 0);
  }

  get count(): number {
    return this.all.count;
  }

  /**
   * Scores one prediction. `pred` is the network-size prediction (0/1); `gt` may be at network
   * size or at the original resolution: the protocol decides which side gets NEAREST-resized.
   */
  add(pred: BinaryMask, gt: BinaryMask, record: RecordLike): SampleScore {
    let p = pred.data, g = gt.data;
    if (pred.width !== gt.width || pred.height !== gt.height) {
      if (this.protocol === 'network') g = resizeNearestU8(gt.data, gt.width, gt.height, pred.width, pred.height);
      else p = resizeNearestU8(pred.data, pred.width, pred.height, gt.width, gt.height);
    }
    const { I, U } = intersectionUnion(p, g);
    return this.addCounts(I, U, record);
  }

  /** For callers that already counted I and U (e.g. on the GPU). */
  addCounts(I: number, U: number, record: RecordLike): SampleScore {
    const s: SampleScore = {
      refId: record.refId, sentId: record.sentId, sentence: record.sentence, category: record.category,
      I, U, iou: iouOf(I, U),
    };
    this.all.add(s);
    this.thresholds.forEach((t, k) => {
      if (this.precisionOp === '>=' ? s.iou >= t : s.iou > t) this.hits[k]!++;
    });
    this.classPatterns.forEach((re, k) => {
      if (re.test(s.sentence)) groupFor(this.byClass, this.classNames[k]!).add(s);
    });
    if (s.category) groupFor(this.byCategory, s.category).add(s);
    if (this.keep) this.samples.push(s);
    return s;
  }

  result(): MetricsResult {
    const n = this.all.count;
    const precision: Record<string, number> = {};
    this.thresholds.forEach((t, k) => {
      precision[String(t)] = n === 0 ? 0 : (100 * this.hits[k]!) / n;
    });
    const perClass: Record<string, GroupMetrics> = {};
    for (const name of this.classNames) {
      const g = this.byClass.get(name);
      if (g) perClass[name] = g.metrics();
    }
    const perCategory: Record<string, GroupMetrics> = {};
    for (const [name, g] of [...this.byCategory].sort((a, b) => a[0].localeCompare(b[0]))) perCategory[name] = g.metrics();
    return {
      ...this.all.metrics(),
      protocol: this.protocol,
      precisionOp: this.precisionOp,
      precision,
      sumI: this.all.sumI,
      sumU: this.all.sumU,
      perClass,
      perCategory,
    };
  }
}

function groupFor(map: Map<string, Group>, key: string): Group {
  let g = map.get(key);
  if (!g) map.set(key, (g = new Group()));
  return g;
}

/** One-line summary with 2 decimals, the way papers report it. */
export function formatMetrics(r: MetricsResult): string {
  const pr = Object.entries(r.precision).map(([t, v]) => `Pr@${t}=${v.toFixed(2)}`).join(' ');
  return `n=${r.count} protocol=${r.protocol} oIoU=${r.oIoU.toFixed(2)} mIoU=${r.mIoU.toFixed(2)} ${pr} (IoU ${r.precisionOp} X)`;
}
