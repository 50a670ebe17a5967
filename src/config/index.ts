// Loading a FIANet experiment config: YAML + _base_ + --set overrides, schema validation, cross-field checks.
import path from 'node:path';
import { loadConfig } from './load.ts';
import { checkConfig, CONFIG_SCHEMA, type FianetConfig } from './fianet.ts';

export function loadFianetConfig(file: string, overrides: readonly string[] = []): FianetConfig {
  const cfg = loadConfig<FianetConfig>(file, CONFIG_SCHEMA, overrides);
  checkConfig(cfg, path.resolve(file));
  cfg.name ??= configName(file);
  return cfg;
}

/** The run name: the path below a `configs/` folder without extension (rrsisd/fianet_swinb), else the base name. */
export function configName(file: string): string {
  const abs = path.resolve(file);
  const parts = abs.split(path.sep);
  const at = parts.lastIndexOf('configs');
  const rel = at >= 0 ? parts.slice(at + 1).join('/') : path.basename(abs);
  return rel.replace(/\.ya?ml$/, '');
}

export { dumpConfig } from './load.ts';
export { ConfigError, schemaDocs } from './schema.ts';
export { CONFIG_SCHEMA, type FianetConfig } from './fianet.ts';
