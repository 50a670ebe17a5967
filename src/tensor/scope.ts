// Explicit memory lifetime in the style of tf.tidy, without its confusions: `scope(fn)` disposes every tensor
// created inside fn except those fn returns (which move to the enclosing scope) and those passed to keep().
// Tensors created outside any scope (parameters, optimizer state) live until disposed.
import type { Tensor } from './tensor.ts';

const stack: Set<Tensor>[] = [];

export function trackTensor(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

export function untrackTensor(t: Tensor): void {
  for (const s of stack) s.delete(t);
}

/** Removes t from automatic disposal; the caller now owns it. */
export function keep<T extends Tensor>(t: T): T {
  untrackTensor(t);
  return t;
}

export function scope<T>(fn: () => T): T {
  const s = new Set<Tensor>();
  stack.push(s);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of s) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    throw new Error('scope(): the callback must be synchronous (read values with await after the scope ends)');
  }
  const returned = new Set<Tensor>();
  collect(result, returned, 0);
  for (const t of s) if (!returned.has(t)) t.dispose();
  for (const t of returned) if (s.has(t)) trackTensor(t);
  return result;
}

function collect(v: unknown, out: Set<Tensor>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 4) return;
  if ((v as { __isTensor?: boolean }).__isTensor) {
    out.add(v as Tensor);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, depth + 1);
}
