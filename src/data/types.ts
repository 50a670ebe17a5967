// Plain data shared by the dataset readers, the synthetic generator, the loader and the metrics.
// Nothing here depends on the tensor engine: the loader hands the trainer typed arrays.

export type DatasetName = 'rrsisd' | 'refsegrs';
export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

/** An 8-bit RGB image, row-major HWC. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array; // (H, W, 3)
}

/** A binary mask, row-major, values 0 or 1. */
export interface BinaryMask {
  width: number;
  height: number;
  data: Uint8Array; // (H, W)
}

/** One (image, sentence, target) triplet as a reader lists it, before any pixel is decoded. */
export interface SampleRecord {
  dataset: DatasetName;
  split: Split;
  /** RefSegRS: the line's id (image and mask share it); RRSIS-D: ref_id. */
  refId: number;
  /** RefSegRS: same as refId; RRSIS-D: image_id. */
  imageId: number;
  /** RRSIS-D ann_id; RefSegRS: same as refId. */
  annId: number;
  /** RRSIS-D sent_id; RefSegRS: the 0-based line number in its split file. */
  sentId: number;
  sentence: string;
  /** Category name in the dataset's vocabulary (RefSegRS: the first class word the sentence names, or ''). */
  category: string;
  imagePath: string;
  /** RefSegRS: the mask .tif path; RRSIS-D: undefined (the mask comes from the annotation). */
  maskPath?: string;
}

/** A decoded sample: the record plus pixels at the original resolution. */
export interface Sample extends SampleRecord {
  image: RgbImage;
  mask: BinaryMask;
}

/** A collated batch, ready for the model: plain typed arrays, row-major. */
export interface Batch {
  size: number;
  /** (B, 3, S, S) ImageNet-normalized float32. */
  images: Float32Array;
  /** (B, S, S) labels 0/1. */
  masks: Uint8Array;
  /** (B, L) WordPiece ids, 0-padded. */
  tokenIds: Int32Array;
  /** (B, L) 1 on real tokens (m_C). */
  contextMask: Int32Array;
  /** (B, L) ground-object word mask (m_G). */
  objectMask: Int32Array;
  /** (B, L) spatial-position word mask (m_S). */
  spatialMask: Int32Array;
  records: SampleRecord[];
  imageSize: number;
  textLength: number;
}
