// Reference-counted device memory behind one or more tensor views. A storage is held by every live Tensor
// view of it and by every autograd context that saved one; its buffer returns to the pool at zero.
import { allocArray, byteSize, type DType, type TypedArray } from './dtype.ts';
import type { WebGPURuntime } from '../runtime/webgpu.ts';

export type DeviceName = 'cpu' | 'webgpu';

export const memoryStats = { liveTensors: 0, liveStorages: 0 };

export class Storage {
  private refs = 1;
  /**
   * A window's byte range inside its parent's buffer: kernels bind only [gpuOffset, gpuOffset + 4·length)
   * and tensors on it count offsets from there. Windows let one dispatch touch part of a buffer larger than
   * the adapter's binding limit (kernels/split.ts); they hold their parent alive.
   */
  gpuOffset = 0;
  private parent: Storage | null = null;

  constructor(
    readonly device: DeviceName,
    readonly dtype: DType,
    readonly length: number,
    readonly cpu: TypedArray | null,
    readonly gpu: GPUBuffer | null,
    private readonly rt: WebGPURuntime | null,
  ) {
    memoryStats.liveStorages++;
  }

  /** `length` elements of `parent` from byte `byteOffset` (a multiple of the adapter's offset alignment). */
  static window(parent: Storage, byteOffset: number, length: number): Storage {
    if (!parent.gpu) throw new Error('Storage.window: only webgpu storages have windows');
    const w = new Storage(parent.device, parent.dtype, length, null, parent.gpu, parent.rt);
    w.gpuOffset = parent.gpuOffset + byteOffset;
    w.parent = parent;
    parent.retain();
    return w;
  }

  /** What a kernel binds: the whole buffer, or a window's range of it. */
  get binding(): GPUBuffer | GPUBufferBinding {
    return this.parent ? { buffer: this.gpu!, offset: this.gpuOffset, size: Math.ceil((this.length * byteSize(this.dtype)) / 4) * 4 } : this.gpu!;
  }

  static cpu(dtype: DType, length: number, data?: TypedArray): Storage {
    return new Storage('cpu', dtype, length, data ?? allocArray(dtype, length), null, null);
  }

  static gpu(rt: WebGPURuntime, dtype: DType, length: number): Storage {
    if (dtype === 'f64') throw new Error('webgpu: f64 tensors exist only on the cpu device');
    if (dtype === 'f16' && !rt.hasF16) throw new Error('webgpu: this adapter lacks shader-f16, so f16 tensors are unavailable');
    return new Storage('webgpu', dtype, length, null, rt.pool.acquire(Math.max(length * byteSize(dtype), 4)), rt);
  }

  get alive(): boolean {
    return this.refs > 0;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      memoryStats.liveStorages--;
      if (this.parent) this.parent.release();
      else if (this.gpu) this.rt!.pool.release(this.gpu);
    }
  }
}
