/**
 * What the page is given for Node's built-in modules. Library modules the page bundles import
 * some (the preset folder reader, the threaded wasm starter, the free-memory probe) for work the
 * page never asks of them: it bundles its presets and passes its own memory budget. Should one
 * be called anyway, it says so by name instead of failing somewhere later.
 */
import * as zod from 'zod';
import levenshtein from 'fast-levenshtein';

function unavailable(name: string): () => never {
  return () => {
    throw new Error(`${name} is not available in the browser`);
  };
}

export const closeSync = unavailable('fs.closeSync');
export const existsSync = unavailable('fs.existsSync');
export const fstatSync = unavailable('fs.fstatSync');
export const lstatSync = unavailable('fs.lstatSync');
export const mkdirSync = unavailable('fs.mkdirSync');
export const mkdtempSync = unavailable('fs.mkdtempSync');
export const openSync = unavailable('fs.openSync');
export const readdirSync = unavailable('fs.readdirSync');
export const readFileSync = unavailable('fs.readFileSync');
export const readSync = unavailable('fs.readSync');
export const renameSync = unavailable('fs.renameSync');
export const rmSync = unavailable('fs.rmSync');
export const statSync = unavailable('fs.statSync');
export const writeFileSync = unavailable('fs.writeFileSync');
export const writeFile = unavailable('fs.writeFile');
export const constants = {};
/**
 * The library loads zod and fast-levenshtein with createRequire, lazily, to keep the CLI's start
 * fast (config/zod.ts, config/did_you_mean.ts); the page bundles both and hands them over here.
 */
const BUNDLED_FOR_REQUIRE: Readonly<Record<string, unknown>> = { zod, 'fast-levenshtein': levenshtein };
export function createRequire(): (name: string) => unknown {
  return (name) => {
    if (!(name in BUNDLED_FOR_REQUIRE)) throw new Error(`require('${name}') is not available in the browser`);
    return BUNDLED_FOR_REQUIRE[name];
  };
}
export const cpus = unavailable('os.cpus');
export const freemem = unavailable('os.freemem');
export const totalmem = unavailable('os.totalmem');
export const basename = unavailable('path.basename');
export const dirname = unavailable('path.dirname');
export const join = unavailable('path.join');
export const resolve = unavailable('path.resolve');
export const fileURLToPath = unavailable('url.fileURLToPath');
export const randomBytes = unavailable('crypto.randomBytes');
export const Worker = unavailable('worker_threads.Worker');

export default { cpus, freemem, totalmem };
