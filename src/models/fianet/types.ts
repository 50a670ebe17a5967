// Shared model-side types.
import type { Tensor } from '../../tensor/tensor.ts';
import type { FianetConfig } from '../../config/fianet.ts';

export type ModelConfig = FianetConfig['model'];
export type Ablation = ModelConfig['ablation'];

/** The three BERT passes (B, L, Ct) and their word masks (B, L) as f32 0/1. */
export interface TextFeatures {
  fC: Tensor;
  mC: Tensor;
  fG: Tensor;
  mG: Tensor;
  fS: Tensor;
  mS: Tensor;
}
