/**
 * Wall time and peak resident memory of `flopledger verify gpt2-xl --backend meta` at 1,024 and
 * 16,384 tokens, each run in a fresh Node process, as a Markdown table for the README.
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/measure_meta.js [--runs 5]
 *
 * Each run starts `node` on a small runner that loads the built CLI with the command's argv and,
 * as the process exits, writes process.resourceUsage().maxRSS (the kernel's high-water mark of
 * resident memory, so the whole life of the process is covered) to an extra pipe. Wall time is
 * taken around the child process by this parent: it is what a user waits, Node's own start-up and
 * module loading included. CPU time (user + system, from the same resourceUsage) is shown beside
 * it: on a machine shared with other work, wall time also counts the waits for a core. Exits 1
 * when a run fails to verify.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Measurement {
  readonly wallMs: number;
  /** User plus system CPU time of the child: what the run costs, less shaken by other load than wall time. */
  readonly cpuMs: number;
  readonly maxRssBytes: number;
  readonly exitCode: number | null;
  readonly verdict: string;
}

interface Case {
  readonly label: string;
  readonly args: readonly string[];
}

const CASES: readonly Case[] = [
  { label: 'verify gpt2-xl --backend meta', args: ['verify', 'gpt2-xl', '--backend', 'meta'] },
  {
    label: 'verify gpt2-xl --backend meta --ctx 16384 --seq 16384',
    args: ['verify', 'gpt2-xl', '--backend', 'meta', '--ctx', '16384', '--seq', '16384'],
  },
];

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Runs in the child: report maxRSS (KiB on Linux) on fd 3 at exit, then run the CLI as its bin would. */
const RUNNER = `
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [main, ...args] = process.argv.slice(1);
process.on('exit', () => {
  const usage = process.resourceUsage();
  writeSync(3, JSON.stringify({ maxRssKib: usage.maxRSS, cpuUs: usage.userCPUTime + usage.systemCPUTime }));
});
process.argv = [process.argv[0], main, ...args];
await import(pathToFileURL(main).href);
`;

function measureOnce(args: readonly string[]): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', RUNNER, MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
    });
    let stdout = '';
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
      const verdict = stdout.trimEnd().split('\n').at(-1) ?? '';
      resolve({ wallMs, cpuMs: reported.cpuUs / 1000, maxRssBytes: reported.maxRssKib * 1024, exitCode, verdict });
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function parseRuns(argv: readonly string[]): number {
  const index = argv.indexOf('--runs');
  if (index < 0) return 5;
  const raw = argv[index + 1] ?? '';
  const runs = Number(raw);
  if (!/^\d+$/.test(raw) || runs < 1) {
    process.stderr.write(`measure_meta: --runs: "${raw}" is not a positive integer; use e.g. --runs 5\n`);
    process.exit(2);
  }
  return runs;
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const runs = parseRuns(process.argv.slice(2));
const rows: string[] = [];
let failed = false;
for (const { label, args } of CASES) {
  const measurements: Measurement[] = [];
  // One run first to warm the file cache, so every timed run starts from the same state.
  await measureOnce(args);
  for (let i = 0; i < runs; i++) measurements.push(await measureOnce(args));
  const ok = measurements.every((m) => m.exitCode === 0 && m.verdict.startsWith('verified: '));
  failed ||= !ok;
  const walls = measurements.map((m) => m.wallMs);
  const cpu = measurements.map((m) => m.cpuMs);
  const peak = Math.max(...measurements.map((m) => m.maxRssBytes));
  rows.push(
    `| \`flopledger ${label}\` | ${runs} | ${seconds(median(walls))} | ${seconds(Math.max(...walls))} | ${seconds(median(cpu))} | ` +
      `${megabytes(peak)} | ${ok ? measurements[0]!.verdict : `FAILED: ${measurements.find((m) => m.exitCode !== 0)?.verdict ?? ''}`} |`,
  );
}

process.stdout.write(
  [
    '| command | runs | wall time (median) | wall time (max) | CPU time (median) | peak RSS (max) | result |',
    '|:---|---:|---:|---:|---:|---:|:---|',
    ...rows,
  ].join('\n') + '\n',
);
process.exitCode = failed ? 1 : 0;
