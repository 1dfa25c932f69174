/**
 * Start-up cost of a counting command: the wall time of `flopledger params gpt2-xl` against a
 * bare `node -e 0`, each in a fresh process, interleaved so that load from other work falls on
 * both alike (the order swaps every round), median of the rounds. The CLI loads TensorFlow.js
 * only in the commands that run a model, so a count should cost little more than Node itself.
 *
 * `npm run bench` calls benchStartup; `node dist/scripts/bench_startup.js [rounds]` runs it alone.
 * Writes docs/bench_startup.md and docs/bench_startup.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../src/core/package_root.js';
import { renderReport } from '../src/render/render.js';
import { heading, paragraph, tableBlock } from '../src/render/table.js';
import { summarize, type SampleSummary } from '../src/timing/statistics.js';

/** The bar: a count takes at most this many times a bare Node start. */
export const STARTUP_RATIO_LIMIT = 3;

const COMMAND = ['params', 'gpt2-xl'] as const;

export interface StartupResult {
  readonly rounds: number;
  readonly command: string;
  readonly node_ms: SampleSummary;
  readonly command_ms: SampleSummary;
  /** Median command time over median `node -e 0` time. */
  readonly ratio: number;
  /** The median of each round's own ratio: a round's two runs are adjacent in time, so load changes between rounds cancel. */
  readonly paired_ratio: number;
  readonly ratio_ok: boolean;
  readonly load_average_before: number[];
  readonly load_average_after: number[];
  readonly samples: { readonly node_ms: number[]; readonly command_ms: number[] };
}

/** Wall time of one child process, spawn to exit, in ms; throws when it fails, since a failed run times nothing. */
function timeProcess(args: readonly string[]): number {
  const start = performance.now();
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: packageRoot() });
  const elapsed = performance.now() - start;
  if (child.status !== 0) {
    throw new Error(`node ${args.join(' ')} exited ${child.status ?? child.signal}: ${child.stderr.slice(0, 400)}`);
  }
  return elapsed;
}

export function measureStartup(rounds = 10): StartupResult {
  const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const bare = ['-e', '0'];
  const command = [main, ...COMMAND];
  const loadBefore = os.loadavg();
  // One unmeasured run of each first, so neither pays for a cold file cache.
  timeProcess(bare);
  timeProcess(command);
  const nodeMs: number[] = [];
  const commandMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      nodeMs.push(timeProcess(bare));
      commandMs.push(timeProcess(command));
    } else {
      commandMs.push(timeProcess(command));
      nodeMs.push(timeProcess(bare));
    }
  }
  const node = summarize(nodeMs);
  const timed = summarize(commandMs);
  const ratio = timed.median / node.median;
  return {
    rounds,
    command: `flopledger ${COMMAND.join(' ')}`,
    node_ms: node,
    command_ms: timed,
    ratio,
    paired_ratio: summarize(commandMs.map((ms, round) => ms / nodeMs[round]!)).median,
    ratio_ok: ratio <= STARTUP_RATIO_LIMIT,
    load_average_before: loadBefore,
    load_average_after: os.loadavg(),
    samples: { node_ms: nodeMs, command_ms: commandMs },
  };
}

function startupReport(result: StartupResult) {
  const ms = (value: number) => value.toFixed(1);
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' / ');
  return {
    blocks: [
      heading('Start-up of a counting command', 2),
      tableBlock({
        columns: [
          { header: 'process' },
          { header: 'min ms', align: 'right' },
          { header: 'median ms', align: 'right' },
          { header: 'max ms', align: 'right' },
        ],
        rows: [
          ['node -e 0', ms(result.node_ms.min), ms(result.node_ms.median), ms(result.node_ms.max)],
          [result.command, ms(result.command_ms.min), ms(result.command_ms.median), ms(result.command_ms.max)],
        ],
        notes: [
          `${result.rounds} rounds of one run each, the order swapping every round; wall time from spawn to exit.`,
          `Median over median: ${result.ratio.toFixed(2)}x (the median of the per-round ratios: ` +
            `${result.paired_ratio.toFixed(2)}x). At most ${STARTUP_RATIO_LIMIT}x: ${result.ratio_ok ? 'yes' : 'NO'}.`,
        ],
      }),
      paragraph(
        `Load average (1/5/15 min) ${load(result.load_average_before)} before and ${load(result.load_average_after)} ` +
          'after: on a shared machine both processes slow down together, so the ratio carries less noise than the times.',
      ),
    ],
    json: null,
  };
}

/** Measure, write bench_startup.{md,json} into `docs`, and say the figure on stderr. */
export function benchStartup(docs: string = join(packageRoot(), 'docs'), rounds = 10): StartupResult {
  process.stderr.write('bench: start-up of a counting command (child processes)\n');
  const result = measureStartup(rounds);
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'bench_startup.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(docs, 'bench_startup.md'), renderReport(startupReport(result), 'markdown'));
  process.stderr.write(
    `bench: ${result.command} median ${result.command_ms.median.toFixed(1)} ms, node -e 0 ` +
      `${result.node_ms.median.toFixed(1)} ms: ${result.ratio.toFixed(2)}x\n`,
  );
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchStartup(undefined, process.argv[2] === undefined ? undefined : Number(process.argv[2]));
}
