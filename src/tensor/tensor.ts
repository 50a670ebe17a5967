// The Tensor: a strided view (shape, strides, element offset) over a reference-counted Storage on one device.
// Views (reshape when possible, permute, expand, slice) share storage; kernels read strides from uniforms.
import { Float16Array } from '@petamoriken/float16';
import { allocArray, byteSize, type DType, type TypedArray } from './dtype.ts';
import { contiguousStrides, isContiguous, numel, shapeStr, type Shape } from './shape.ts';
import { memoryStats, Storage, type DeviceName } from './storage.ts';
import { trackTensor, untrackTensor } from './scope.ts';
import { defaultDevice, getRuntime } from '../runtime/device.ts';
import { backward, type BackwardOptions, type Node } from './autograd.ts';

let nextId = 1;

export type NestedArray = number | NestedArray[];

export interface TensorOptions {
  dtype?: DType;
  device?: DeviceName;
  requiresGrad?: boolean;
}

export class Tensor {
  readonly __isTensor = true;
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  private _storage: Storage | null;
  requiresGrad = false;
  grad: Tensor | null = null;
  gradFn: Node | null = null;
  /** Set on Parameters and other tensors that own their lifetime explicitly. */
  name = '';

  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    this._storage = storage;
    this.shape = [...shape];
    this.strides = strides ? [...strides] : contiguousStrides(shape);
    this.offset = offset;
    this.dtype = storage.dtype;
    memoryStats.liveTensors++;
    trackTensor(this);
  }

  get storage(): Storage {
    if (!this._storage) throw new Error(`tensor #${this.id} ${shapeStr(this.shape)} used after dispose()`);
    return this._storage;
  }

  get device(): DeviceName {
    return this.storage.device;
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return numel(this.shape);
  }

  get isDisposed(): boolean {
    return this._storage === null;
  }

  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** A new Tensor object over the same memory (retains the storage). */
  view(shape: Shape, strides: readonly number[], offset: number): Tensor {
    const s = this.storage;
    s.retain();
    return new Tensor(s, shape, strides, offset);
  }

  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    memoryStats.liveTensors--;
    untrackTensor(this);
    const fn = this.gradFn;
    this.gradFn = null;
    fn?.release();
  }

  /** Accumulates gradients into the leaves (see autograd.backward). */
  backward(gradient: Tensor | null = null, opts: BackwardOptions = {}): void {
    backward(this, gradient, opts);
  }

  /** A graph-free alias of the same memory. */
  detach(): Tensor {
    return this.view(this.shape, this.strides, this.offset);
  }

  toString(): string {
    return `Tensor${shapeStr(this.shape)} ${this.dtype} ${this._storage ? this.device : 'disposed'}`;
  }

  /** Copies the logical (row-major) contents to the host. The only operation that waits on the GPU. */
  async toArray(): Promise<TypedArray> {
    const s = this.storage;
    if (!this.isContiguous) {
      const { contiguous } = await import('../kernels/movement/movement.op.ts');
      const c = contiguous(this);
      try {
        return await c.toArray();
      } finally {
        c.dispose();
      }
    }
    const n = this.size;
    if (s.device === 'cpu') return s.cpu!.slice(this.offset, this.offset + n);
    const bytes = byteSize(this.dtype);
    const raw = await getRuntime().read(s.gpu!, s.gpuOffset + this.offset * bytes, n * bytes);
    return fromBytes(this.dtype, raw, n);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): expected one element, found ${shapeStr(this.shape)}`);
    return (await this.toArray())[0]!;
  }

  async toNested(): Promise<NestedArray> {
    const flat = Array.from(await this.toArray());
    const build = (d: number, off: number): NestedArray => {
      if (d === this.rank) return flat[off]!;
      const stride = numel(this.shape.slice(d + 1));
      return Array.from({ length: this.shape[d]! }, (_, i) => build(d + 1, off + i * stride));
    };
    return build(0, 0);
  }
}

function fromBytes(dtype: DType, raw: ArrayBuffer, n: number): TypedArray {
  switch (dtype) {
    case 'f32': return new Float32Array(raw, 0, n);
    case 'i32': return new Int32Array(raw, 0, n);
    case 'u32': return new Uint32Array(raw, 0, n);
    case 'f16': return new Float16Array(new Uint16Array(raw, 0, n).slice().buffer);
    case 'f64': throw new Error('f64 is cpu-only');
  }
}

/** Allocates an uninitialized contiguous tensor. */
export function empty(shape: Shape, dtype: DType = 'f32', device: DeviceName = defaultDevice()): Tensor {
  const n = numel(shape);
  const s = device === 'cpu' ? Storage.cpu(dtype, n) : Storage.gpu(getRuntime(), dtype, n);
  return new Tensor(s, shape);
}

function flatten(data: NestedArray, shape: number[], out: number[], depth: number): void {
  if (typeof data === 'number') {
    if (depth !== shape.length) throw new Error('tensor(): ragged nested array');
    out.push(data);
    return;
  }
  if (shape.length <= depth) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new Error(`tensor(): ragged nested array at depth ${depth}`);
  for (const d of data) flatten(d, shape, out, depth + 1);
}

/** Creates a tensor from host data: a typed array or plain array with an explicit shape, or a nested array. */
export function fromArray(data: ArrayLike<number> | NestedArray, shape?: Shape, opts: TensorOptions = {}): Tensor {
  // Floats default to f32 (f64 only when asked: it is the cpu-only gradcheck type).
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
  const device = opts.device ?? defaultDevice();
  let flat: ArrayLike<number>;
  let shp: number[];
  if (typeof data === 'number' || (Array.isArray(data) && shape === undefined)) {
    shp = [];
    const out: number[] = [];
    flatten(data as NestedArray, shp, out, 0);
    flat = out;
  } else {
    flat = data as ArrayLike<number>;
    shp = shape ? [...shape] : [flat.length];
  }
  if (numel(shp) !== flat.length) {
    throw new Error(`fromArray: ${flat.length} values cannot fill shape ${shapeStr(shp)}`);
  }
  const arr = allocArray(dtype, flat.length);
  arr.set(flat as ArrayLike<number>);
  let t: Tensor;
  if (device === 'cpu') {
    t = new Tensor(Storage.cpu(dtype, arr.length, arr), shp);
  } else {
    const rt = getRuntime();
    const s = Storage.gpu(rt, dtype, arr.length);
    if (arr.length) rt.upload(s.gpu!, 0, dtype === 'f16' ? new Uint16Array((arr as Float16Array).buffer) : arr);
    t = new Tensor(s, shp);
  }
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

export const tensor = fromArray;
