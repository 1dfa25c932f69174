import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { forwardMatmulInventory } from '../src/analytic/index.js';
import type { ModelConfig, RunShape } from '../src/config/model_config.js';
import { ExitCode } from '../src/core/errors.js';
import { currentModulePath } from '../src/core/scope.js';
import { linear, rmsNorm, softcap, swiglu, type ModelParts } from '../src/model/index.js';
import { renderReport } from '../src/render/render.js';
import {
  describeMismatch,
  describeWorkMismatch,
  verificationExitCode,
  verifyModel,
  type VerifyReport,
} from '../src/verify/index.js';
import { verifyTraining } from '../src/verify/verify_training.js';
import { verificationReport, verdictLine } from '../src/views/verify_report.js';
import { trainingMismatchLines } from '../src/views/verify_training_report.js';

/**
 * A planted fault per new kind of component, each caught with its exact mismatch report. The
 * matmul faults (a head width taken as d / H, a fused projection counted as separate ones) are
 * planted in the inventory; the elementwise faults (a norm applied twice or left out, a cap
 * left out, SiLU for GELU, a bias the config does not have, the (1 + gain) added twice) are
 * planted in the model, and the check of each module's non-matmul work names them.
 *
 * One layer, B 1, T 4 (N = 4 tokens), d 6, H 2 heads of head_dim 4 sharing one key/value head
 * (dq 8, dkv 4), F 5, V 7. Worked by hand, by the rule table (1 FLOP per output element; a mean
 * of r values r - 1 adds and a divide):
 *   RMSNorm of [1,4,6]       Square 24 + Mean 24 + Add 4 + Rsqrt 4 + Multiply 24 + gain 24 = 104, 6 kernels
 *   (1 + gain) [6]           Add 6, 1 kernel
 *   k norm of [1,1,4,4]      Square 16 + Mean 16 + Add 4 + Rsqrt 4 + Multiply 16 + gain 16 = 72, 6 kernels
 *   embedding scale          Multiply of [1,4,6]: 24, 1 kernel
 *   attention cap [1,2,4,4]  Multiply, Tanh, Multiply: 3 x 32 = 96, 3 kernels
 *   output cap [1,4,7]       3 x 28 = 84, 3 kernels
 *   GELU of [1,4,5]          8 kernels of 20: 160;  SiLU: Sigmoid, Multiply: 40, 2 kernels
 *   a bias on [1,4,6]        Add: 24, 1 kernel
 * Matmuls: q 2*4*6*8 = 384, k and v 192 each, scores and weighted sum 2*(1*2*4)*4*4 = 256 each,
 * output 384, w1 w3 w2 240 each, lm_head 2*4*6*7 = 336: 10 kernels, 2,720 FLOPs. The modules with
 * non-matmul work outside the core: ln1, rope, the residual adds at layers.0, ln2, ffn.silu,
 * ffn.gate and ln_final (7), with q_norm and k_norm 9.
 */
const BASE: ModelConfig = {
  name: 'planted',
  source: 'test/dense_planted_faults.test.ts',
  vocab_size: 7,
  context_length: 4,
  num_layers: 1,
  d_model: 6,
  num_heads: 2,
  d_ff: 5,
  num_kv_heads: 1,
  head_dim: 4,
};
const run: RunShape = { batch: 1, seq: 4 };

/** Kernels at `leaf` (a path ending) get `planted`; elsewhere `original`. */
function at<F extends (...args: never[]) => unknown>(leaf: string, planted: F, original: F): F {
  return ((...args: Parameters<F>) => (currentModulePath().endsWith(leaf) ? planted : original)(...args)) as F;
}

async function planted(config: ModelConfig, parts: Partial<ModelParts>): Promise<VerifyReport> {
  const verification = await verifyModel({ config, run, backend: 'cpu', seed: 1, parts });
  expect(verification.ok).toBe(false);
  expect(verificationExitCode(verification)).toBe(ExitCode.mismatch);
  return verification;
}

const workLines = (verification: VerifyReport) => verification.work.mismatches.map(describeWorkMismatch);

describe('a planted fault per new kind of component, caught with its exact report (cpu)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the unplanted models verify', async () => {
    for (const config of [
      BASE,
      { ...BASE, qk_norm: true, zero_centered_gain: true, post_norms: true, scale_embeddings: true },
      { ...BASE, ffn: 'geglu' as const, attn_softcap: 50, final_softcap: 30, qkv_bias: true, fused_qkv: true },
    ]) {
      const verification = await verifyModel({ config, run, backend: 'cpu', seed: 1 });
      expect(verification.ok).toBe(true);
      expect(verification.work.mismatches).toEqual([]);
    }
  });

  it('head_dim taken as d / H: every attention matmul is the wrong shape', async () => {
    // The published bug: head_dim 4 taken as d / H = 3, so q and the output are 6 wide, not 8.
    const { head_dim: _own, ...asSplit } = BASE;
    const inventory = forwardMatmulInventory(asSplit, run);
    const verification = await verifyModel({ config: BASE, run, backend: 'cpu', seed: 1, inventory });
    expect(verification.ok).toBe(false);
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.q_proj: shape: expected [4,6] x [6,6] = 288 FLOPs; traced BatchMatMul [4,6] x [6,8] = 384 FLOPs',
      'layers.0.attn.k_proj: shape: expected [4,6] x [6,3] = 144 FLOPs; traced BatchMatMul [4,6] x [6,4] = 192 FLOPs',
      'layers.0.attn.v_proj: shape: expected [4,6] x [6,3] = 144 FLOPs; traced BatchMatMul [4,6] x [6,4] = 192 FLOPs',
      'layers.0.attn.scores: shape: expected [8,3] x [3,4] = 192 FLOPs; traced BatchMatMul [8,4] x [4,4] = 256 FLOPs',
      'layers.0.attn.weighted_sum: shape: expected [8,4] x [4,3] = 192 FLOPs; traced BatchMatMul [8,4] x [4,4] = 256 FLOPs',
      'layers.0.attn.output_proj: shape: expected [4,6] x [6,6] = 288 FLOPs; traced BatchMatMul [4,8] x [8,6] = 384 FLOPs',
    ]);
  });

  it('a fused qkv_proj counted as separate q, k and v projections', async () => {
    const config: ModelConfig = { ...BASE, fused_qkv: true };
    const inventory = forwardMatmulInventory({ ...config, fused_qkv: false }, run);
    const verification = await verifyModel({ config, run, backend: 'cpu', seed: 1, inventory });
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.attn.q_proj: missing: expected [4,6] x [6,8] = 384 FLOPs; traced no matmul',
      'layers.0.attn.k_proj: missing: expected [4,6] x [6,4] = 192 FLOPs; traced no matmul',
      'layers.0.attn.v_proj: missing: expected [4,6] x [6,4] = 192 FLOPs; traced no matmul',
      'layers.0.attn.qkv_proj: extra: expected no matmul; traced BatchMatMul [4,6] x [6,16] = 768 FLOPs',
    ]);
    // The same FLOPs in one kernel: the total agrees, the rows and the kernel count do not.
    expect(verification.matmuls.tracedTotal).toBe(verification.matmuls.expectedTotal);
    expect(verdictLine(verification)).toBe(
      'NOT verified: 7 of 10 expected matmuls match exactly; 4 mismatches (3 missing, 1 extra); traced 2,720 FLOPs, ' +
        'expected 2,720, on cpu',
    );
  });

  it('a fused gate_up_proj counted as separate w1 and w3', async () => {
    const config: ModelConfig = { ...BASE, fused_gate_up: true };
    const inventory = forwardMatmulInventory({ ...config, fused_gate_up: false }, run);
    const verification = await verifyModel({ config, run, backend: 'cpu', seed: 1, inventory });
    expect(verification.matmuls.mismatches.map(describeMismatch)).toEqual([
      'layers.0.ffn.w1: missing: expected [4,6] x [6,5] = 240 FLOPs; traced no matmul',
      'layers.0.ffn.w3: missing: expected [4,6] x [6,5] = 240 FLOPs; traced no matmul',
      'layers.0.ffn.gate_up_proj: extra: expected no matmul; traced BatchMatMul [4,6] x [6,10] = 480 FLOPs',
    ]);
  });

  it('the k norm applied twice (Qwen3)', async () => {
    const config: ModelConfig = { ...BASE, qk_norm: true };
    const twice: ModelParts['rmsNorm'] = (x, gain, eps) => rmsNorm(rmsNorm(x, gain, eps), gain, eps);
    const verification = await planted(config, { rmsNorm: at('attn.k_norm', twice, rmsNorm) });
    expect(workLines(verification)).toEqual([
      'layers.0.attn.k_norm: work: expected 6 kernels, 72 FLOPs; traced 12 kernels, 144 FLOPs',
    ]);
    expect(verdictLine(verification)).toBe(
      "NOT verified: 10 of 10 expected matmuls match exactly; 0 mismatches; 1 of 9 modules' non-matmul work differs " +
        "(work); the bytes of 1 of 21 modules' kernels differ; traced 2,720 FLOPs, expected 2,720, on cpu",
    );
    // The report lists it with the matmul mismatches, one line each.
    expect(renderReport(verificationReport(verification, 1), 'table').split('\n')).toContain(
      '- layers.0.attn.k_norm: work: expected 6 kernels, 72 FLOPs; traced 12 kernels, 144 FLOPs',
    );
  });

  it('a post-attention norm left out (Gemma 2)', async () => {
    const config: ModelConfig = { ...BASE, post_norms: true };
    const skipped: ModelParts['rmsNorm'] = (x) => x;
    const verification = await planted(config, { rmsNorm: at('post_attn_norm', skipped, rmsNorm) });
    expect(workLines(verification)).toEqual([
      'layers.0.post_attn_norm: missing: expected 6 kernels, 104 FLOPs; traced none',
    ]);
  });

  it("the (1 + gain) of Gemma's norms added twice", async () => {
    const config: ModelConfig = { ...BASE, zero_centered_gain: true };
    const again: ModelParts['rmsNorm'] = (x, gain, eps) => rmsNorm(x, tf.add(gain, 1), eps);
    const verification = await planted(config, { rmsNorm: at('ln2', again, rmsNorm) });
    expect(workLines(verification)).toEqual([
      'layers.0.ln2: work: expected 7 kernels, 110 FLOPs; traced 8 kernels, 116 FLOPs',
    ]);
  });

  it('the embeddings left unscaled (Gemma)', async () => {
    const config: ModelConfig = { ...BASE, scale_embeddings: true };
    const verification = await planted(config, { scaleEmbeddings: (x) => x });
    expect(workLines(verification)).toEqual(['embedding_scale: missing: expected 1 kernel, 24 FLOPs; traced none']);
  });

  it('GeGLU gated with SiLU', async () => {
    const config: ModelConfig = { ...BASE, ffn: 'geglu' };
    const verification = await planted(config, { geglu: swiglu });
    expect(workLines(verification)).toEqual([
      'layers.0.ffn.gelu: missing: expected 8 kernels, 160 FLOPs; traced none',
      'layers.0.ffn.silu: extra: expected no non-matmul work; traced 2 kernels, 40 FLOPs',
    ]);
  });

  it('an output_proj bias in a model with biases on q, k and v only (Qwen2)', async () => {
    const config: ModelConfig = { ...BASE, qkv_bias: true };
    const biased: ModelParts['linear'] = (x, weight) => tf.add(linear(x, weight), tf.zeros([weight.shape[1]]));
    const verification = await planted(config, { linear: at('attn.output_proj', biased, linear) });
    expect(workLines(verification)).toEqual([
      'layers.0.attn.output_proj: extra: expected no non-matmul work; traced 1 kernel, 24 FLOPs',
    ]);
  });

  it('the attention logits left uncapped, the output logits capped twice (Gemma 2)', async () => {
    const config: ModelConfig = { ...BASE, attn_softcap: 50, final_softcap: 30 };
    const verification = await planted(config, {
      softcap: (scores) => scores,
      capLogits: (logits, cap) => softcap(softcap(logits, cap), cap),
    });
    expect(workLines(verification)).toEqual([
      'layers.0.attn.softcap: missing: expected 3 kernels, 96 FLOPs; traced none',
      'final_softcap: work: expected 3 kernels, 84 FLOPs; traced 6 kernels, 168 FLOPs',
    ]);
  });

  it('the training step catches the forward fault too', async () => {
    const config: ModelConfig = { ...BASE, qk_norm: true };
    const twice: ModelParts['rmsNorm'] = (x, gain, eps) => rmsNorm(rmsNorm(x, gain, eps), gain, eps);
    const parts = { rmsNorm: at('attn.k_norm', twice, rmsNorm) };
    const verification = await verifyTraining({ config, run, backend: 'cpu', seed: 1, parts });
    expect(verification.ok).toBe(false);
    // The second norm's six kernels are caught twice: as work, and as bytes no listed kernel moves.
    expect(trainingMismatchLines(verification)).toEqual([
      'forward layers.0.attn.k_norm: work: expected 6 kernels, 72 FLOPs; traced 12 kernels, 144 FLOPs',
      'forward layers.0.attn.k_norm: bytes: expected nothing else expected; traced ' +
        'Square (reads 0 B of weights, 64 B of activations; writes 64 B), ' +
        'Mean (reads 0 B of weights, 64 B of activations; writes 16 B), ' +
        'Add (reads 0 B of weights, 20 B of activations; writes 16 B), ' +
        'Rsqrt (reads 0 B of weights, 16 B of activations; writes 16 B), ' +
        'Multiply (reads 0 B of weights, 80 B of activations; writes 64 B), ' +
        'Multiply (reads 16 B of weights, 64 B of activations; writes 64 B)',
    ]);
  });
});
