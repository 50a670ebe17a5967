// Reverse-mode autograd in the style of torch.autograd.Function: an op is `forward` (runs kernels, no graph),
// `setupContext` (saves what backward needs) and `backward` (one gradient or null per input).
//
// Lifetime: a Node is reference-counted by the tensor it produced and by the nodes downstream of it, so a graph
// lives exactly as long as some output that can still call backward(); saved tensors are freed after backward.
import { shapeStr, sameShape } from './shape.ts';
import { keep, scope } from './scope.ts';
import type { Tensor } from './tensor.ts';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording a graph (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export class Ctx {
  private saved: Tensor[] = [];
  private freed = false;
  /** Free-form non-tensor state (shapes, axes, scalars). */
  [key: string]: unknown;

  constructor(readonly needsInputGrad: readonly boolean[]) {}

  saveForBackward(...ts: Tensor[]): void {
    // Views that retain the storage and belong to no scope: they outlive the forward's scope.
    for (const t of ts) this.saved.push(keep(t.view(t.shape, t.strides, t.offset)));
  }

  get savedTensors(): Tensor[] {
    if (this.freed) {
      throw new Error('backward: saved tensors were already freed (a second backward needs retainGraph: true)');
    }
    return this.saved;
  }

  free(): void {
    for (const t of this.saved) t.dispose();
    this.saved = [];
    this.freed = true;
  }
}

export interface FunctionDef<A = unknown> {
  name: string;
  forward(inputs: Tensor[], attrs: A): Tensor;
  setupContext?(ctx: Ctx, inputs: Tensor[], attrs: A, output: Tensor): void;
  backward(ctx: Ctx, gradOutput: Tensor): (Tensor | null)[];
}

export class Node {
  private refs = 1;
  readonly inputNodes: (Node | null)[];
  constructor(
    readonly fn: FunctionDef<any>,
    readonly ctx: Ctx,
    /** Leaf inputs are needed to accumulate .grad; non-leaves only for their node. */
    readonly inputs: Tensor[],
    readonly outputShape: readonly number[],
  ) {
    this.inputNodes = inputs.map((t) => t.gradFn);
    for (const n of this.inputNodes) n?.retain();
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs > 0) return;
    this.ctx.free();
    for (const n of this.inputNodes) n?.release();
  }
}

/** Applies an autograd function: runs forward, and records a node when any input requires grad. */
export function apply<A>(fn: FunctionDef<A>, inputs: Tensor[], attrs: A): Tensor {
  const needs = inputs.map((t) => gradEnabled && t.requiresGrad);
  const prev = gradEnabled;
  gradEnabled = false;
  let out: Tensor;
  try {
    out = fn.forward(inputs, attrs);
  } finally {
    gradEnabled = prev;
  }
  if (needs.some(Boolean)) {
    const ctx = new Ctx(needs);
    fn.setupContext?.(ctx, inputs, attrs, out);
    out.gradFn = new Node(fn, ctx, inputs, out.shape);
    out.requiresGrad = true;
  }
  return out;
}

export interface BackwardOptions {
  retainGraph?: boolean;
}

/**
 * Accumulates d(root)/d(leaf) into every leaf's .grad. `gradient` defaults to ones for a one-element root.
 * Runs each node's backward in its own scope, so the only tensors that survive are the leaf gradients.
 */
export function backward(root: Tensor, gradient: Tensor | null, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error(`backward: tensor ${shapeStr(root.shape)} does not require grad`);
  const { ones } = requireFactories();
  const order = topoSort(root);
  const grads = new Map<Node | Tensor, Tensor>();
  const seed = gradient ? keep(gradient.view(gradient.shape, gradient.strides, gradient.offset)) : null;
  if (!seed && root.size !== 1) {
    throw new Error(`backward: a gradient is needed for a non-scalar root of shape ${shapeStr(root.shape)}`);
  }
  const g0 = seed ?? keep(noGrad(() => ones(root.shape, root.dtype, root.device)));
  if (!root.gradFn) {
    accumulateLeaf(root, g0);
    return;
  }
  grads.set(root.gradFn, g0);
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    for (const node of order) {
      const g = grads.get(node);
      if (!g) continue;
      grads.delete(node);
      const raw = scope(() => node.fn.backward(node.ctx, g));
      // A backward may pass g through, or return one tensor for two inputs: give each consumer its own view.
      const used = new Set<Tensor>();
      const inputGrads = raw.map((gi) => {
        if (!gi) return null;
        const own = used.has(gi) || gi === g ? gi.view(gi.shape, gi.strides, gi.offset) : gi;
        used.add(gi);
        return keep(own);
      });
      g.dispose();
      node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        if (!gi) return;
        if (!node.ctx.needsInputGrad[i]) {
          gi.dispose();
          return;
        }
        if (!sameShape(gi.shape, input.shape)) {
          throw new Error(`${node.fn.name}.backward: gradient ${shapeStr(gi.shape)} for input ${i} of shape ${shapeStr(input.shape)}`);
        }
        const upstream = node.inputNodes[i];
        if (upstream) {
          const prevG = grads.get(upstream);
          if (prevG) {
            grads.set(upstream, keep(addTensors(prevG, gi)));
            prevG.dispose();
            gi.dispose();
          } else grads.set(upstream, gi);
        } else accumulateLeaf(input, gi);
      });
      if (!opts.retainGraph) node.ctx.free();
    }
  } finally {
    gradEnabled = prev;
    for (const g of grads.values()) g.dispose();
  }
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (!leaf.requiresGrad) {
    g.dispose();
    return;
  }
  if (leaf.grad) {
    const sum = keep(addTensors(leaf.grad, g));
    leaf.grad.dispose();
    g.dispose();
    leaf.grad = sum;
  } else {
    leaf.grad = g.isContiguous && g.dtype === leaf.dtype ? g : keep(contiguousCopy(g));
    if (leaf.grad !== g) g.dispose();
  }
}

function topoSort(root: Tensor): Node[] {
  // Iterative DFS post-order, reversed: every node comes before the nodes it depends on.
  const order: Node[] = [];
  const seen = new Set<Node>();
  const stack: [Node, number][] = [[root.gradFn!, 0]];
  seen.add(root.gradFn!);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.inputNodes.length) {
      top[1]++;
      const next = node.inputNodes[i];
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

// The op modules register these at import, so this file does not depend on any kernel.
interface Factories {
  ones(shape: readonly number[], dtype: Tensor['dtype'], device: Tensor['device']): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  contiguous(a: Tensor): Tensor;
}
let factories: Factories | null = null;

export function registerAutogradFactories(f: Factories): void {
  factories = f;
}

function requireFactories(): Factories {
  if (!factories) throw new Error('autograd: import the ops (src/index.ts) before calling backward');
  return factories;
}

function addTensors(a: Tensor, b: Tensor): Tensor {
  return requireFactories().add(a, b);
}

function contiguousCopy(a: Tensor): Tensor {
  return requireFactories().contiguous(a);
}
