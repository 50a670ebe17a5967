// Module in the PyTorch mould: parameters, buffers and submodules registered by name, so stateDict keys are
// dotted attribute paths (`layers.0.blocks.1.attn.qkv.weight`) that match the official checkpoints.
import { keep } from '../tensor/scope.ts';
import { fromArray, type Tensor } from '../tensor/tensor.ts';
import { shapeStr, sameShape } from '../tensor/shape.ts';
import { copyInto } from '../kernels/movement/movement.op.ts';
import type { TypedArray } from '../tensor/dtype.ts';

/** A trainable tensor: requires grad and is owned by its module, never by a scope. */
export function Parameter(t: Tensor): Tensor {
  keep(t);
  t.requiresGrad = true;
  return t;
}

export interface LoadReport {
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: number[]; found: number[] }[];
}

/** Host-side tensor data as read from a checkpoint. */
export interface HostTensor {
  shape: number[];
  data: TypedArray;
}

export abstract class Module {
  training = true;
  private readonly _parameters = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _modules = new Map<string, Module>();

  registerParameter(name: string, t: Tensor | null): Tensor {
    this._parameters.set(name, t ? Parameter(t) : null);
    return t!;
  }

  registerBuffer(name: string, t: Tensor | null): Tensor {
    if (t) keep(t);
    this._buffers.set(name, t);
    return t!;
  }

  registerModule<M extends Module>(name: string, m: M): M {
    this._modules.set(name, m);
    return m;
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of m._parameters) if (t) out.push([p ? `${p}.${n}` : n, t]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of m._buffers) if (t) out.push([p ? `${p}.${n}` : n, t]);
    }
    return out;
  }

  /** Parameters then buffers, by dotted name (PyTorch's state_dict order within each module). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into the existing tensors (so optimizers keep their references). strict: throw when keys are
   * missing or unexpected or shapes differ; otherwise load what matches and return the report.
   */
  loadStateDict(sd: Map<string, Tensor | HostTensor>, { strict = true } = {}): LoadReport {
    const own = this.stateDict();
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
    for (const k of own.keys()) if (!sd.has(k)) report.missing.push(k);
    for (const [k, v] of sd) {
      const t = own.get(k);
      if (!t) {
        report.unexpected.push(k);
        continue;
      }
      if (!sameShape(t.shape, v.shape)) report.mismatched.push({ key: k, expected: [...t.shape], found: [...v.shape] });
    }
    if (strict && (report.missing.length || report.unexpected.length || report.mismatched.length)) {
      throw new Error(`loadStateDict: ${formatReport(report)}`);
    }
    const bad = new Set(report.mismatched.map((m) => m.key));
    for (const [k, v] of sd) {
      const t = own.get(k);
      if (!t || bad.has(k)) continue;
      const src = 'data' in v ? fromArray(v.data, v.shape, { dtype: t.dtype, device: t.device }) : v;
      if (src.device !== t.device) throw new Error(`loadStateDict: ${k} is on ${src.device}, the module on ${t.device}`);
      if (src.dtype !== t.dtype) throw new Error(`loadStateDict: ${k} has dtype ${src.dtype}, the module ${t.dtype}`);
      copyInto(src, t);
      if (src !== v) src.dispose();
    }
    return report;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Frees every parameter, buffer and gradient. */
  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

export function formatReport(r: LoadReport): string {
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing keys (${r.missing.length}): ${r.missing.slice(0, 10).join(', ')}${r.missing.length > 10 ? ', …' : ''}`);
  if (r.unexpected.length) parts.push(`unexpected keys (${r.unexpected.length}): ${r.unexpected.slice(0, 10).join(', ')}${r.unexpected.length > 10 ? ', …' : ''}`);
  for (const m of r.mismatched.slice(0, 10)) parts.push(`${m.key}: expected ${shapeStr(m.expected)}, found ${shapeStr(m.found)}`);
  return parts.join('; ') || 'all keys matched';
}
