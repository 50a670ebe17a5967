// Public surface of the engine: import from here (it also wires autograd's factories).
export * from './tensor/tensor.ts';
export * from './tensor/dtype.ts';
export * from './tensor/shape.ts';
export { scope, keep } from './tensor/scope.ts';
export { memoryStats } from './tensor/storage.ts';
export type { DeviceName } from './tensor/storage.ts';
export { noGrad, isGradEnabled, backward, apply, Ctx, type FunctionDef } from './tensor/autograd.ts';
export * from './runtime/device.ts';
export * from './kernels/elementwise/elementwise.op.ts';
export * from './kernels/reduce/reduce.op.ts';
export * from './kernels/movement/movement.op.ts';
export * from './kernels/matmul/matmul.op.ts';
export * from './kernels/softmax/softmax.op.ts';
export * from './kernels/gather/gather.op.ts';
