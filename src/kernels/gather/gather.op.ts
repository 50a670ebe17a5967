// embedding(weight (V, D), ids (...)) -> (..., D), with a deterministic scatter-add gradient into weight.
// Also serves Swin's relative-position bias: table (529, heads) gathered by a (144*144) index.
import { apply, type FunctionDef } from '../../tensor/autograd.ts';
import { shapeStr } from '../../tensor/shape.ts';
import { empty, type Tensor } from '../../tensor/tensor.ts';
import { sameDevice } from '../common.ts';
import { gatherRowsCpu, scatterAddRowsCpu } from './gather.cpu.ts';
import { gatherRowsWgsl, scatterAddRowsWgsl } from './gather.wgsl.ts';
import { contiguous, dense, zeros } from '../movement/movement.op.ts';

function gatherKernel(w: Tensor, ids: Tensor): Tensor {
  const [rows, d] = w.shape as [number, number];
  const n = ids.size;
  const out = empty([...ids.shape, d], w.dtype, w.device);
  if (n * d === 0) return out;
  if (w.device === 'cpu') gatherRowsCpu(w.storage.cpu!, w.offset, ids.storage.cpu!, ids.offset, n, d, out.storage.cpu!, rows);
  else gatherRowsWgsl(w, ids, out, n, d, rows);
  return out;
}

export function scatterAddKernel(g: Tensor, ids: Tensor, rows: number): Tensor {
  const d = g.shape[g.rank - 1]!;
  const n = ids.size;
  const gc = dense(g); // the scatter kernels index g from element 0
  const out = zeros([rows, d], g.dtype, g.device);
  if (n * d === 0) return out;
  if (g.device === 'cpu') scatterAddRowsCpu(gc.storage.cpu!, ids.storage.cpu!, ids.offset, n, d, out.storage.cpu!);
  else scatterAddRowsWgsl(gc, ids, out, n, d, rows);
  return out;
}

const embeddingFn: FunctionDef<null> = {
  name: 'embedding',
  forward: ([w, ids]) => gatherKernel(w!, ids!),
  setupContext: (ctx, [w, ids]) => {
    ctx.rows = w!.shape[0];
    ctx.saveForBackward(ids!);
  },
  backward: (ctx, g) => [scatterAddKernel(g, ctx.savedTensors[0]!, ctx.rows as number), null],
};

export function embedding(weight: Tensor, ids: Tensor): Tensor {
  sameDevice('embedding', weight, ids);
  if (weight.rank !== 2) throw new Error(`embedding: weight must be (num, dim), found ${shapeStr(weight.shape)}`);
  if (ids.dtype !== 'i32') throw new Error(`embedding: ids must be i32, found ${ids.dtype} ${shapeStr(ids.shape)}`);
  return apply(embeddingFn, [contiguous(weight), contiguous(ids)], null);
}
