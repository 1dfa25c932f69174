import { describe, expect, it } from 'vitest';
import { cli } from './helpers/cli_runner.js';

/**
 * The newer components named in every breakdown: the parameter report (components and every
 * weight), the FLOP report (components), the trace (module paths) and the verification (matmul
 * rows and the note on the non-matmul work), for the presets that have them.
 */
async function table(...argv: string[]): Promise<string> {
  const { code, stdout, stderr } = await cli(...argv);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return stdout;
}

describe('reports name the newer components', () => {
  it('params: q/k norms and post-norms among the norms, fused projections among the weights', async () => {
    expect(await table('params', 'qwen3-8b', '--depth', '1')).toContain('│ RMSNorm gains (with q/k norms)');
    expect(await table('params', 'gemma-2-2b', '--depth', '1')).toContain('│ RMSNorm gains (with post-norms)');
    const phi = await table('params', 'phi-3-mini-4k', '--depth', '3');
    expect(phi).toContain('│ attention (Wqkv, Wo)');
    expect(phi).toContain('│ FFN (W2, Wgate_up)');
    expect(phi).toMatch(/│ layers\.0\.attn\.qkv_proj +│ weight │ +\[3072, 9216\] │ +28,311,552 │/);
    expect(phi).toMatch(/│ layers\.0\.ffn\.gate_up_proj +│ weight │ +\[3072, 16384\] │ +50,331,648 │/);
    const qwen3 = await table('params', 'qwen3-8b', '--depth', '3');
    expect(qwen3).toMatch(/│ layers\.0\.attn\.q_norm +│ gain +│ +\[128\] │ +128 │/);
    expect(qwen3).toMatch(/│ layers\.0\.attn\.k_norm +│ gain +│ +\[128\] │ +128 │/);
    const gemma = await table('params', 'gemma-2-2b', '--depth', '3');
    expect(gemma).toMatch(/│ layers\.0\.post_attn_norm +│ gain +│ +\[2304\] │ +2,304 │/);
    expect(gemma).toMatch(/│ layers\.0\.post_ffn_norm +│ gain +│ +\[2304\] │ +2,304 │/);
    const qwen25 = await table('params', 'qwen2.5-7b', '--depth', '1');
    expect(qwen25).toContain('│ attention (Wq, Wk, Wv, Wo) and biases');
    expect(qwen25).toMatch(/│ FFN \(W1, W2, W3\) +│/);
  });

  it('flops: the fused matmuls by name, the non-matmul components in the conventions', async () => {
    const phi = await table('flops', 'phi-3-mini-4k', '--seq', '16');
    expect(phi).toContain('│ attention projections (qkv, output)');
    expect(phi).toContain('│ FFN (gate_up, w2)');
    expect(await table('flops', 'gemma-2-2b', '--seq', '16')).toContain(
      'Matmuls only: norms, post-norms, softmax, RoPE, GELU, soft-caps and the embedding scale are counted apart',
    );
    expect(await table('flops', 'qwen3-8b', '--seq', '16')).toContain(
      'Matmuls only: norms, q/k norms, softmax, RoPE and SiLU',
    );
  });

  it('trace and verify: every new module path, and what the estimate checks', async () => {
    const trace = await table(
      'trace',
      'gemma-2-2b',
      '--layers',
      '1',
      '--seq',
      '8',
      '--backend',
      'meta',
      '--depth',
      '3',
    );
    for (const modulePath of [
      'embedding_scale',
      'layers.0.attn.softcap',
      'layers.0.post_attn_norm',
      'layers.0.post_ffn_norm',
      'layers.0.ffn.gelu',
      'layers.0.ffn.gate',
      'final_softcap',
    ]) {
      expect(trace).toMatch(new RegExp(`│ +\\d+ │ ${modulePath.replace(/\./g, '\\.')} +│`));
    }
    const verify = await table(
      'verify',
      'phi-3-mini-4k',
      '--layers',
      '1',
      '--seq',
      '8',
      '--backend',
      'meta',
      '--depth',
      '3',
    );
    expect(verify).toMatch(/│ layers\.0\.attn\.qkv_proj +│/);
    expect(verify).toMatch(/│ layers\.0\.ffn\.gate_up_proj +│/);
    expect(verify).toContain('verified: 7 of 7 matmuls match exactly'); // qkv, scores, weighted sum, output, gate_up, w2; lm_head
    const qwen3 = await table('verify', 'qwen3-8b', '--layers', '1', '--seq', '8', '--backend', 'meta', '--depth', '1');
    expect(qwen3).toContain('(RMSNorm, q/k norms, RoPE, scale and causal mask, softmax, SiLU, gate, residual adds)');
  });
});
