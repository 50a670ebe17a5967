// The datasets' class vocabularies (FIANET.md §4.1): used by the phrase masks (class-name substring matches),
// the per-class metric breakdown and the readers' category names. One list, so they can never drift apart.
import type { DatasetName } from './types.ts';

export const CLASS_VOCAB: Record<DatasetName, readonly string[]> = {
  refsegrs: ['road', 'vehicle', 'car', 'van', 'building', 'truck', 'trailer', 'bus', 'road marking', 'bikeway',
    'sidewalk', 'tree', 'low vegetation', 'impervious surface'],
  rrsisd: ['airplane', 'airport', 'golf field', 'expressway service area', 'baseball field', 'stadium',
    'ground track field', 'storage tank', 'basketball court', 'chimney', 'tennis court', 'overpass', 'train station',
    'ship', 'expressway toll station', 'dam', 'harbor', 'bridge', 'vehicle', 'windmill'],
};
