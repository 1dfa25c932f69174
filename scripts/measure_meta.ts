/**
 * What the shape-only meta backend costs as a model grows: wall time, CPU time and peak resident
 * memory of `flopledger verify ... --backend meta`, each run in a fresh Node process.
 *
 *   node dist/scripts/measure_meta.js [--runs 3]    the tables as Markdown on stdout
 *   npm run bench                                   the same section in docs/bench.md and bench.json
 *
 * Four groups of runs:
 *   - the targets: tiny at d_model 400,000,000 (under 2 s and 300 MB), GPT-2 XL's shape with 384
 *     layers and --train (under 8 s), a Llama-3-70B-shaped model at 1,048,576 tokens (under 300 MB);
 *   - d_model from 64 to 400,000,000 and tokens from 4,096 to 1,048,576: time and memory stay flat,
 *     since meta holds no values;
 *   - --train at 48, 96, 192 and 384 layers: the time each added layer costs stays the same
 *     (linear growth), where it used to grow with the layer count (quadratic).
 *
 * Each run starts `node` on a small runner that loads the built CLI with the command's argv and,
 * as the process exits, writes process.resourceUsage() (maxRSS, the kernel's high-water mark of
 * resident memory over the whole process, and the CPU time) to an extra pipe. Wall time is taken
 * around the child by this parent: what a user waits, Node's start-up and module loading included.
 * Runs are interleaved (one of each case per round), so load from other work on a shared machine
 * falls on every case alike; CPU time is shown beside wall time, being less shaken by that load.
 * Exits 1 when a run fails to verify.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { renderReport } from '../src/render/render.js';
import { heading, paragraph, tableBlock, type Block } from '../src/render/table.js';

type Group = 'targets' | 'd_model' | 'tokens' | 'layers';

interface MetaCase {
  readonly group: Group;
  readonly label: string;
  readonly args: readonly string[];
  /** The swept quantity (d_model, tokens or layers) in its group's tables. */
  readonly x?: number;
  /** What the run must stay under (issue 12's targets). */
  readonly budget?: { readonly wallMs?: number; readonly rssBytes?: number };
}

export interface Measurement {
  readonly wallMs: number;
  /** User plus system CPU time of the child. */
  readonly cpuMs: number;
  readonly maxRssBytes: number;
  readonly exitCode: number | null;
  /** The last line the command printed: its verdict, or its error when it failed. */
  readonly verdict: string;
}

export interface MetaCaseResult {
  readonly group: Group;
  readonly label: string;
  readonly command: string;
  readonly x: number | null;
  readonly runs: number;
  readonly median_wall_ms: number;
  readonly max_wall_ms: number;
  readonly median_cpu_ms: number;
  readonly max_rss_bytes: number;
  readonly budget_wall_ms: number | null;
  readonly budget_rss_bytes: number | null;
  /** Every run verified and the medians (wall) and maxima (RSS) are within the budget. */
  readonly within_budget: boolean | null;
  readonly verified: boolean;
  readonly verdict: string;
}

/** The cost of one more layer of --train between two consecutive layer counts. */
export interface LayerSlope {
  readonly from_layers: number;
  readonly to_layers: number;
  readonly wall_ms_per_layer: number;
  readonly cpu_ms_per_layer: number;
}

export interface MetaScaling {
  readonly runs: number;
  readonly load_average_before: number[];
  readonly load_average_after: number[];
  readonly cases: MetaCaseResult[];
  readonly layer_slopes: LayerSlope[];
}

const MB = 1_000_000;

/** Llama-3-70B's shape (Meta's config.json: 80 layers, hidden 8192, 64 heads, 8 KV heads, FFN 28672, vocab 128256). */
const LLAMA_70B_SHAPE = [
  'llama-3-8b',
  ...[
    '--layers',
    '80',
    '--d-model',
    '8192',
    '--heads',
    '64',
    '--kv-heads',
    '8',
    '--d-ff',
    '28672',
    '--vocab',
    '128256',
  ],
];

const tinyAt = (dModel: number): readonly string[] => [
  'verify',
  'tiny',
  '--d-model',
  String(dModel),
  '--backend',
  'meta',
];
const llama70bAt = (tokens: number): readonly string[] => [
  'verify',
  ...LLAMA_70B_SHAPE,
  '--ctx',
  String(tokens),
  '--seq',
  String(tokens),
  '--backend',
  'meta',
];
const gpt2XlTrainAt = (layers: number): readonly string[] => [
  'verify',
  'gpt2-xl',
  '--backend',
  'meta',
  '--layers',
  String(layers),
  '--train',
];

const CASES: readonly MetaCase[] = [
  {
    group: 'targets',
    label: 'tiny at d_model 400,000,000',
    args: tinyAt(400_000_000),
    budget: { wallMs: 2000, rssBytes: 300 * MB },
  },
  {
    group: 'targets',
    label: "GPT-2 XL's shape, 384 layers, one training step",
    args: gpt2XlTrainAt(384),
    budget: { wallMs: 8000 },
  },
  {
    group: 'targets',
    label: 'Llama-3-70B shape at 1,048,576 tokens',
    args: llama70bAt(1_048_576),
    budget: { rssBytes: 300 * MB },
  },
  ...[64, 1_000_000, 100_000_000].map((d): MetaCase => ({
    group: 'd_model',
    label: `tiny at d_model ${d.toLocaleString('en-US')}`,
    args: tinyAt(d),
    x: d,
  })),
  ...[4_096, 65_536].map((tokens): MetaCase => ({
    group: 'tokens',
    label: `Llama-3-70B shape at ${tokens.toLocaleString('en-US')} tokens`,
    args: llama70bAt(tokens),
    x: tokens,
  })),
  ...[48, 96, 192].map((layers): MetaCase => ({
    group: 'layers',
    label: `GPT-2 XL's shape, ${layers} layers, one training step`,
    args: gpt2XlTrainAt(layers),
    x: layers,
  })),
];

/** The targets also belong to the sweeps, as their largest point. */
const TARGET_IN_SWEEP: Readonly<Record<string, { group: Group; x: number }>> = {
  'tiny at d_model 400,000,000': { group: 'd_model', x: 400_000_000 },
  'Llama-3-70B shape at 1,048,576 tokens': { group: 'tokens', x: 1_048_576 },
  "GPT-2 XL's shape, 384 layers, one training step": { group: 'layers', x: 384 },
};

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Runs in the child: report maxRSS (KiB on Linux) and CPU time on fd 3 at exit, then run the CLI as its bin would. */
const RUNNER = `
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [main, ...args] = process.argv.slice(2);
process.on('exit', () => {
  const usage = process.resourceUsage();
  writeSync(3, JSON.stringify({ maxRssKib: usage.maxRSS, cpuUs: usage.userCPUTime + usage.systemCPUTime }));
});
process.argv = [process.argv[0], main, ...args];
await import(pathToFileURL(main).href);
`;

let runnerPath: string | undefined;

/**
 * RUNNER as a file of its own, written once: run with `--input-type=module -e`, the flag passes to
 * the threaded wasm build's worker threads, whose CommonJS start-up code then fails.
 */
function runnerFile(): string {
  if (runnerPath === undefined) {
    const folder = mkdtempSync(join(os.tmpdir(), 'flopledger-measure-'));
    process.on('exit', () => rmSync(folder, { recursive: true, force: true }));
    runnerPath = join(folder, 'runner.mjs');
    writeFileSync(runnerPath, RUNNER);
  }
  return runnerPath;
}

/** One run of the CLI at `main` (this build's by default) with `args`, in a fresh process; `env` adds to this one's. */
export function measureOnce(
  args: readonly string[],
  main: string = MAIN,
  env: Readonly<Record<string, string>> = {},
): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, [runnerFile(), main, ...args], {
      env: { ...process.env, ...env },
      // stderr is kept, not shown: the CLI's progress lines would bury the tables; a failed run reports its last line.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let usage = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stdio[3]!.on('data', (chunk: Buffer) => {
      usage += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const wallMs = performance.now() - start;
      let reported: { maxRssKib: number; cpuUs: number };
      try {
        reported = JSON.parse(usage) as { maxRssKib: number; cpuUs: number };
      } catch {
        reject(new Error(`measure_meta: the child reported no resource usage (exit ${exitCode}): ${usage}`));
        return;
      }
      const output = exitCode === 0 ? stdout : stderr || stdout;
      const verdict = output.trimEnd().split('\n').at(-1) ?? '';
      resolve({ wallMs, cpuMs: reported.cpuUs / 1000, maxRssBytes: reported.maxRssKib * 1024, exitCode, verdict });
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function summarise(metaCase: MetaCase, measurements: readonly Measurement[]): MetaCaseResult {
  const verified = measurements.every((m) => m.exitCode === 0 && /(^|\s)verified: /.test(m.verdict));
  const medianWall = median(measurements.map((m) => m.wallMs));
  const maxRss = Math.max(...measurements.map((m) => m.maxRssBytes));
  const { budget } = metaCase;
  return {
    group: metaCase.group,
    label: metaCase.label,
    command: `flopledger ${metaCase.args.join(' ')}`,
    x: metaCase.x ?? null,
    runs: measurements.length,
    median_wall_ms: medianWall,
    max_wall_ms: Math.max(...measurements.map((m) => m.wallMs)),
    median_cpu_ms: median(measurements.map((m) => m.cpuMs)),
    max_rss_bytes: maxRss,
    budget_wall_ms: budget?.wallMs ?? null,
    budget_rss_bytes: budget?.rssBytes ?? null,
    within_budget:
      budget === undefined
        ? null
        : verified &&
          (budget.wallMs === undefined || medianWall <= budget.wallMs) &&
          (budget.rssBytes === undefined || maxRss <= budget.rssBytes),
    verified,
    verdict: verified
      ? (measurements[0]?.verdict ?? '')
      : `FAILED: ${measurements.find((m) => m.exitCode !== 0 || !m.verdict.includes('verified: '))?.verdict ?? ''}`,
  };
}

/** A group's points in order of x, the targets that extend it included. */
function sweep(cases: readonly MetaCaseResult[], group: Group): MetaCaseResult[] {
  const points = cases.flatMap((result) => {
    if (result.group === group) return [result];
    const extends_ = TARGET_IN_SWEEP[result.label];
    return extends_?.group === group ? [{ ...result, x: extends_.x }] : [];
  });
  return points.sort((a, b) => (a.x ?? 0) - (b.x ?? 0));
}

function layerSlopes(cases: readonly MetaCaseResult[]): LayerSlope[] {
  const points = sweep(cases, 'layers');
  return points.slice(1).map((point, i) => {
    const previous = points[i]!;
    const layers = (point.x ?? 0) - (previous.x ?? 0);
    return {
      from_layers: previous.x ?? 0,
      to_layers: point.x ?? 0,
      wall_ms_per_layer: (point.median_wall_ms - previous.median_wall_ms) / layers,
      cpu_ms_per_layer: (point.median_cpu_ms - previous.median_cpu_ms) / layers,
    };
  });
}

/** Every case `runs` times, one of each per round after a warm-up round, in fresh processes. */
export async function measureMetaScaling(runs: number, log: (line: string) => void): Promise<MetaScaling> {
  const loadBefore = os.loadavg();
  const measured = CASES.map(() => [] as Measurement[]);
  // The warm-up round fills the file cache, so every timed run starts from the same state.
  for (let round = -1; round < runs; round++) {
    log(round < 0 ? 'meta scaling: warm-up round' : `meta scaling: round ${round + 1} of ${runs}`);
    for (const [index, metaCase] of CASES.entries()) {
      const measurement = await measureOnce(metaCase.args);
      if (round >= 0) measured[index]!.push(measurement);
    }
  }
  const cases = CASES.map((metaCase, index) => summarise(metaCase, measured[index]!));
  return {
    runs,
    load_average_before: loadBefore,
    load_average_after: os.loadavg(),
    cases,
    layer_slopes: layerSlopes(cases),
  };
}

const megabytes = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const load = (values: readonly number[]): string => values.map((value) => value.toFixed(2)).join(' / ');

/** The section's tables: targets, flat in d_model and tokens, linear in layers. */
export function metaScalingBlocks(scaling: MetaScaling): Block[] {
  const timeColumns = [
    { header: 'wall time (median)', align: 'right' as const },
    { header: 'CPU time (median)', align: 'right' as const },
    { header: 'peak RSS (max)', align: 'right' as const },
  ];
  const times = (result: MetaCaseResult): string[] => [
    seconds(result.median_wall_ms),
    seconds(result.median_cpu_ms),
    megabytes(result.max_rss_bytes),
  ];
  const budgetText = (result: MetaCaseResult): string =>
    [
      result.budget_wall_ms === null ? undefined : `under ${seconds(result.budget_wall_ms)}`,
      result.budget_rss_bytes === null ? undefined : `under ${megabytes(result.budget_rss_bytes)}`,
    ]
      .filter((part) => part !== undefined)
      .join(', ');
  const sweepTable = (group: Group, header: string, notes: string[]): Block =>
    tableBlock({
      columns: [{ header, align: 'right' }, ...timeColumns, { header: 'result' }],
      rows: sweep(scaling.cases, group).map((result) => [
        (result.x ?? 0).toLocaleString('en-US'),
        ...times(result),
        result.verified ? 'verified' : result.verdict,
      ]),
      notes,
    });
  const slopes = scaling.layer_slopes;
  const firstSlope = slopes[0];
  const lastSlope = slopes.at(-1);
  return [
    heading('Meta backend at any size', 2),
    paragraph(
      `\`flopledger verify ... --backend meta\`, each run a fresh Node process (start-up and loading tfjs included, ` +
        `about 0.8 s), ${scaling.runs} interleaved rounds after a warm-up round. Load average (1/5/15 min) ` +
        `${load(scaling.load_average_before)} before and ${load(scaling.load_average_after)} after on ` +
        `${os.availableParallelism()} cores: on a shared machine wall time includes waiting for a core, CPU time much less so.`,
    ),
    tableBlock({
      columns: [{ header: 'command' }, ...timeColumns, { header: 'target' }, { header: 'met' }],
      rows: scaling.cases
        .filter((result) => result.group === 'targets')
        .map((result) => [
          `\`${result.command}\``,
          ...times(result),
          budgetText(result),
          result.within_budget === true ? 'yes' : result.verified ? 'NO' : result.verdict,
        ]),
    }),
    heading('Flat in d_model (tiny, 2 layers)', 3),
    sweepTable('d_model', 'd_model', [
      'A shape-only run makes no array the size of a weight, a table or an activation, so neither time nor memory follows d_model.',
    ]),
    heading('Flat in tokens (Llama-3-70B shape)', 3),
    sweepTable('tokens', 'tokens', ['Context and sequence length both set to the token count (--ctx and --seq).']),
    heading("Linear in layers (GPT-2 XL's shape, --train)", 3),
    sweepTable('layers', 'layers', []),
    tableBlock({
      columns: [
        { header: 'layers' },
        { header: 'wall ms per added layer', align: 'right' },
        { header: 'CPU ms per added layer', align: 'right' },
      ],
      rows: slopes.map((slope) => [
        `${slope.from_layers} -> ${slope.to_layers}`,
        slope.wall_ms_per_layer.toFixed(1),
        slope.cpu_ms_per_layer.toFixed(1),
      ]),
      notes: [
        'Linear growth costs the same per added layer at every size; quadratic growth doubles it with each doubling ' +
          '(before the fix: 1.8 s at 48 layers, 3.0 s at 96, 10.3 s at 192, 42.6 s at 384).' +
          (firstSlope === undefined || lastSlope === undefined
            ? ''
            : ` Here the CPU cost per layer from ${lastSlope.from_layers} to ${lastSlope.to_layers} is ` +
              `${(lastSlope.cpu_ms_per_layer / firstSlope.cpu_ms_per_layer).toFixed(2)} times that from ` +
              `${firstSlope.from_layers} to ${firstSlope.to_layers}.`),
      ],
    }),
  ];
}

/**
 * The section `npm run bench` adds: measures, then appends its tables to docs/bench.md and its
 * figures to docs/bench.json (key meta_scaling), both written by scripts/bench.ts just before.
 */
export async function benchMetaScaling(docs: string, runs = 3): Promise<void> {
  const scaling = await measureMetaScaling(runs, (line) => process.stderr.write(`bench: ${line}\n`));
  appendFileSync(
    join(docs, 'bench.md'),
    '\n' + renderReport({ blocks: metaScalingBlocks(scaling), json: null }, 'markdown'),
  );
  const jsonPath = join(docs, 'bench.json');
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(jsonPath, JSON.stringify({ ...json, meta_scaling: scaling }, null, 2) + '\n');
  if (!scaling.cases.every((result) => result.verified)) process.exitCode = 1;
}

function parseRuns(argv: readonly string[]): number {
  const index = argv.indexOf('--runs');
  if (index < 0) return 3;
  const raw = argv[index + 1] ?? '';
  const runs = Number(raw);
  if (!/^\d+$/.test(raw) || runs < 1) {
    process.stderr.write(`measure_meta: --runs: "${raw}" is not a positive integer; use e.g. --runs 3\n`);
    process.exit(2);
  }
  return runs;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const scaling = await measureMetaScaling(parseRuns(process.argv.slice(2)), (line) =>
    process.stderr.write(`measure_meta: ${line}\n`),
  );
  process.stdout.write(renderReport({ blocks: metaScalingBlocks(scaling), json: null }, 'markdown'));
  process.exitCode = scaling.cases.every((result) => result.verified) ? 0 : 1;
}
