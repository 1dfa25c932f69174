import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { forwardMatmulInventory } from '../src/analytic/index.js';
import type { RunShape } from '../src/config/model_config.js';
import { ExitCode } from '../src/core/errors.js';
import { linear, silu, type ModelParts } from '../src/model/index.js';
import { renderReport } from '../src/render/render.js';
import { verificationReport, verdictLine } from '../src/views/verify_report.js';
import { currentModulePath, scope } from '../src/core/scope.js';
import { describeMismatch, verificationExitCode, verifyModel } from '../src/verify/index.js';
import { cli } from './helpers/cli_runner.js';
import { tinyConfig } from './helpers/small_configs.js';

/**
 * A small model worked by hand. N = B*T = 10 tokens, dk = 4.
 * Matmul FLOPs (2*m*k*n per batch element):
 *   q, k, v, output_proj  2 * 10 * 8 * 8           = 1,280 each
 *   scores, weighted_sum  2 * (2*2) * 5 * 4 * 5    =   800 each
 *   w1, w3, w2            2 * 10 * 8 * 12          = 1,920 each
 *   per layer             4*1,280 + 2*800 + 3*1,920 = 12,480
 *   lm_head               2 * 10 * 8 * 11          = 1,760
 *   total                 2 * 12,480 + 1,760       = 26,720
 * Non-matmul FLOPs by the rule table, per layer:
 *   two RMSNorms  2 * (4*N*d + 2*N)          = 680
 *   RoPE of q, k  6 * N*d                    = 480
 *   scale, mask   2*B*H*T^2 + 3*T^2          = 275
 *   softmax       B*H*T * (5T - 2)           = 460
 *   residuals     2 * N*d                    = 160
 *   SiLU, gate    3 * N*F                    = 360
 *   per layer                                 = 2,415; two layers plus ln_final (340) = 5,170
 */
const config = tinyConfig('hand-small', 'test/verify.test.ts'); // V 11, context 8, L 2, d 8, H 2, F 12
const run: RunShape = { batch: 2, seq: 5 };

/** An ffn that computes W3 x twice and adds the two: the extra matmul must be caught. */
const w3Twice: Partial<ModelParts> = {
  ffn: (x, w1, w2, w3, project) => {
    const w1x = scope('w1', () => project(x, w1)); // (B, T, F)
    const w3x = scope('w3', () => project(x, w3)); // (B, T, F)
    const w3xAgain = scope('w3', () => project(x, w3)); // (B, T, F)
    const gated = scope('gate', () => tf.mul<tf.Tensor3D>(silu(w1x), tf.add(w3x, w3xAgain))); // (B, T, F)
    return scope('w2', () => project(gated, w2)); // (B, T, d)
  },
};

/** The lines of a rendered table report, for exact comparison of whole lines. */
function lines(text: string): string[] {
  return text.split('\n');
}

describe('verifyModel on a hand-worked model (cpu)', () => {
  let baseline = 0;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    baseline = tf.memory().numTensors;
  });

  it('passes the real model with every matmul and FLOP count as worked by hand', async () => {
    const verification = await verifyModel({ config, run, backend: 'cpu' });
    expect(verification.ok).toBe(true);
    expect(verification.matmulKernelCount).toBe(19);
    expect(verification.expectedMatmulKernelCount).toBe(19);
    expect(verification.matmuls.expectedTotal).toBe(26_720n);
    expect(verification.matmuls.tracedTotal).toBe(26_720n);
    expect(verification.matmuls.mismatches).toEqual([]);
    expect(verification.nonMatmul.estimate).toBe(5_170n);
    expect(verification.nonMatmul.traced).toBe(5_170n);
    expect(verification.nonMatmul.uncounted).toEqual([]);
    expect(verdictLine(verification)).toBe('verified: 19 of 19 matmuls match exactly (26,720 FLOPs) on cpu');
    expect(verificationExitCode(verification)).toBe(ExitCode.ok);
    const byComponent = Object.fromEntries(
      verification.matmuls.byComponent.map((entry) => [entry.component, entry.traced]),
    );
    expect(byComponent).toEqual({
      attention_projections: 2n * 4n * 1_280n,
      attention_core: 2n * 2n * 800n,
      ffn: 2n * 3n * 1_920n,
      lm_head: 1_760n,
    });
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('fails an inventory that forgets output_proj: two extra kernels, exact lines, exit code 1', async () => {
    const inventory = forwardMatmulInventory(config, run).filter((row) => !row.path.endsWith('.output_proj'));
    const verification = await verifyModel({ config, run, backend: 'cpu', inventory });
    expect(verification.ok).toBe(false);
    expect(verificationExitCode(verification)).toBe(ExitCode.mismatch);
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.output_proj: extra: expected no matmul; traced BatchMatMul [10,8] x [8,8] = 1,280 FLOPs',
      'layers.1.attn.output_proj: extra: expected no matmul; traced BatchMatMul [10,8] x [8,8] = 1,280 FLOPs',
    ]);
    const text = lines(renderReport(verificationReport(verification, 1), 'table'));
    expect(text).toContain(
      '- layers.0.attn.output_proj: extra: expected no matmul; traced BatchMatMul [10,8] x [8,8] = 1,280 FLOPs',
    );
    expect(text).toContain(
      '- layers.1.attn.output_proj: extra: expected no matmul; traced BatchMatMul [10,8] x [8,8] = 1,280 FLOPs',
    );
    // 26,720 traced; the inventory without two output projections expects 26,720 - 2 * 1,280.
    expect(text).toContain(
      'NOT verified: 17 of 17 expected matmuls match exactly; 2 mismatches (2 extra); traced 26,720 FLOPs, expected 24,160, on cpu',
    );
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('fails a model whose ffn applies w3 twice: exact lines, kernel count, non-matmul difference, exit code 1', async () => {
    const verification = await verifyModel({ config, run, backend: 'cpu', parts: w3Twice });
    expect(verification.ok).toBe(false);
    expect(verificationExitCode(verification)).toBe(ExitCode.mismatch);
    expect(verification.matmulKernelCount).toBe(21);
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.ffn.w3: extra: expected no matmul; traced BatchMatMul [10,8] x [8,12] = 1,920 FLOPs',
      'layers.1.ffn.w3: extra: expected no matmul; traced BatchMatMul [10,8] x [8,12] = 1,920 FLOPs',
    ]);
    const text = lines(renderReport(verificationReport(verification, 3), 'table'));
    expect(text).toContain(
      '- layers.0.ffn.w3: extra: expected no matmul; traced BatchMatMul [10,8] x [8,12] = 1,920 FLOPs',
    );
    expect(text).toContain(
      'NOT verified: 19 of 19 expected matmuls match exactly; 2 mismatches (2 extra); ' +
        "21 matmul kernels traced, 19 expected (9 per layer + lm_head); 4 of 13 modules' non-matmul work differs " +
        "(missing, work); the bytes of 6 of 35 modules' kernels differ; traced 30,560 FLOPs, expected 26,720, on cpu",
    );
    // The planted ffn runs SiLU inside its gate module, and adds the two W3 x there: one Add of
    // (B, T, F) = 120 FLOPs per layer the math does not need.
    expect(text).toContain('- layers.0.ffn.silu: missing: expected 2 kernels, 240 FLOPs; traced none');
    expect(text).toContain('- layers.0.ffn.gate: work: expected 1 kernel, 120 FLOPs; traced 4 kernels, 480 FLOPs');
    expect(text).toContain('non-matmul FLOPs: traced 5,410, estimate 5,170: difference +240, made of Add +240');
    const json = JSON.parse(renderReport(verificationReport(verification, 3), 'json'));
    expect(json.ok).toBe(false);
    expect(json.matmuls.traced_total).toBe('30560');
    expect(json.matmuls.checks.filter((check: { status: string }) => check.status === 'extra')).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('names a shape mismatch with both folded shapes and both counts', async () => {
    // An inventory that believes d_ff is 16: w1 and w3 expect [10,8] x [8,16], w2 [10,16] x [16,8].
    const wrongWidth = forwardMatmulInventory({ ...config, d_ff: 16 }, run);
    const verification = await verifyModel({ config, run, backend: 'cpu', inventory: wrongWidth });
    expect(verification.matmuls.mismatches.map(describeMismatch).slice(0, 3)).toEqual([
      'layers.0.ffn.w1: shape: expected [10,8] x [8,16] = 2,560 FLOPs; traced BatchMatMul [10,8] x [8,12] = 1,920 FLOPs',
      'layers.0.ffn.w3: shape: expected [10,8] x [8,16] = 2,560 FLOPs; traced BatchMatMul [10,8] x [8,12] = 1,920 FLOPs',
      'layers.0.ffn.w2: shape: expected [10,16] x [16,8] = 2,560 FLOPs; traced BatchMatMul [10,12] x [12,8] = 1,920 FLOPs',
    ]);
    expect(verification.matmuls.mismatches).toHaveLength(6);
    expect(verificationExitCode(verification)).toBe(ExitCode.mismatch);
  });

  it('names a missing matmul when the model skips one', async () => {
    // A model whose output projection is the identity: no kernel at output_proj.
    const noOutputProjection: Partial<ModelParts> = {
      linear: (x, weight) => (currentModulePath().endsWith('.attn.output_proj') ? x : linear(x, weight)),
    };
    const verification = await verifyModel({ config, run, backend: 'cpu', parts: noOutputProjection });
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.output_proj: missing: expected [10,8] x [8,8] = 1,280 FLOPs; traced no matmul',
      'layers.1.attn.output_proj: missing: expected [10,8] x [8,8] = 1,280 FLOPs; traced no matmul',
    ]);
    expect(verification.matmulKernelCount).toBe(17);
    expect(verification.ok).toBe(false);
  });

  it('releases every tensor when the forward pass throws', async () => {
    const broken: Partial<ModelParts> = {
      softmax: () => {
        throw new Error('planted failure in softmax');
      },
    };
    await expect(verifyModel({ config, run, backend: 'cpu', parts: broken })).rejects.toThrow(
      'planted failure in softmax',
    );
    expect(tf.memory().numTensors).toBe(baseline);
  });
});

describe('verify through run(argv)', () => {
  it('exits 0 with the verdict for a real model written as a config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flopledger-verify-'));
    try {
      const file = join(dir, 'hand-small.json');
      const { name: _name, source: _source, ...dimensions } = config;
      writeFileSync(file, JSON.stringify(dimensions));
      const result = await cli('verify', file, '--backend', 'cpu', '--batch', '2', '--seq', '5');
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(lines(result.stdout)).toContain('verified: 19 of 19 matmuls match exactly (26,720 FLOPs) on cpu');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // No flag can plant a wrong model or inventory, so the exit-code decision the command uses is asserted directly.
  it('decides exit code 1 for both planted cases', async () => {
    const verification = await verifyModel({ config, run, backend: 'cpu', parts: w3Twice });
    expect(verificationExitCode(verification)).toBe(1);
    const planted = await verifyModel({
      config,
      run,
      backend: 'cpu',
      inventory: forwardMatmulInventory(config, run).filter((row) => !row.path.endsWith('.output_proj')),
    });
    expect(verificationExitCode(planted)).toBe(1);
  });
});
