// `fianet config print CONFIG [--set k=v ...]`: the resolved config, as a run folder would store it.
// `fianet config docs`: every key with its type, default and meaning.
import { CONFIG_SCHEMA, dumpConfig, loadFianetConfig, schemaDocs } from '../config/index.ts';

export function printConfig(file: string, overrides: string[]): void {
  process.stdout.write(dumpConfig(loadFianetConfig(file, overrides)));
}

export function printConfigDocs(): void {
  console.log(schemaDocs(CONFIG_SCHEMA).join('\n'));
}
