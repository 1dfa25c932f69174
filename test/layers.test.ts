import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const REPO = resolve(import.meta.dirname, '..');
const roots: string[] = [];

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** Cruises `root/src` with the project's own .dependency-cruiser.cjs and tsconfig.json. */
async function cruiseSrc(root: string): Promise<ICruiseResult> {
  const options = await extractDepcruiseOptions(join(REPO, '.dependency-cruiser.cjs'));
  const tsConfigFile = join(root, 'tsconfig.json');
  const { output } = await cruise(
    ['src'],
    // preserveSymlinks: a planted project's node_modules is a link to this checkout's, and
    // its modules should be named as in a real checkout (node_modules/...), not by the target.
    { ...options, baseDir: root, tsConfig: { fileName: tsConfigFile }, preserveSymlinks: true },
    {},
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  if (typeof output === 'string') throw new Error(`dependency-cruiser returned text: ${output}`);
  return output;
}

/** A throwaway project: the real tsconfig, package.json and node_modules, and the given src files. */
function plantedProject(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'flopledger-layers-'));
  roots.push(root);
  copyFileSync(join(REPO, 'tsconfig.json'), join(root, 'tsconfig.json'));
  copyFileSync(join(REPO, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** Each violation as "rule from -> to", sorted. */
function violations(result: ICruiseResult): string[] {
  return result.summary.violations.map((v) => `${v.rule.name} ${v.from} -> ${v.to}`).sort();
}

describe('the layer rules', () => {
  it('pass on the real src', async () => {
    const result = await cruiseSrc(REPO);
    expect(violations(result)).toEqual([]);
    expect(result.summary.totalCruised).toBeGreaterThan(100);
  });

  it('report a core module importing from views', async () => {
    const root = plantedProject({
      'src/core/x.ts': "import { y } from '../views/y.js';\nexport const x = y + 1;\n",
      'src/views/y.ts': 'export const y = 1;\n',
    });
    expect(violations(await cruiseSrc(root))).toEqual(['layer-core src/core/x.ts -> src/views/y.ts']);
  });

  it('report a view importing from the web page, the top layer', async () => {
    const root = plantedProject({
      'src/views/v.ts': "import { w } from '../web/w.js';\nexport const v = w + 1;\n",
      'src/web/w.ts': 'export const w = 1;\n',
    });
    expect(violations(await cruiseSrc(root))).toEqual(['layer-views src/views/v.ts -> src/web/w.ts']);
  });

  it('let the web page import from every layer below it, but not from the cli', async () => {
    const root = plantedProject({
      'src/web/page.ts':
        "import { v } from '../views/v.js';\nimport { c } from '../cli/c.js';\nexport const page = v + c;\n",
      'src/views/v.ts': 'export const v = 1;\n',
      'src/cli/c.ts': 'export const c = 1;\n',
    });
    expect(violations(await cruiseSrc(root))).toEqual(['layer-web src/web/page.ts -> src/cli/c.ts']);
  });

  it('report tfjs imported by an analytic formula', async () => {
    const root = plantedProject({
      'src/analytic/f.ts': "import * as tf from '@tensorflow/tfjs';\nexport const version = tf.version_core;\n",
    });
    expect(violations(await cruiseSrc(root))).toEqual([
      'no-tfjs-in-pure-layers src/analytic/f.ts -> node_modules/@tensorflow/tfjs/dist/tf.node.js',
    ]);
  });

  it('report a cycle between two modules', async () => {
    const root = plantedProject({
      'src/config/a.ts': "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n",
      'src/config/b.ts': "import { a } from './a.js';\nexport const b = (): number => a() - 1;\n",
    });
    expect(violations(await cruiseSrc(root))).toEqual(['no-folder-cycles src/config/a.ts -> src/config/b.ts']);
  });

  it('report a cycle between two layers both as a wrong-way import and as a cycle', async () => {
    const root = plantedProject({
      'src/config/c.ts': "import { k } from '../core/k.js';\nexport const c = (): number => k() + 1;\n",
      'src/core/k.ts': "import { c } from '../config/c.js';\nexport const k = (): number => c() - 1;\n",
    });
    expect(violations(await cruiseSrc(root))).toEqual([
      'layer-core src/core/k.ts -> src/config/c.ts',
      'no-folder-cycles src/config/c.ts -> src/core/k.ts',
    ]);
  });

  it('report a forward formula importing a training formula', async () => {
    const root = plantedProject({
      'src/analytic/forward.ts': "import { backward } from './training/backward.js';\nexport const f = backward + 1;\n",
      'src/analytic/training/backward.ts': 'export const backward = 2;\n',
    });
    expect(violations(await cruiseSrc(root))).toEqual([
      'analytic-forward-below-training src/analytic/forward.ts -> src/analytic/training/backward.ts',
    ]);
  });
});
