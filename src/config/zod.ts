/**
 * zod, loaded the first time a schema is needed. Its hundred-odd modules take about as long to
 * load as Node takes to start, and counting a bundled preset needs no schema (presets.ts), so a
 * static import would put that cost on every command. createRequire loads zod's CommonJS build
 * synchronously, which keeps every parser synchronous.
 */
import { createRequire } from 'node:module';
import type * as z from 'zod';

type Zod = typeof z;

let loaded: Zod | undefined;

export function zod(): Zod {
  loaded ??= createRequire(import.meta.url)('zod') as Zod;
  return loaded;
}
