/**
 * Two builds of the tool on the same meta runs, interleaved, as ratios: what a change to the meta
 * backend, the tracer or the verifier buys, measured on a shared machine.
 *
 *   node dist/scripts/bench_meta_builds.js <baseline root> [--rounds 5]
 *
 * The baseline root is a checkout built with `npm run build` (dist/src/cli/main.js under it);
 * this build is the other side. Each round runs every case once on each build, baseline first,
 * so load from other work falls on both alike; the ratios (this build over the baseline) are
 * taken per round and their median printed, with the load average at the start of each round.
 * Exits 1 when a run fails or the two builds print a different verdict.
 */
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { measureOnce, type Measurement } from './measure_meta.js';

/** The suite's longest meta runs (test/moe_presets_meta.test.ts, test/deepseek_presets_meta.test.ts). */
const CASES: readonly { readonly label: string; readonly args: readonly string[] }[] = [
  { label: 'qwen3-30b-a3b training step at 40,960 tokens', args: ['verify', 'qwen3-30b-a3b', '--train'] },
  { label: 'deepseek-v2 training step at 16 tokens', args: ['verify', 'deepseek-v2', '--train', '--seq', '16'] },
  { label: 'deepseek-v3 forward pass at 4,096 tokens', args: ['verify', 'deepseek-v3', '--seq', '4096'] },
];

const THIS_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function parseArgs(argv: readonly string[]): { baseline: string; rounds: number } {
  const baseline = argv[0];
  const at = argv.indexOf('--rounds');
  const rounds = at === -1 ? 5 : Number(argv[at + 1]);
  if (baseline === undefined || baseline.startsWith('--') || !Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write(
      "bench_meta_builds: give the baseline checkout's root, then optionally --rounds <n >= 1> (fix: node dist/scripts/bench_meta_builds.js ../baseline --rounds 5)\n",
    );
    process.exit(2);
  }
  return { baseline, rounds };
}

async function main(): Promise<void> {
  const { baseline, rounds } = parseArgs(process.argv.slice(2));
  const baselineMain = join(baseline, 'dist/src/cli/main.js');
  const runs = CASES.map(() => ({ baseline: [] as Measurement[], current: [] as Measurement[] }));
  for (let round = 1; round <= rounds; round++) {
    const load = os.loadavg().map((value) => value.toFixed(2));
    process.stderr.write(`round ${round} of ${rounds}, load average ${load.join(' ')}\n`);
    for (const [i, metaCase] of CASES.entries()) {
      const args = [...metaCase.args, '--backend', 'meta', '--quiet'];
      runs[i]!.baseline.push(await measureOnce(args, baselineMain));
      runs[i]!.current.push(await measureOnce(args, THIS_MAIN));
    }
  }
  let failed = false;
  const lines = [
    '| case | baseline wall | this wall | wall ratio | baseline CPU | this CPU | CPU ratio | peak RSS ratio |',
  ];
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [i, metaCase] of CASES.entries()) {
    const { baseline: before, current: after } = runs[i]!;
    for (const [j, run] of after.entries()) {
      if (run.exitCode !== 0 || before[j]!.exitCode !== 0 || run.verdict !== before[j]!.verdict) failed = true;
    }
    const ratio = (pick: (m: Measurement) => number) => median(after.map((m, j) => pick(m) / pick(before[j]!)));
    const seconds = (list: readonly Measurement[], pick: (m: Measurement) => number) =>
      `${(median(list.map(pick)) / 1000).toFixed(1)} s`;
    lines.push(
      `| ${metaCase.label} | ${seconds(before, (m) => m.wallMs)} | ${seconds(after, (m) => m.wallMs)} | ` +
        `${ratio((m) => m.wallMs).toFixed(2)} | ${seconds(before, (m) => m.cpuMs)} | ${seconds(after, (m) => m.cpuMs)} | ` +
        `${ratio((m) => m.cpuMs).toFixed(2)} | ${ratio((m) => m.maxRssBytes).toFixed(2)} |`,
    );
  }
  process.stdout.write(
    `${lines.join('\n')}\n\nMedians over ${rounds} interleaved rounds; ratios are this build over the baseline, per round.\n`,
  );
  if (failed) {
    process.stderr.write('bench_meta_builds: a run failed, or the two builds gave different verdicts\n');
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
