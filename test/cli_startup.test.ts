/**
 * Start-up: the commands that only count never load TensorFlow.js or Vega (importing tfjs alone
 * costs about 0.3 s). The built CLI runs in a child process under a module-loader hook that
 * writes down every package module Node loads, static imports and dynamic ones alike; a static
 * import of a tfjs-reaching module anywhere in the graph from src/cli/main.ts shows up here as
 * a loaded @tensorflow/tfjs, whichever command runs. A command that runs a model is the control:
 * the same hook must see tfjs there, or the check would pass by seeing nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtCli } from './helpers/built_cli.js';

/** Runs in Node's loader thread: append each loaded module under node_modules to the file the test names. */
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, nextLoad) {
  if (url.includes('/node_modules/')) appendFileSync(process.env.FLOPLEDGER_TEST_LOAD_LOG, url + '\\n');
  return nextLoad(url, context);
}`;
/**
 * Runs in the main thread before the CLI: registers the hook, and at exit adds the modules
 * loaded through require (zod: src/config/zod.ts), which the hook does not see; the
 * require cache is one for the process, so any base path reads it.
 */
const REGISTER = `import { createRequire, register } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});
process.on('exit', () => {
  const paths = Object.keys(createRequire('/').cache).filter((path) => path.includes('/node_modules/'));
  if (paths.length > 0) appendFileSync(process.env.FLOPLEDGER_TEST_LOAD_LOG, paths.join('\\n') + '\\n');
});`;
const IMPORT_HOOKS = `data:text/javascript,${encodeURIComponent(REGISTER)}`;

let main: string;
let dir: string;
beforeAll(() => {
  main = builtCli();
  dir = mkdtempSync(join(tmpdir(), 'flopledger-startup-'));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The packages a run of the built CLI loaded ("@tensorflow/tfjs", "commander", ...), and its exit code. */
function packagesLoadedBy(args: readonly string[]): { status: number | null; stderr: string; packages: Set<string> } {
  const log = join(dir, `${args.join('_').replace(/[^\w.-]/g, '_')}.log`);
  const child = spawnSync(process.execPath, ['--import', IMPORT_HOOKS, main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FLOPLEDGER_TEST_LOAD_LOG: log, FLOPLEDGER_WASM_THREADS: '1' },
  });
  let urls: string[] = [];
  try {
    urls = readFileSync(log, 'utf8').trim().split('\n');
  } catch {
    // No package loaded at all: an empty log is never written.
  }
  const packages = new Set(
    urls.flatMap((url) => {
      const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
      return match === null ? [] : [match[1]!];
    }),
  );
  return { status: child.status, stderr: child.stderr, packages };
}

const HEAVY = /^(@tensorflow\/|vega)/;

describe('start-up of the commands that do not run a model', () => {
  it.each(
    [
      ['params', 'gpt2-xl'],
      ['memory', 'gpt2-xl'],
      ['flops', 'gpt2-xl', '--depth', '3'],
      ['models'],
      ['compare', 'gpt2-small', 'gpt2-xl'],
      ['sweep', 'gpt2-xl', '--seq', '1024,2048'],
      ['answers'],
      ['train', 'gpt2-xl'],
      ['infer', 'llama-3-8b', '--prompt', '4096', '--generate', '16'],
      ['roofline', 'gpt2-xl', '--device', 'h100-sxm'],
      ['devices'],
      ['--help'],
      ['--version'],
      ['flops', '--help'],
      ['params', 'no-such-model'],
    ].map((args) => [args.join(' '), args] as const),
  )('%s loads neither TensorFlow.js nor Vega', (_line, args) => {
    const { status, stderr, packages } = packagesLoadedBy(args);
    expect({ status, stderr: stderr.split('\n')[0] }).toMatchObject({ status: args.includes('no-such-model') ? 2 : 0 });
    // The hook did run: commander parses every command line.
    expect(packages).toContain('commander');
    expect([...packages].filter((name) => HEAVY.test(name))).toEqual([]);
  });

  // zod's hundred-odd modules take about as long to load as Node takes to start (src/config/zod.ts).
  it.each(
    [['params', 'gpt2-xl'], ['flops', 'llama-3-8b'], ['models'], ['--version']].map(
      (args) => [args.join(' '), args] as const,
    ),
  )('%s does not load zod', (_line, args) => {
    const { status, packages } = packagesLoadedBy(args);
    expect(status).toBe(0);
    expect(packages).toContain('commander');
    expect(packages).not.toContain('zod');
  });

  it('loads zod, through require, once a config needs its schema', () => {
    // The control of the check above: an override is validated by the schema, so zod must show.
    const { status, packages } = packagesLoadedBy(['params', 'gpt2-xl', '--layers', '2']);
    expect(status).toBe(0);
    expect(packages).toContain('zod');
  });

  it('sees TensorFlow.js core, not its umbrella, when a command runs a forward pass', () => {
    const { status, stderr, packages } = packagesLoadedBy(['trace', 'tiny', '--backend', 'meta', '--seq', '8']);
    expect({ status, stderr }).toMatchObject({ status: 0 });
    expect(packages).toContain('@tensorflow/tfjs-core');
    // The umbrella brings layers, converter, data and webgl, and the gradients a forward pass never takes.
    expect(
      [...packages].filter((name) => /^@tensorflow\/tfjs(-layers|-converter|-data|-backend-webgl)?$/.test(name)),
    ).toEqual([]);
  });

  it('loads the kernel gradients with the umbrella when a command runs a training step', () => {
    const { status, stderr, packages } = packagesLoadedBy([
      'verify',
      'tiny',
      '--train',
      '--backend',
      'meta',
      '--seq',
      '8',
    ]);
    expect({ status, stderr }).toMatchObject({ status: 0 });
    expect(packages).toContain('@tensorflow/tfjs');
  });
});
