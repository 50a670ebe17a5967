// Op cases for the regularize, loss and tmem families: random and edge shapes (size 1, odd and non-dividing
// sizes, more than one pooling dispatch, non-contiguous views, u32 labels). Every case runs through
// checkCase: WGSL vs the CPU reference forward and backward, then float64 gradcheck of the CPU path.
import * as F from '../../src/index.ts';
import { dropPath, dropPathAdd } from '../../src/kernels/regularize/regularize.op.ts';
import { diceLoss, fianetLoss, segLoss, weightedCrossEntropy2d } from '../../src/kernels/loss/loss.op.ts';
import { pyramidPoolConcat, tmemGate } from '../../src/kernels/tmem/tmem.op.ts';
import type { OpCase } from './harness.ts';

const cases: OpCase[] = [];
const add = (c: OpCase) => cases.push(c);

// ---- regularize: a fresh Generator per run, so every device (and the gradcheck) draws the same key ----
const gen = () => new F.Generator(11);
add({ op: 'dropPath', label: 'p=0.3 (8, 3, 5)', inputs: [{ shape: [8, 3, 5] }], run: ([x]) => dropPath(x!, 0.3, true, gen()) });
add({ op: 'dropPath', label: 'p=0.6 (16, 7) transposed', inputs: [{ shape: [16, 7], transposed: true }], run: ([x]) => dropPath(x!, 0.6, true, gen()) });
add({ op: 'dropPath', label: 'p=0.5 (3, 40, 70): lanes stride over 2800 elements a sample', inputs: [{ shape: [3, 40, 70] }], run: ([x]) => dropPath(x!, 0.5, true, gen()) });
add({ op: 'dropPath', label: 'size 1', inputs: [{ shape: [1] }], run: ([x]) => dropPath(x!, 0.2, true, gen()) });
add({ op: 'dropPathAdd', label: 'p=0.4 (6, 4, 9)', inputs: [{ shape: [6, 4, 9] }, { shape: [6, 4, 9] }], run: ([r, x]) => dropPathAdd(r!, x!, 0.4, true, gen()) });
add({ op: 'dropPathAdd', label: 'p=0.5 (5, 3) transposed branch', inputs: [{ shape: [5, 3] }, { shape: [5, 3], transposed: true }], run: ([r, x]) => dropPathAdd(r!, x!, 0.5, true, gen()) });

// ---- loss: logits (B, C, H, W), labels (B, H, W) ----
const lossCase = (op: string, label: string, z: number[], fn: (z: F.Tensor, y: F.Tensor) => F.Tensor, opts: { transposed?: boolean; u32?: boolean } = {}) =>
  add({
    op, label,
    inputs: [{ shape: z, transposed: opts.transposed }, { shape: [z[0]!, z[2]!, z[3]!], ints: z[1]!, dtype: opts.u32 ? 'u32' : 'i32' }],
    run: ([x, y]) => fn(x!, y!),
  });
const fianet = (z: F.Tensor, y: F.Tensor) => {
  const r = fianetLoss(z, y);
  r.ce.dispose();
  r.dice.dispose();
  return r.loss;
};
lossCase('fianetLoss', 'B=2 2x9x7', [2, 2, 9, 7], fianet);
lossCase('fianetLoss', 'B=3 2x1x1', [3, 2, 1, 1], fianet);
lossCase('fianetLoss', 'u32 labels, transposed logits 2x5x6', [2, 2, 5, 6], fianet, { transposed: true, u32: true });
// 2 x 2500 pixels: two partial-sum chunks per sample (2048 pixels each).
lossCase('fianetLoss', 'B=2 2x50x50 (two chunks)', [2, 2, 50, 50], fianet);
lossCase('fianetLoss', 'C=3 general coefficients', [2, 3, 4, 5], (z, y) => {
  const r = segLoss(z, y, { weight: [0.5, 1, 2], ceCoef: 0.7, diceCoef: 0.3 });
  r.ce.dispose();
  r.dice.dispose();
  return r.loss;
});
lossCase('weightedCrossEntropy2d', 'B=2 2x6x5', [2, 2, 6, 5], (z, y) => weightedCrossEntropy2d(z, y));
lossCase('weightedCrossEntropy2d', 'C=4 weights', [1, 4, 3, 7], (z, y) => weightedCrossEntropy2d(z, y, [1, 0.5, 2, 0.25]));
lossCase('diceLoss', 'B=2 2x7x3', [2, 2, 7, 3], (z, y) => diceLoss(z, y));
lossCase('diceLoss', 'B=1 2x1x2', [1, 2, 1, 2], (z, y) => diceLoss(z, y));

// ---- tmem ----
const maps = (shapes: number[][]) => shapes.map((shape) => ({ shape }));
add({ op: 'pyramidPoolConcat', label: 'TMEM factors 8/4/2/1 onto 2x2', inputs: maps([[2, 3, 16, 16], [2, 4, 8, 8], [2, 2, 4, 4], [2, 5, 2, 2]]), run: (xs) => pyramidPoolConcat(xs) });
add({ op: 'pyramidPoolConcat', label: 'non-dividing and smaller-than-grid maps', inputs: maps([[2, 2, 7, 5], [2, 3, 4, 9], [2, 2, 2, 2]]), run: (xs) => pyramidPoolConcat(xs, [3, 4]) });
add({ op: 'pyramidPoolConcat', label: 'six maps (two dispatches)', inputs: maps([[1, 2, 6, 6], [1, 1, 4, 4], [1, 3, 3, 3], [1, 2, 5, 3], [1, 1, 2, 2], [1, 2, 3, 3]]), run: (xs) => pyramidPoolConcat(xs, [2, 2]) });
add({ op: 'pyramidPoolConcat', label: 'transposed maps', inputs: [{ shape: [2, 3, 6, 4], transposed: true }, { shape: [2, 2, 3, 2], transposed: true }], run: (xs) => pyramidPoolConcat(xs, [3, 2]) });
add({ op: 'pyramidPoolConcat', label: 'one map to 1x1 (global average)', inputs: [{ shape: [3, 2, 5, 7] }], run: ([x]) => pyramidPoolConcat([x!], [1, 1]) });
add({ op: 'pyramidPoolConcat', label: 'size 1 map to 2x3', inputs: [{ shape: [1, 1, 1, 1] }], run: ([x]) => pyramidPoolConcat([x!], [2, 3]) });
const gate = (fine: number[], coarse: number[]) => [{ shape: fine }, { shape: coarse }, { shape: coarse }];
add({ op: 'tmemGate', label: 'x8 upsampling (2, 3, 16, 16) from 2x2', inputs: gate([2, 3, 16, 16], [2, 3, 2, 2]), run: ([l, g, a]) => tmemGate(l!, g!, a!) });
add({ op: 'tmemGate', label: 'non-integer ratios 9x7 from 4x3, saturated h-sigmoid', inputs: gate([2, 2, 9, 7], [2, 2, 4, 3]), run: ([l, g, a]) => tmemGate(l!, g!, F.mul(a!, 2.2)) });
add({ op: 'tmemGate', label: 'identity size (stage 4)', inputs: gate([1, 2, 4, 5], [1, 2, 4, 5]), run: ([l, g, a]) => tmemGate(l!, g!, a!) });
add({ op: 'tmemGate', label: 'coarse larger than fine', inputs: gate([1, 2, 3, 3], [1, 2, 5, 4]), run: ([l, g, a]) => tmemGate(l!, g!, a!) });
add({ op: 'tmemGate', label: 'size 1 and transposed local', inputs: [{ shape: [1, 1, 3, 2], transposed: true }, { shape: [1, 1, 1, 1] }, { shape: [1, 1, 1, 1] }], run: ([l, g, a]) => tmemGate(l!, g!, a!) });

export const CASES_LOSSES: OpCase[] = cases;
