// Element types. Every GPU dtype but f16 is 4 bytes; f16 exists only where the adapter has shader-f16.
import { Float16Array } from '@petamoriken/float16';

// f64 exists on the cpu device only: it is what gradcheck runs the CPU references in.
export type DType = 'f32' | 'i32' | 'u32' | 'f16' | 'f64';

export type TypedArray = Float32Array | Int32Array | Uint32Array | Float16Array | Float64Array;

export function byteSize(dtype: DType): number {
  return dtype === 'f16' ? 2 : dtype === 'f64' ? 8 : 4;
}

export function wgslType(dtype: DType): string {
  return dtype;
}

export function allocArray(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'f32': return new Float32Array(n);
    case 'i32': return new Int32Array(n);
    case 'u32': return new Uint32Array(n);
    case 'f16': return new Float16Array(n);
    case 'f64': return new Float64Array(n);
  }
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f16' || dtype === 'f64';
}

export { Float16Array };
