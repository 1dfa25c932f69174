/**
 * The package as a user gets it: packed with `npm pack`, installed into a fresh project, imported
 * by name. Catches what the in-tree tests cannot see: a file missing from "files", an "exports"
 * map that hides the entry point or its types, a runtime import of a devDependency, a preset
 * looked up relative to the repository, tfjs loaded by a bare import.
 *
 * The package is built from the current sources into a staging copy (package.json, README,
 * models) and packed there, so a stale file in the working tree's dist/ cannot hide a missing
 * one, and the build does not race the CLI test's build of dist/. The tarball is installed the
 * way npm lays it out (unpacked at node_modules/flopledger), with each of its declared
 * dependencies linked from this repository's node_modules. A real `npm install --offline` of the
 * tarball unpacks 155 packages (about 350 MB; 45 s on this machine under load), and all it adds
 * to this check is resolving, from the registry, the version ranges `npm ci` already installs.
 * Only the declared dependencies are linked, so an import of anything else fails here as it
 * would for a user.
 */
import { execFile, execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The README's "As a library" example and the output it states, so neither can drift from the package. */
function readmeExample(): { code: string; output: string } {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split('\n## As a library\n')[1]?.split('\n## ')[0];
  if (section === undefined) throw new Error('README.md has no "## As a library" section');
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  const output = /```text\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined || output === undefined) {
    throw new Error('README.md "As a library" needs a ```js example and a ```text block with its output');
  }
  return { code, output };
}

interface ChildResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string): ChildResult {
  const result: SpawnSyncReturns<string> = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.error !== undefined) throw result.error;
  return result;
}

/** Starts a child and resolves when it exits, so the checks after the build can run side by side. */
function start(command: string, args: readonly string[], cwd: string): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      // No exit code: the child did not start or was killed; the error says which.
      resolve({ status, stdout, stderr: error !== null && status === null ? `${error.message}\n${stderr}` : stderr });
    });
  });
}

/** Output of a child that must succeed; its stderr in the failure message otherwise. */
function succeed(result: ChildResult): string {
  expect(result.status, `exit ${result.status}\n${result.stderr}\n${result.stdout}`).toBe(0);
  return result.stdout;
}

interface PackedFile {
  readonly path: string;
}

// Closed forms written out here, independent of src/analytic.
/** The seed's block (RMSNorm gains, SwiGLU, untied lm_head): 2Vd + L(4d^2 + 3dF + 2d) + d. */
function seedParameters(V: bigint, L: bigint, d: bigint, F: bigint): bigint {
  return 2n * V * d + L * (4n * d * d + 3n * d * F + 2n * d) + d;
}
/**
 * GPT-2 as published (LayerNorm with bias, GELU MLP with biases, learned positions, tied):
 * Vd + Td + L(12d^2 + 13d) + 2d; Hugging Face's gpt2 is 124,439,808.
 */
function gpt2Parameters(V: bigint, T: bigint, L: bigint, d: bigint): bigint {
  return V * d + T * d + L * (12n * d * d + 13n * d) + 2n * d;
}
/** Forward matmul FLOPs of one sequence of T tokens: projections, the T x T attention core, lm_head. */
function seedForwardFlops(V: bigint, T: bigint, L: bigint, d: bigint, F: bigint): bigint {
  return L * (2n * T * d * (4n * d + 3n * F) + 4n * T * T * d) + 2n * T * d * V;
}

/** Imports the package by name and reports what it saw; tfjs is CommonJS under Node, so its files land in the require cache. */
const CHECK_SCRIPT = `import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import * as flopledger from 'flopledger';

const tfjsLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes('@tensorflow'));
const onImport = tfjsLoaded();
const xl = flopledger.loadModelConfig('gpt2-xl');
const hf = flopledger.configFromJson(JSON.parse(readFileSync(process.argv[2], 'utf8')), { name: 'gpt2' });
const tiny = flopledger.loadModelConfig('tiny');
const verified = await flopledger.verifyModel(tiny, { backend: 'wasm', seq: 16 });
const timed = await flopledger.timeModel(tiny, { backend: 'wasm', seq: 16, runs: 3, warmup: 1, calibrate: false });
console.log(JSON.stringify({
  exports: Object.keys(flopledger).sort(),
  tfjsOnImport: onImport,
  tfjsAfterRun: tfjsLoaded(),
  xlParameters: String(flopledger.summarizeParameters(xl).total),
  xlForwardFlops: String(flopledger.forwardFlopBreakdown(xl, flopledger.resolveRunShape(xl)).total),
  hfParameters: String(flopledger.summarizeParameters(hf).total),
  tinyVerified: verified.ok,
  tinyBackend: verified.backend.name,
  timedRuns: timed.timing.samplesMs.length,
}));
`;

/** A TypeScript user of the package: the directives fail the check if the imports resolve to any. */
const TYPES_SCRIPT = `import { loadModelConfig, summarizeParameters, verifyModel, type ModelConfig, type VerifyReport } from 'flopledger';

const config: ModelConfig = loadModelConfig('gpt2-xl', { context_length: 2048 });
export const total: bigint = summarizeParameters(config).total;
// @ts-expect-error counts are bigints: an any-typed import would leave this directive unused, and fail
export const wrong: number = summarizeParameters(config).total;
export const report: Promise<VerifyReport> = verifyModel(config, { backend: 'meta', seq: 16 });
// @ts-expect-error 'gpu' is not a backend choice
void verifyModel(config, { backend: 'gpu' });
`;

const TYPES_CONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  },
  files: ['uses.ts'],
};

describe('the packed package', () => {
  let work: string | undefined;
  let packed: readonly PackedFile[];
  let children: {
    check: Promise<ChildResult>;
    readme: Promise<ChildResult>;
    cli: Promise<ChildResult>;
    types: Promise<ChildResult>;
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'flopledger-pack-'));
    const stage = join(work, 'stage');
    mkdirSync(stage);
    for (const file of ['package.json', 'README.md', 'LICENSE']) {
      if (existsSync(join(root, file))) cpSync(join(root, file), join(stage, file));
    }
    cpSync(join(root, 'models'), join(stage, 'models'), { recursive: true });
    // The build's own settings, into the stage; types are checked by `npm run typecheck`, not here.
    writeFileSync(
      join(stage, 'tsconfig.json'),
      JSON.stringify({
        extends: join(root, 'tsconfig.build.json'),
        include: [join(root, 'src')],
        compilerOptions: {
          rootDir: root,
          outDir: join(stage, 'dist'),
          typeRoots: [join(root, 'node_modules/@types')],
          noCheck: true,
        },
      }),
    );
    succeed(run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', stage], stage));

    const packOutput = succeed(
      run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work, '--loglevel', 'error'], stage),
    );
    const [tarball] = JSON.parse(packOutput) as { filename: string; files: PackedFile[] }[];
    if (tarball === undefined) throw new Error(`npm pack printed no tarball: ${packOutput}`);
    packed = tarball.files;

    const project = join(work, 'project');
    const installed = join(project, 'node_modules', 'flopledger');
    mkdirSync(installed, { recursive: true });
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'uses-flopledger', private: true, type: 'module' }),
    );
    execFileSync('tar', ['-xzf', join(work, tarball.filename), '-C', installed, '--strip-components=1']);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const link = (name: string): boolean => {
      const source = join(root, 'node_modules', name);
      if (!existsSync(source)) return false;
      const target = join(project, 'node_modules', name);
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(source, target, 'dir');
      return true;
    };
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      if (!link(name)) throw new Error(`dependency ${name} is not installed in ${root}; run npm ci`);
    }
    // npm goes on without an optional dependency that failed to install; so does this.
    for (const name of Object.keys(manifest.optionalDependencies ?? {})) link(name);

    writeFileSync(join(project, 'check.mjs'), CHECK_SCRIPT);
    writeFileSync(join(project, 'readme_example.mjs'), readmeExample().code);
    writeFileSync(join(project, 'uses.ts'), TYPES_SCRIPT);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TYPES_CONFIG));
    const bin = join(installed, manifest.bin['flopledger'] ?? 'no bin named flopledger');
    children = {
      check: start(process.execPath, ['check.mjs', join(root, 'test/fixtures/hf/gpt2.json')], project),
      readme: start(process.execPath, ['readme_example.mjs'], project),
      cli: start(process.execPath, [bin, 'params', 'gpt2-xl', '--format', 'json'], project),
      types: start(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], project),
    };
  });

  afterAll(async () => {
    // Every child has exited before its directory goes.
    if (children !== undefined) await Promise.all(Object.values(children));
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('ships the built code, its types and the presets, and no sources, tests, scripts or source maps', () => {
    const paths = packed.map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/cli/main.js',
        'models/gpt2-xl.json',
      ]),
    );
    expect(paths.filter((path) => !/^(dist\/src\/|models\/|package\.json$|README\.md$|LICENSE)/.test(path))).toEqual(
      [],
    );
    expect(paths.filter((path) => path.endsWith('.map') || (path.endsWith('.ts') && !path.endsWith('.d.ts')))).toEqual(
      [],
    );
  });

  it('imports by name without loading tfjs, counts exactly, and runs a model on wasm', async () => {
    const result = JSON.parse(succeed(await children.check)) as Record<string, unknown>;
    expect(result['tfjsOnImport']).toBe(false);
    // The same probe sees tfjs once a model has run, so the false above is a real absence.
    expect(result['tfjsAfterRun']).toBe(true);
    // GPT-2 XL in the seed's block: the seed states 2,127,057,600.
    expect(result['xlParameters']).toBe(String(seedParameters(50257n, 48n, 1600n, 6400n)));
    expect(result['xlParameters']).toBe('2127057600');
    expect(result['xlForwardFlops']).toBe(String(seedForwardFlops(50257n, 1024n, 48n, 1600n, 6400n)));
    expect(result['hfParameters']).toBe(String(gpt2Parameters(50257n, 1024n, 12n, 768n)));
    expect(result['hfParameters']).toBe('124439808');
    expect(result['tinyVerified']).toBe(true);
    expect(result['tinyBackend']).toBe('wasm');
    expect(result['timedRuns']).toBe(3);
    expect(result['exports']).toEqual(
      expect.arrayContaining(['loadModelConfig', 'summarizeParameters', 'verifyModel', 'timeModel', 'InputError']),
    );
  });

  it("runs the README's example and prints what the README says it prints", async () => {
    expect(succeed(await children.readme)).toBe(readmeExample().output);
  });

  it('runs the CLI through its bin, presets found inside the installed package', async () => {
    expect((JSON.parse(succeed(await children.cli)) as { total: string }).total).toBe('2127057600');
  });

  it('type-checks a TypeScript file that imports it by name', async () => {
    succeed(await children.types);
  });
});
