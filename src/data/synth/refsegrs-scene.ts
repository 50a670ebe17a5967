// RefSegRS-shaped scenes: an urban aerial tile (roads with sidewalks, markings and bikeways, blocks
// of buildings, parking lots, vegetation) where a short lowercase phrase — [attribute] class
// [relation] (DATASETS.md §10.1) — denotes the SET of objects it describes, e.g. "vehicle in the
// parking area" is every parked vehicle. The mask is the union of their visible pixels.
//
// Phrases are meanings evaluated against the object list (denotation()), and a modified phrase is
// only used when the modifier changes the set, so the text is needed to find the target.
import type { BinaryMask, RgbImage } from '../types.ts';
import { Canvas, clamp255, COLORS, jitterColor, SeededRandom, shapes, type Rgb } from './scene.ts';

export const REFSEGRS_CLASSES = [
  'road', 'vehicle', 'car', 'van', 'building', 'truck', 'trailer', 'bus', 'road marking', 'bikeway', 'sidewalk',
  'tree', 'low vegetation', 'impervious surface',
] as const;
export type RefSegRSClass = (typeof REFSEGRS_CLASSES)[number];

type VehicleKind = 'car' | 'van' | 'truck' | 'bus' | 'trailer';
type Attr =
  | 'paved' | 'unpaved' | 'light-duty' | 'heavy-duty' | 'long'
  | 'in the parking area' | 'driving on the road' | 'along the road' | 'along with tree' | 'with a parking lot'
  | 'surrounded by building';

export interface RObject {
  id: number;
  cls: RefSegRSClass; // vehicles carry their kind (car, van, ...), never 'vehicle'
  attrs: Set<Attr>;
}

/** A phrase's meaning: a noun (class test) and an optional relation attribute. */
export interface Phrase {
  noun: string;
  relation?: Attr;
}

const VEHICLES = new Set<RefSegRSClass>(['car', 'van', 'truck', 'bus', 'trailer']);

const NOUNS: Record<string, (o: RObject) => boolean> = {
  road: (o) => o.cls === 'road',
  'paved road': (o) => o.cls === 'road' && o.attrs.has('paved'),
  'unpaved road': (o) => o.cls === 'road' && o.attrs.has('unpaved'),
  vehicle: (o) => VEHICLES.has(o.cls),
  car: (o) => o.cls === 'car',
  van: (o) => o.cls === 'van',
  truck: (o) => o.cls === 'truck',
  'long truck': (o) => o.cls === 'truck' && o.attrs.has('long'),
  bus: (o) => o.cls === 'bus',
  trailer: (o) => o.cls === 'trailer',
  'light-duty vehicle': (o) => o.attrs.has('light-duty'),
  'heavy-duty vehicle': (o) => o.attrs.has('heavy-duty'),
  building: (o) => o.cls === 'building',
  'road marking': (o) => o.cls === 'road marking',
  bikeway: (o) => o.cls === 'bikeway',
  sidewalk: (o) => o.cls === 'sidewalk',
  tree: (o) => o.cls === 'tree',
  'low vegetation': (o) => o.cls === 'low vegetation',
  'impervious surface': (o) => o.cls === 'impervious surface',
};

/** Relations each noun family can take (the dataset's own pairings). */
const VEHICLE_NOUNS = ['vehicle', 'car', 'van', 'truck', 'long truck', 'bus', 'trailer', 'light-duty vehicle', 'heavy-duty vehicle'];

/** Relations each noun family can take (the dataset's own pairings). */
function relationsFor(noun: string): Attr[] {
  if (VEHICLE_NOUNS.includes(noun)) return ['in the parking area', 'driving on the road'];
  if (noun === 'building') return ['along the road', 'with a parking lot'];
  if (noun === 'sidewalk') return ['along with tree'];
  if (noun === 'low vegetation') return ['surrounded by building'];
  return [];
}

export function phraseText(p: Phrase): string {
  return p.relation ? `${p.noun} ${p.relation}` : p.noun;
}

/** Ids of the objects a phrase denotes. */
export function denotation(p: Phrase, objects: readonly RObject[]): number[] {
  const nounTest = NOUNS[p.noun];
  if (!nounTest) throw new Error(`synth: unknown noun ${p.noun}`);
  return objects.filter((o) => nounTest(o) && (!p.relation || o.attrs.has(p.relation))).map((o) => o.id);
}

/** All phrases with a non-empty, visible denotation whose modifiers actually narrow the set. */
export function informativePhrases(objects: readonly RObject[], visible: ReadonlyMap<number, number>): Phrase[] {
  const out: Phrase[] = [];
  const key = (ids: number[]) => ids.join(',');
  for (const noun of Object.keys(NOUNS)) {
    const bare = denotation({ noun }, objects).filter((id) => (visible.get(id) ?? 0) > 0);
    if (bare.length === 0) continue;
    // An attribute noun ("paved road") is only informative when it differs from its head ("road").
    const head = noun.includes(' ') && !['road marking', 'low vegetation', 'impervious surface'].includes(noun)
      ? noun.split(' ').slice(-1)[0]!
      : undefined;
    const headSet = head && NOUNS[head] ? denotation({ noun: head }, objects).filter((id) => (visible.get(id) ?? 0) > 0) : undefined;
    if (!headSet || key(headSet) !== key(bare)) out.push({ noun });
    for (const relation of relationsFor(noun)) {
      const ids = denotation({ noun, relation }, objects).filter((id) => (visible.get(id) ?? 0) > 0);
      if (ids.length > 0 && key(ids) !== key(bare)) out.push({ noun, relation });
    }
  }
  return out;
}

export interface RefSegRSScene {
  image: RgbImage;
  objects: RObject[];
  /** Visible pixel count per object id. */
  visible: Map<number, number>;
  canvas: Canvas;
}

interface Rect { x0: number; y0: number; x1: number; y1: number }

/** Builds and paints one tile. */
export function makeRefSegRSScene(S: number, rng: SeededRandom): RefSegRSScene {
  const canvas = new Canvas(S, S, rng.int(0, 0x7fffffff));
  canvas.ground(jitterColor([112, 116, 84], rng, 20), jitterColor([150, 142, 112], rng, 20), rng);
  const objects: RObject[] = [];
  const add = (cls: RefSegRSClass, ...attrs: Attr[]): RObject => {
    const o = { id: objects.length, cls, attrs: new Set(attrs) };
    objects.push(o);
    return o;
  };

  // Roads: 'h', 'v' or a crossing, described as bands [lo, hi) across one axis.
  const rw = 0.11 * S, sw = 0.03 * S, bw = 0.022 * S, tr = 0.045 * S;
  const config = rng.pick(['h', 'v', 'cross', 'cross', 'h']);
  const roads = (config === 'cross' ? ['h', 'v'] : [config]).map((dir) => {
    const paved = rng.next() < 0.78;
    const pos = (0.3 + rng.next() * 0.4) * S;
    const bike = paved && rng.next() < 0.4;
    const treeSide = paved && rng.next() < 0.6 ? rng.pick([-1, 1]) : 0;
    return { dir, paved, pos, bike, treeSide, road: add('road', paved ? 'paved' : 'unpaved') };
  });
  const band = (r: (typeof roads)[number]): [number, number] => {
    const extra = r.paved ? sw + (r.bike ? bw : 0) + tr : 0.01 * S;
    return [r.pos - rw / 2 - extra, r.pos + rw / 2 + extra];
  };
  const strip = (r: (typeof roads)[number], lo: number, hi: number): Rect =>
    r.dir === 'h' ? { x0: 0, y0: lo, x1: S, y1: hi } : { x0: lo, y0: 0, x1: hi, y1: S };

  // Blocks between roads get land uses; paint them first so road furniture lies on top.
  const blocks = freeBlocks(S, roads.map((r) => ({ dir: r.dir, band: band(r) })), rng);
  for (const b of blocks) paintBlock(canvas, b, rng, add, S);

  // Sidewalks and bikeways, then pavement (a crossing road paves over the other's sidewalks).
  const sidewalks: { road: (typeof roads)[number]; side: number; obj: RObject }[] = [];
  for (const r of roads) {
    if (!r.paved) continue;
    for (const side of [-1, 1]) {
      const o = add('sidewalk', ...(r.treeSide === side ? ['along with tree' as const] : []));
      sidewalks.push({ road: r, side, obj: o });
      const a = r.pos + side * (rw / 2), b = r.pos + side * (rw / 2 + sw);
      const rect = strip(r, Math.min(a, b), Math.max(a, b));
      canvas.fillRect(rect.x0, rect.y0, rect.x1, rect.y1, [186, 182, 174], o.id, 8);
    }
    if (r.bike) {
      const side = rng.pick([-1, 1]);
      const a = r.pos + side * (rw / 2 + sw), b = a + side * bw;
      const rect = strip(r, Math.min(a, b), Math.max(a, b));
      canvas.fillRect(rect.x0, rect.y0, rect.x1, rect.y1, [176, 96, 84], add('bikeway').id, 8);
    }
  }
  for (const r of roads) {
    const rect = strip(r, r.pos - rw / 2, r.pos + rw / 2);
    canvas.fillRect(rect.x0, rect.y0, rect.x1, rect.y1, r.paved ? [84, 86, 90] : [152, 126, 92], r.road.id, r.paved ? 8 : 18);
  }
  const onOtherRoad = (r: (typeof roads)[number], t: number): boolean =>
    roads.some((o) => o !== r && Math.abs(t - o.pos) < band(o)[1] - o.pos);
  for (const r of roads) {
    if (!r.paved) continue;
    const m = add('road marking');
    const dash = 0.05 * S, line = Math.max(1, 0.008 * S);
    for (let t = dash / 2; t < S; t += dash * 2) {
      if (onOtherRoad(r, t) || onOtherRoad(r, t + dash)) continue;
      const rect = strip(r, r.pos - line / 2, r.pos + line / 2);
      if (r.dir === 'h') canvas.fillRect(t, rect.y0, t + dash, rect.y1, [230, 230, 222], m.id, 5);
      else canvas.fillRect(rect.x0, t, rect.x1, t + dash, [230, 230, 222], m.id, 5);
    }
  }
  // Tree rows just outside a sidewalk.
  for (const sdw of sidewalks) {
    if (!sdw.obj.attrs.has('along with tree')) continue;
    const off = sdw.road.pos + sdw.side * (rw / 2 + sw + (sdw.road.bike ? bw : 0) + tr / 2);
    for (let t = tr; t < S - tr / 2; t += tr * (1.3 + rng.next())) {
      if (onOtherRoad(sdw.road, t)) continue;
      const [cx, cy] = sdw.road.dir === 'h' ? [t, off] : [off, t];
      drawTree(canvas, add('tree').id, cx, cy, tr * 0.55, rng);
    }
  }
  // Traffic: vehicles in the two lanes, along the road axis.
  for (const r of roads) {
    const n = rng.int(0, 4);
    const used: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const kind = rng.pick<VehicleKind>(r.paved ? ['car', 'car', 'van', 'truck', 'bus'] : ['car', 'truck']);
      const dims = vehicleDims(kind, S, rng);
      const t = dims.halfLen + rng.next() * (S - 2 * dims.halfLen);
      if (used.some(([a, b]) => t + dims.halfLen > a - 2 && t - dims.halfLen < b + 2) || onOtherRoad(r, t)) continue;
      used.push([t - dims.halfLen, t + dims.halfLen]);
      const lane = r.pos + rng.pick([-1, 1]) * rw * 0.24;
      const [cx, cy] = r.dir === 'h' ? [t, lane] : [lane, t];
      drawVehicle(canvas, addVehicle(add, kind, dims.long, 'driving on the road').id, kind, cx, cy, dims, r.dir === 'h' ? 0 : Math.PI / 2, rng);
    }
  }
  return { image: canvas.image(), objects, visible: canvas.visibleCounts(), canvas };
}

type AddFn = (cls: RefSegRSClass, ...attrs: Attr[]) => RObject;

function addVehicle(add: AddFn, kind: VehicleKind, long: boolean, where: Attr): RObject {
  const duty: Attr = kind === 'car' || kind === 'van' ? 'light-duty' : 'heavy-duty';
  return long ? add(kind, duty, where, 'long') : add(kind, duty, where);
}

function vehicleDims(kind: VehicleKind, S: number, rng: SeededRandom): { halfLen: number; halfWid: number; long: boolean } {
  const base = { car: [0.02, 0.009], van: [0.026, 0.011], truck: [0.04, 0.013], bus: [0.055, 0.014], trailer: [0.042, 0.013] }[kind];
  const long = kind === 'truck' && rng.next() < 0.5;
  const k = long ? 1.45 : 0.9 + rng.next() * 0.2;
  return { halfLen: Math.max(base[0]! * S * k, 2), halfWid: Math.max(base[1]! * S, 1), long };
}

function drawVehicle(canvas: Canvas, id: number, kind: VehicleKind, cx: number, cy: number,
  dims: { halfLen: number; halfWid: number }, angle: number, rng: SeededRandom): void {
  const palette: Rgb[] = kind === 'car'
    ? [COLORS.red!, COLORS.white!, COLORS.gray!, COLORS.blue!, COLORS.black!]
    : kind === 'bus' ? [COLORS.yellow!, COLORS.white!] : [COLORS.white!, COLORS.gray!, [200, 200, 190]];
  canvas.draw({ id, cx, cy, ...dims, angle, shape: kind === 'car' || kind === 'van' ? shapes.vehicle : shapes.roof,
    color: jitterColor(rng.pick(palette), rng), detail: [40, 44, 50], shadow: true, shading: 0.15 });
}

function drawTree(canvas: Canvas, id: number, cx: number, cy: number, r: number, rng: SeededRandom): void {
  canvas.draw({ id, cx, cy, halfLen: Math.max(r, 1.5), halfWid: Math.max(r, 1.5), angle: rng.next() * 6, shape: shapes.tree,
    color: jitterColor([46, 96, 42], rng, 20), shadow: true, shading: 0.35 });
}

/** Splits the area left free by the road bands into rectangular blocks (≥ ~0.18 S a side). */
function freeBlocks(S: number, roads: { dir: string; band: [number, number] }[], rng: SeededRandom): (Rect & { roadEdges: string[] })[] {
  const gapsX: [number, number][] = [], gapsY: [number, number][] = [];
  for (const r of roads) (r.dir === 'h' ? gapsY : gapsX).push(r.band);
  const spans = (gaps: [number, number][]): [number, number, boolean, boolean][] => {
    // Intervals of [0, S] outside the gaps, flagged with whether each end touches a road.
    const out: [number, number, boolean, boolean][] = [];
    let lo = 0, loRoad = false;
    for (const [a, b] of [...gaps].sort((p, q) => p[0] - q[0])) {
      if (a > lo) out.push([lo, a, loRoad, true]);
      lo = b;
      loRoad = true;
    }
    if (lo < S) out.push([lo, S, loRoad, false]);
    return out;
  };
  const blocks: (Rect & { roadEdges: string[] })[] = [];
  for (const [x0, x1, lRoad, rRoad] of spans(gapsX)) {
    for (const [y0, y1, tRoad, bRoad] of spans(gapsY)) {
      // Subdivide big areas so a tile holds several land uses.
      const nx = Math.max(1, Math.min(3, Math.floor((x1 - x0) / (0.3 * S)))), ny = Math.max(1, Math.min(3, Math.floor((y1 - y0) / (0.3 * S))));
      for (let i = 0; i < nx; i++) for (let j = 0; j < ny; j++) {
        const bx0 = x0 + ((x1 - x0) * i) / nx, bx1 = x0 + ((x1 - x0) * (i + 1)) / nx;
        const by0 = y0 + ((y1 - y0) * j) / ny, by1 = y0 + ((y1 - y0) * (j + 1)) / ny;
        if (bx1 - bx0 < 0.08 * S || by1 - by0 < 0.08 * S) continue;
        const roadEdges: string[] = [];
        if (i === 0 && lRoad) roadEdges.push('l');
        if (i === nx - 1 && rRoad) roadEdges.push('r');
        if (j === 0 && tRoad) roadEdges.push('t');
        if (j === ny - 1 && bRoad) roadEdges.push('b');
        blocks.push({ x0: bx0, y0: by0, x1: bx1, y1: by1, roadEdges });
      }
    }
  }
  return rng.shuffle(blocks);
}

function paintBlock(canvas: Canvas, b: Rect & { roadEdges: string[] }, rng: SeededRandom, add: AddFn, S: number): void {
  const pad = 0.015 * S;
  const r: Rect = { x0: b.x0 + pad, y0: b.y0 + pad, x1: b.x1 - pad, y1: b.y1 - pad };
  const w = r.x1 - r.x0, h = r.y1 - r.y0;
  const use = rng.pick(['parking', 'parking', 'buildings', 'buildings', 'vegetation', 'courtyard', 'plaza']);
  const roof = (): Rgb => jitterColor(rng.pick<Rgb>([[168, 84, 62], [150, 150, 154], [210, 206, 198], [120, 108, 100]]), rng, 18);
  const building = (x0: number, y0: number, x1: number, y1: number, ...attrs: Attr[]): void => {
    // Along the road when the building touches the block side that faces a road.
    const near = 0.03 * S;
    if ((b.roadEdges.includes('l') && x0 - r.x0 < near) || (b.roadEdges.includes('r') && r.x1 - x1 < near)
      || (b.roadEdges.includes('t') && y0 - r.y0 < near) || (b.roadEdges.includes('b') && r.y1 - y1 < near)) attrs.push('along the road');
    const o = add('building', ...attrs);
    const horiz = x1 - x0 >= y1 - y0;
    canvas.draw({ id: o.id, cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, halfLen: Math.max((horiz ? x1 - x0 : y1 - y0) / 2, 1),
      halfWid: Math.max((horiz ? y1 - y0 : x1 - x0) / 2, 1), angle: horiz ? 0 : Math.PI / 2, shape: shapes.roof,
      color: roof(), detail: [70, 64, 60], shadow: true, shading: 0.3 });
  };
  if (use === 'parking') {
    // Optionally a building on one side of the lot: "building with a parking lot".
    let lot = r;
    if (rng.next() < 0.5 && w > 0.12 * S) {
      const split = r.x0 + w * 0.38;
      building(r.x0, r.y0 + h * 0.1, split - 0.01 * S, r.y1 - h * 0.1, 'with a parking lot');
      lot = { ...r, x0: split };
    }
    const o = add('impervious surface', 'in the parking area');
    canvas.fillRect(lot.x0, lot.y0, lot.x1, lot.y1, [148, 148, 146], o.id, 10);
    // Rows of parked vehicles across the lot.
    const slot = 0.03 * S;
    for (let y = lot.y0 + 0.05 * S; y < lot.y1 - 0.03 * S; y += 0.08 * S) {
      for (let x = lot.x0 + slot; x < lot.x1 - slot / 2; x += slot * 1.25) {
        if (rng.next() < 0.45) continue;
        const kind = rng.pick<VehicleKind>(['car', 'car', 'car', 'van', 'trailer', 'truck']);
        const dims = vehicleDims(kind, S, rng);
        if (kind === 'trailer' || kind === 'truck') { if (y + dims.halfLen > lot.y1) continue; }
        const dimsParked = { ...dims, halfLen: Math.min(dims.halfLen, 0.035 * S) };
        drawVehicle(canvas, addVehicle(add, kind, dims.long, 'in the parking area').id, kind, x, y, dimsParked, Math.PI / 2, rng);
        if (kind === 'trailer' || kind === 'truck') x += slot * 0.6;
      }
    }
  } else if (use === 'buildings') {
    const n = rng.int(1, 2);
    for (let i = 0; i < n; i++) {
      const bx0 = r.x0 + (w * i) / n + rng.next() * 0.1 * w, bx1 = r.x0 + (w * (i + 1)) / n - rng.next() * 0.1 * w;
      const flush = rng.next() < 0.6;
      const by0 = flush ? r.y0 : r.y0 + h * (0.15 + rng.next() * 0.15);
      building(bx0, by0, bx1 - 0.01 * S, by0 + h * (0.45 + rng.next() * 0.3));
    }
  } else if (use === 'vegetation' || use === 'courtyard') {
    const courtyard = use === 'courtyard' && w > 0.15 * S && h > 0.15 * S;
    const inner: Rect = courtyard ? { x0: r.x0 + w * 0.28, y0: r.y0 + h * 0.28, x1: r.x1 - w * 0.28, y1: r.y1 - h * 0.28 } : r;
    const veg = add('low vegetation', ...(courtyard ? ['surrounded by building' as const] : []));
    vegetation(canvas, inner, veg.id, rng);
    if (courtyard) {
      const t = Math.min(w, h) * 0.2;
      building(r.x0, r.y0, r.x1, r.y0 + t);
      building(r.x0, r.y1 - t, r.x1, r.y1);
      building(r.x0, r.y0 + t + 2, r.x0 + t, r.y1 - t - 2);
      building(r.x1 - t, r.y0 + t + 2, r.x1, r.y1 - t - 2);
    } else {
      const n = rng.int(0, 4);
      for (let i = 0; i < n; i++) {
        drawTree(canvas, add('tree').id, r.x0 + rng.next() * w, r.y0 + rng.next() * h, 0.025 * S * (0.8 + rng.next() * 0.6), rng);
      }
    }
  } else {
    canvas.fillRect(r.x0, r.y0, r.x1, r.y1, jitterColor([168, 164, 156], rng, 16), add('impervious surface').id, 14);
  }
}

function vegetation(canvas: Canvas, r: Rect, id: number, rng: SeededRandom): void {
  const base = jitterColor([96, 140, 70], rng, 20);
  canvas.fillRect(r.x0, r.y0, r.x1, r.y1, base, id, 22);
  // Mottle: darker clumps so grass is not a flat colour.
  for (let y = Math.round(r.y0); y < Math.round(r.y1); y++) {
    for (let x = Math.round(r.x0); x < Math.round(r.x1); x++) {
      if (x < 0 || y < 0 || x >= canvas.width || y >= canvas.height) continue;
      const g = canvas.grain(x >> 2, y >> 2, 11);
      if (g > 0.4) { const i = (y * canvas.width + x) * 3; for (let c = 0; c < 3; c++) canvas.rgb[i + c] = clamp255(canvas.rgb[i + c]! * 0.85); }
    }
  }
}

/** Mask (0/1) of a phrase on a painted scene. */
export function phraseMask(scene: RefSegRSScene, p: Phrase): BinaryMask {
  return scene.canvas.maskOf(denotation(p, scene.objects));
}

/**
 * Up to k distinct phrases for one tile, drawn class-first so rare classes are not swamped by
 * roads and vehicles, preferring phrases with a relation or attribute (the text matters).
 * Distinct phrases may still denote the same set ("vehicle" / "car"), as in the real data.
 */
export function choosePhrases(scene: RefSegRSScene, rng: SeededRandom, k: number): Phrase[] {
  const all = informativePhrases(scene.objects, scene.visible).filter((p) => {
    // Tiny targets (a few pixels) make poor samples; keep those with a visible footprint.
    const px = denotation(p, scene.objects).reduce((a, id) => a + (scene.visible.get(id) ?? 0), 0);
    return px >= Math.max(4, scene.canvas.width * scene.canvas.height * 0.0004);
  });
  const byClass = new Map<string, Phrase[]>();
  for (const p of all) {
    const head = headClass(p.noun);
    byClass.set(head, [...(byClass.get(head) ?? []), p]);
  }
  const out: Phrase[] = [];
  const classes = rng.shuffle([...byClass.keys()]);
  for (const c of classes) {
    if (out.length >= k) break;
    const options = byClass.get(c)!;
    const modified = options.filter((p) => p.relation || p.noun.includes('-') || /^(paved|unpaved|long) /.test(p.noun));
    out.push(rng.pick(modified.length > 0 && rng.next() < 0.6 ? modified : options));
  }
  return out;
}

/** The RefSegRS class a phrase's noun names ("light-duty vehicle" -> vehicle, "paved road" -> road). */
export function headClass(noun: string): string {
  if (noun === 'long truck') return 'truck';
  if (noun.endsWith(' vehicle')) return 'vehicle';
  return noun.replace(/^(paved|unpaved) /, '');
}
