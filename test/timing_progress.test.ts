/**
 * Progress on stderr for runs over about 2 s (`verify gpt2-small --seq 512` once ran 37 s without
 * a word). The runtime drives it, so a traced forward pass, a traced training step and a timing
 * run each report it; the clock is the sink's, so a test can make a run long without waiting.
 */
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { PROGRESS_THRESHOLD_MS, RunProgress, type ProgressSink } from '../src/runtime/progress.js';
import { traceForward, traceTrainingStep } from '../src/runtime/traced_run.js';
import { useBackend } from '../src/runtime/backend.js';
import { timeModel } from '../src/timing/time_model.js';
import { verifyModel } from '../src/verify/verify_model.js';
import { builtCli, ROOT } from './helpers/built_cli.js';
import { tinyConfig } from './helpers/small_configs.js';

/** A sink whose clock moves `stepMs` each time it is read, and the lines it received. */
function steppingSink(stepMs: number): ProgressSink & { lines: string[] } {
  let now = 0;
  const lines: string[] = [];
  return {
    lines,
    line: (text) => lines.push(text),
    now: () => {
      now += stepMs;
      return now;
    },
  };
}

/** A stream that says it is a terminal and keeps what is drawn on it. */
function fakeTerminal(): NodeJS.WriteStream & { written: string } {
  const terminal = {
    isTTY: true,
    columns: 120,
    written: '',
    write(text: string) {
      terminal.written += text;
      return true;
    },
    cursorTo(_x: number, _y?: number, done?: () => void) {
      done?.();
      return true;
    },
    clearLine(_dir: number, done?: () => void) {
      done?.();
      return true;
    },
    moveCursor(_dx: number, _dy: number, done?: () => void) {
      done?.();
      return true;
    },
    on() {
      return terminal;
    },
    removeListener() {
      return terminal;
    },
  };
  return terminal as unknown as NodeJS.WriteStream & { written: string };
}

describe('RunProgress', () => {
  it('says nothing about a run shorter than the threshold', () => {
    const sink = steppingSink(100);
    const progress = new RunProgress(sink, 'forward pass of tiny');
    for (let i = 0; i < 10; i++) progress.update(i, 10, `layer ${i}`);
    progress.finish();
    // 11 reads of 100 ms: 1.1 s in all.
    expect(sink.lines).toEqual([]);
  });

  it('writes what is running once the run passes 2 s, and how long it took at the end, on a plain stream', () => {
    const sink = steppingSink(700);
    const progress = new RunProgress(sink, 'forward pass of gpt2-small (batch 1 x 512 tokens) on wasm');
    // The clock moves 0.7 s at each read: the start, then each update until the line is written.
    progress.update(1, 14, 'layer 1 of 12'); // 0.7 s in
    progress.update(2, 14, 'layer 2 of 12'); // 1.4 s
    progress.update(3, 14, 'layer 3 of 12'); // 2.1 s: the first line
    progress.update(4, 14, 'layer 4 of 12'); // no redraw on a plain stream, and no clock read
    progress.finish(); // 2.8 s
    progress.finish();
    expect(sink.lines).toEqual([
      'forward pass of gpt2-small (batch 1 x 512 tokens) on wasm: running for 2.1 s so far, at layer 3 of 12',
      'forward pass of gpt2-small (batch 1 x 512 tokens) on wasm: done in 2.8 s',
    ]);
  });

  it('shows at once a run that expects to pass the threshold', () => {
    const sink = steppingSink(1);
    const progress = new RunProgress(sink, 'timing tiny (batch 1 x 64 tokens) on wasm');
    progress.expect(PROGRESS_THRESHOLD_MS);
    expect(sink.lines).toEqual([]);
    progress.expect(5_300);
    progress.finish();
    expect(sink.lines).toEqual([
      'timing tiny (batch 1 x 64 tokens) on wasm: running, about 5.3 s expected',
      'timing tiny (batch 1 x 64 tokens) on wasm: done in 0.0 s',
    ]);
  });

  it('draws a bar on a terminal, and clears it at the end instead of writing lines', () => {
    const terminal = fakeTerminal();
    const sink = { ...steppingSink(1000), terminal };
    const progress = new RunProgress(sink, 'training step of tiny');
    progress.update(1, 9, 'forward, layer 1 of 2');
    progress.update(2, 9, 'forward, layer 2 of 2');
    progress.update(3, 9, 'backward, layer 2 of 2');
    progress.finish();
    expect(sink.lines).toEqual([]);
    expect(terminal.written).toContain('training step of tiny [');
    expect(terminal.written).toMatch(/3\/9 backward, layer 2 of 2/);
  });

  it('says how long a run took that passed 2 s after its last step, on a plain stream only', () => {
    const plain = steppingSink(1100);
    const progress = new RunProgress(plain, 'timing tiny');
    progress.update(1, 2, 'timed run 1 of 1'); // 1.1 s
    progress.finish(); // 2.2 s
    expect(plain.lines).toEqual(['timing tiny: done in 2.2 s']);
    const terminal = { ...steppingSink(1100), terminal: fakeTerminal() };
    const onTerminal = new RunProgress(terminal, 'timing tiny');
    onTerminal.update(1, 2, 'timed run 1 of 1');
    onTerminal.finish();
    expect(terminal.lines).toEqual([]);
    expect(terminal.terminal.written).toBe('');
  });

  it('writes nothing without a sink (--quiet)', () => {
    const progress = new RunProgress(undefined, 'anything');
    progress.expect(60_000);
    progress.update(1, 2, 'step');
    progress.finish();
  });
});

describe('the runtime reports progress for every kind of run', () => {
  const config = tinyConfig('tiny', 'test/timing_progress.test.ts');
  const run = { batch: 1, seq: 8 };

  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('a traced forward pass while its weights are made: the tensors made so far', async () => {
    // 0.4 s a read: the 6th of tiny's 21 weight tensors (E, 9 per layer, the final gain, lm_head) passes 2 s.
    const sink = steppingSink(400);
    await traceForward({ config, run, backend: 'cpu', progress: sink });
    expect(sink.lines[0]).toBe(
      'forward pass of tiny (batch 1 x 8 tokens) on cpu: running for 2.4 s so far, at making weights (6 of 21 tensors)',
    );
  });

  it('a traced forward pass (trace, verify): the layer it has reached, then its duration', async () => {
    // 0.05 s a read: the weights take 1.05 s, and a layer's kernels pass 2 s.
    const sink = steppingSink(50);
    await traceForward({ config, run, backend: 'cpu', progress: sink });
    expect(sink.lines).toHaveLength(2);
    expect(sink.lines[0]).toMatch(
      /^forward pass of tiny \(batch 1 x 8 tokens\) on cpu: running for 2\.\d s so far, at (layer [12] of 2|final norm and lm_head)$/,
    );
    expect(sink.lines[1]).toMatch(/^forward pass of tiny \(batch 1 x 8 tokens\) on cpu: done in \d+\.\d s$/);
  });

  it('verification passes the progress through to its traced pass', async () => {
    const sink = steppingSink(400);
    const verified = await verifyModel({ config, run, backend: 'cpu', progress: sink });
    expect(verified.ok).toBe(true);
    expect(sink.lines[0]).toMatch(/^forward pass of tiny .* running for/);
  });

  it('a traced training step (verify --train): forward, backward and the AdamW update', async () => {
    const sink = steppingSink(150);
    const before = tf.memory().numTensors;
    await traceTrainingStep({ config, run, backend: 'cpu', progress: sink });
    expect(tf.memory().numTensors).toBe(before);
    expect(sink.lines).toHaveLength(2);
    expect(sink.lines[0]).toMatch(
      /^training step of tiny \(batch 1 x 8 tokens\) on cpu: running for 2\.\d s so far, at /,
    );
    expect(sink.lines[1]).toMatch(/: done in \d+\.\d s$/);
  });

  it('a timing run: the same lines, from the weights through the passes to the calibration', async () => {
    // 0.3 s a read: the 7th of the 21 weight tensors passes 2 s.
    const sink = steppingSink(300);
    const timed = await timeModel({ config, run, backend: 'cpu', runs: 3, warmup: 1, progress: sink });
    expect(timed.timing.summary.count).toBe(3);
    expect(sink.lines).toHaveLength(2);
    expect(sink.lines[0]).toBe(
      'timing tiny (batch 1 x 8 tokens) on cpu: running for 2.1 s so far, at making weights (7 of 21 tensors)',
    );
    expect(sink.lines[1]).toMatch(/^timing tiny \(batch 1 x 8 tokens\) on cpu: done in \d+\.\d s$/);
  });

  it('a timing run the warm-up says will be long: the expected duration at once', async () => {
    const lines: string[] = [];
    // A pass of some milliseconds of arithmetic (tiny's is mostly dispatch, and from 1 to 20 ms
    // as the JIT warms), timed here first: its runs are then about 3 s, over the 2 s threshold.
    const wider = { ...config, d_model: 64, d_ff: 256, context_length: 64 };
    const widerRun = { batch: 1, seq: 64 };
    const probe = await timeModel({
      config: wider,
      run: widerRun,
      backend: 'cpu',
      runs: 5,
      warmup: 3,
      calibrate: false,
    });
    const runs = Math.ceil(3000 / probe.timing.summary.min);
    await timeModel({
      config: wider,
      run: widerRun,
      backend: 'cpu',
      runs,
      warmup: 1,
      calibrate: false,
      progress: { line: (text) => lines.push(text) },
    });
    expect(lines[0]).toMatch(
      /^timing tiny \(batch 1 x 64 tokens\) on cpu: running, about \d+\.\d s expected, at warm-up pass 1$/,
    );
    expect(lines[1]).toMatch(/: done in \d+\.\d s$/);
  });
});

describe('the CLI process: progress on stderr, the report on stdout', () => {
  it('`time` piped: two plain lines on stderr, the JSON alone on stdout; --quiet: none', () => {
    const main = builtCli();
    const env = { ...process.env, FLOPLEDGER_WASM_THREADS: '1' };
    // Making 45M random weights and three passes over 128 tokens: seconds, on any machine.
    const model = ['gpt2-small', '--layers', '1', '--seq', '128'];
    const args = [
      main,
      'time',
      ...model,
      '--backend',
      'wasm',
      '--runs',
      '1',
      '--warmup',
      '1',
      '--no-calibrate',
      '--format',
      'json',
    ];
    const piped = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env });
    expect(piped.status).toBe(0);
    expect(JSON.parse(piped.stdout).runs).toBe(1);
    const lines = piped.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^flopledger: timing gpt2-small \(layers=1\) \(batch 1 x 128 tokens\) on wasm: running/);
    expect(lines[1]).toMatch(
      /^flopledger: timing gpt2-small \(layers=1\) \(batch 1 x 128 tokens\) on wasm: done in [\d.]+ s$/,
    );

    const quiet = spawnSync(process.execPath, [...args, '--quiet'], { cwd: ROOT, encoding: 'utf8', env });
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
  });
});
