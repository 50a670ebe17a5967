// RRSIS-D-shaped scenes: several objects of several categories on a 3×3 layout, one of them the
// target, and a sentence-case expression ("The small red vehicle on the lower left", "The ship is
// above the storage tank") chosen among those that denote exactly the target (DATASETS.md §10.2).
//
// Expressions are built from a structured meaning (Expr) and checked against every object in the
// scene with the same predicates, so "unique" is verified in code rather than assumed.
import { RRSISD_CATEGORIES } from '../rrsisd.ts';
import type { BinaryMask, RgbImage } from '../types.ts';
import {
  Canvas, COLORS, drawRoadBand, jitterColor, SeededRandom, shapes,
  type ColorName, type Rgb, type ShapeFn,
} from './scene.ts';

interface CategorySpec {
  name: string; // instances.json category name
  words: string; // as written in expressions
  shape: ShapeFn;
  halfLen: number; // fraction of the image size, before the size factor
  aspect: number; // halfWid / halfLen
  colors: ColorName[];
  detail: Rgb;
}

// Object-like categories only: area categories (airport, dam, harbor, ...) do not fit a 3×3 layout.
const SPECS: CategorySpec[] = [
  { name: 'vehicle', words: 'vehicle', shape: shapes.vehicle, halfLen: 0.05, aspect: 0.5, colors: ['red', 'white', 'gray', 'blue', 'black', 'yellow'], detail: [30, 34, 40] },
  { name: 'storagetank', words: 'storage tank', shape: shapes.tank, halfLen: 0.075, aspect: 1, colors: ['white', 'gray', 'cyan', 'orange'], detail: [90, 92, 96] },
  { name: 'ship', words: 'ship', shape: shapes.ship, halfLen: 0.1, aspect: 0.3, colors: ['white', 'gray', 'red', 'black', 'blue'], detail: [210, 210, 214] },
  { name: 'airplane', words: 'airplane', shape: shapes.airplane, halfLen: 0.1, aspect: 1, colors: ['white', 'gray', 'blue'], detail: [60, 60, 60] },
  { name: 'tenniscourt', words: 'tennis court', shape: shapes.court, halfLen: 0.1, aspect: 0.55, colors: ['blue', 'green', 'red', 'cyan'], detail: [240, 240, 240] },
  { name: 'basketballcourt', words: 'basketball court', shape: shapes.court, halfLen: 0.1, aspect: 0.6, colors: ['orange', 'blue', 'red', 'yellow'], detail: [240, 240, 240] },
  { name: 'groundtrackfield', words: 'ground track field', shape: shapes.track, halfLen: 0.12, aspect: 0.62, colors: ['red', 'blue', 'orange'], detail: [70, 150, 64] },
  { name: 'baseballfield', words: 'baseball field', shape: shapes.baseball, halfLen: 0.1, aspect: 1, colors: ['green', 'yellow'], detail: [170, 120, 80] },
  { name: 'chimney', words: 'chimney', shape: shapes.tank, halfLen: 0.04, aspect: 1, colors: ['gray', 'black', 'red', 'white'], detail: [20, 20, 20] },
  { name: 'windmill', words: 'windmill', shape: shapes.windmill, halfLen: 0.09, aspect: 1, colors: ['white', 'gray'], detail: [70, 70, 70] },
];

const SIZE_FACTOR = { small: 0.68, large: 1.22 } as const;
type SizeName = keyof typeof SIZE_FACTOR;
/** Largest half-length (fraction of the image) a scaled object may reach: about half a 3×3 cell. */
const MAX_HALF_LEN = 0.16;

/**
 * Half-length of `o` as a fraction of the image. `objectScale` > 1 enlarges every category (for
 * low-resolution runs), but never past MAX_HALF_LEN for its large instances, so an object still
 * fits its cell and "small" stays visibly smaller than "large" of the same category.
 */
export function halfLength(o: Pick<SceneObject, 'spec' | 'size'>, objectScale = 1): number {
  const large = o.spec.halfLen * SIZE_FACTOR.large;
  const scale = objectScale <= 1 ? objectScale : Math.max(1, Math.min(objectScale, MAX_HALF_LEN / large));
  return o.spec.halfLen * SIZE_FACTOR[o.size] * scale;
}

export interface SceneObject {
  spec: CategorySpec;
  color: ColorName;
  size: SizeName;
  row: number; // 0..2 top to bottom
  col: number; // 0..2 left to right
}

/** Absolute positions: each phrase denotes a set of cells (broad reading: "on the left" = any row). */
const POSITIONS: { phrases: string[]; test: (o: SceneObject) => boolean }[] = [
  { phrases: ['on the upper left', 'at the top left'], test: (o) => o.row === 0 && o.col === 0 },
  { phrases: ['on the upper right', 'at the top right'], test: (o) => o.row === 0 && o.col === 2 },
  { phrases: ['on the lower left', 'at the bottom left'], test: (o) => o.row === 2 && o.col === 0 },
  { phrases: ['on the lower right', 'at the bottom right'], test: (o) => o.row === 2 && o.col === 2 },
  { phrases: ['on the top'], test: (o) => o.row === 0 },
  { phrases: ['on the bottom', 'at the bottom'], test: (o) => o.row === 2 },
  { phrases: ['on the left'], test: (o) => o.col === 0 },
  { phrases: ['on the right'], test: (o) => o.col === 2 },
  { phrases: ['in the middle'], test: (o) => o.row === 1 && o.col === 1 },
];

const RELATIONS: { phrase: string; test: (o: SceneObject, ref: SceneObject) => boolean }[] = [
  { phrase: 'is on the left of', test: (o, r) => o.col < r.col && o.row === r.row },
  { phrase: 'is on the right of', test: (o, r) => o.col > r.col && o.row === r.row },
  { phrase: 'is above', test: (o, r) => o.row < r.row && o.col === r.col },
  { phrase: 'is below', test: (o, r) => o.row > r.row && o.col === r.col },
];

/** The meaning of an expression; `category` is always part of it. */
interface Expr {
  category: string;
  color?: ColorName;
  size?: SizeName;
  position?: number; // index into POSITIONS
  relation?: { index: number; ref: SceneObject };
}

function denotes(e: Expr, o: SceneObject): boolean {
  if (o.spec.name !== e.category) return false;
  if (e.color !== undefined && o.color !== e.color) return false;
  if (e.size !== undefined && o.size !== e.size) return false;
  if (e.position !== undefined && !POSITIONS[e.position]!.test(o)) return false;
  if (e.relation && !RELATIONS[e.relation.index]!.test(o, e.relation.ref)) return false;
  return true;
}

export const ATTRIBUTE_KINDS = ['color', 'size', 'position', 'relation'] as const;
export type AttributeKind = (typeof ATTRIBUTE_KINDS)[number];

/** Every candidate meaning for the target that picks out exactly one object of the scene, using only `kinds`. */
export function uniqueExpressions(objects: readonly SceneObject[], target: SceneObject, kinds: readonly AttributeKind[] = ATTRIBUTE_KINDS): Expr[] {
  const out: Expr[] = [];
  const may = new Set(kinds);
  // "the <category>" for a relation's landmark is only definite if that category occurs once.
  const landmarks = objects.filter((o) => o !== target && o.spec.name !== target.spec.name
    && objects.filter((p) => p.spec.name === o.spec.name).length === 1);
  for (const size of may.has('size') ? [undefined, target.size] : [undefined]) {
    for (const color of may.has('color') ? [undefined, target.color] : [undefined]) {
      const base: Expr = { category: target.spec.name, ...(size ? { size } : {}), ...(color ? { color } : {}) };
      const options: Expr[] = [base];
      if (may.has('position')) POSITIONS.forEach((p, i) => { if (p.test(target)) options.push({ ...base, position: i }); });
      for (const ref of may.has('relation') ? landmarks : []) {
        RELATIONS.forEach((r, i) => { if (r.test(target, ref)) options.push({ ...base, relation: { index: i, ref } }); });
      }
      for (const e of options) if (objects.filter((o) => denotes(e, o)).length === 1) out.push(e);
    }
  }
  return out;
}

function featureCount(e: Expr): number {
  return (e.color ? 1 : 0) + (e.size ? 1 : 0) + (e.position !== undefined ? 1 : 0) + (e.relation ? 1 : 0);
}

export function renderExpression(e: Expr, rng: SeededRandom): string {
  const spec = SPECS.find((s) => s.name === e.category)!;
  // "A" in about a quarter of the sentences, also before a vowel, as in the real data ("A oval ...").
  const words = [rng.next() < 0.75 ? 'The' : 'A'];
  const adjectives = [e.size, e.color].filter((w): w is string => w !== undefined);
  if (adjectives.length === 2 && rng.next() < 0.3) adjectives.reverse(); // "The gray small windmill"
  words.push(...adjectives, spec.words);
  if (e.position !== undefined) words.push(rng.pick(POSITIONS[e.position]!.phrases));
  if (e.relation) words.push(RELATIONS[e.relation.index]!.phrase, 'the', e.relation.ref.spec.words);
  return words.join(' ');
}

export interface RrsisdScene {
  image: RgbImage;
  mask: BinaryMask;
  sentence: string;
  category: string;
  categoryId: number;
  objects: SceneObject[];
  target: SceneObject;
}

const GROUNDS: [Rgb, Rgb][] = [
  [[92, 110, 70], [150, 140, 104]], // fields
  [[120, 118, 112], [170, 166, 156]], // urban
  [[168, 150, 118], [204, 190, 160]], // arid
  [[56, 84, 96], [92, 120, 128]], // near water
];

/** Scene knobs; the defaults give RRSIS-D-like scenes. */
export interface RrsisdSceneOptions {
  /** Multiplies object sizes (see halfLength). Default 1. */
  objectScale?: number;
  /** Most same-category distractors beside the target (0-3). Fewer make the category and colour words enough more often. Default 3. */
  maxDistractors?: number;
  /** Attribute kinds expressions may use beside the category. Default all; scenes are redrawn until one is unique. */
  attributes?: AttributeKind[];
}

/** One scene + target + verified unique expression. Retries internally until one exists. */
export function makeRrsisdScene(size: number, rng: SeededRandom, opts: RrsisdSceneOptions = {}): RrsisdScene {
  const objectScale = opts.objectScale ?? 1;
  for (let attempt = 0; ; attempt++) {
    const objects = layout(rng, opts.maxDistractors ?? 3);
    const target = objects[0]!;
    const exprs = uniqueExpressions(objects, target, opts.attributes);
    if (exprs.length === 0 && attempt < 200) continue;
    if (exprs.length === 0) throw new Error('synth: could not find a unique expression');
    // Prefer one or two attributes: short but informative, like the real expressions.
    const weights = exprs.map((e) => [0.4, 3, 2, 0.8, 0.5][featureCount(e)]!);
    let r = rng.next() * weights.reduce((a, b) => a + b, 0);
    let expr = exprs[exprs.length - 1]!;
    for (let i = 0; i < exprs.length; i++) if ((r -= weights[i]!) < 0) { expr = exprs[i]!; break; }
    const sentence = renderExpression(expr, rng);
    const { image, mask } = paint(objects, target, size, rng, objectScale);
    return {
      image, mask, sentence, objects, target,
      category: target.spec.name,
      categoryId: RRSISD_CATEGORIES.findIndex((c) => c.name === target.spec.name),
    };
  }
}

/** Target first, then 0-maxDistractors same-category distractors, then 1-3 other objects, in distinct cells. */
function layout(rng: SeededRandom, maxDistractors: number): SceneObject[] {
  const cells = rng.shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const spec = rng.pick(SPECS);
  const make = (s: CategorySpec): SceneObject => {
    const cell = cells.pop()!;
    return { spec: s, color: rng.pick(s.colors), size: rng.next() < 0.5 ? 'small' : 'large', row: Math.floor(cell / 3), col: cell % 3 };
  };
  const objects = [make(spec)];
  // Mostly at least one distractor of the target's category, so the category alone is not enough.
  const same = rng.next() < 0.12 || maxDistractors < 1 ? 0 : rng.int(1, Math.min(3, maxDistractors));
  for (let i = 0; i < same; i++) objects.push(make(spec));
  const others = rng.int(1, 3);
  for (let i = 0; i < others; i++) objects.push(make(rng.pick(SPECS.filter((s) => s !== spec))));
  return objects;
}

function paint(objects: SceneObject[], target: SceneObject, S: number, rng: SeededRandom, objectScale: number): { image: RgbImage; mask: BinaryMask } {
  const canvas = new Canvas(S, S, rng.int(0, 0x7fffffff));
  const [a, b] = rng.pick(GROUNDS);
  canvas.ground(a, b, rng);
  // Roads run along cell borders so they rarely hide objects; paint only, never a target.
  const roads = rng.int(0, 2);
  for (let i = 0; i < roads; i++) {
    drawRoadBand(canvas, rng.next() < 0.5, (rng.pick([1, 2]) / 3) * S, S * 0.04, rng.pick<Rgb>([[96, 96, 100], [150, 130, 100]]), -1, rng.next() < 0.5 ? { id: -1 } : undefined);
  }
  const cell = S / 3;
  // The target is drawn last, so it is never hidden and its mask is its whole shape.
  const order = [...objects.slice(1), target];
  order.forEach((o) => {
    const half = halfLength(o, objectScale) * S;
    canvas.draw({
      id: o === target ? 1 : 0,
      cx: (o.col + 0.5) * cell + (rng.next() - 0.5) * 0.12 * cell,
      cy: (o.row + 0.5) * cell + (rng.next() - 0.5) * 0.12 * cell,
      halfLen: Math.max(half, 1.5),
      halfWid: Math.max(half * o.spec.aspect, 1),
      angle: o.spec.aspect === 1 && o.spec.shape === shapes.tank ? 0 : rng.next() * Math.PI,
      shape: o.spec.shape,
      color: jitterColor(COLORS[o.color]!, rng),
      detail: o.spec.detail,
      shadow: true,
      shading: 0.25,
    });
  });
  return { image: canvas.image(), mask: canvas.maskOf([1]) };
}
