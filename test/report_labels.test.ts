/**
 * Words that depend on the architecture or on a convention's arithmetic: the FFN's matrices in
 * a component's name, the non-matmul work a FLOP count leaves out, and what "half" of the
 * attention core counts.
 */
import { describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli_runner.js';

describe('matmul component names follow the architecture', () => {
  it('names a GELU MLP by its two matrices, with its FLOPs from the closed form', async () => {
    const result = await cli('flops', 'gpt2-small', '--ffn', 'gelu', '--positions', 'learned', '--norm', 'layernorm');
    expect(result.code).toBe(0);
    // Two matrices per layer, x @ W1 and h @ W2: 2 * (2*T*d*F) * L at T = 1024, d = 768, F = 3072, L = 12.
    const ffn = (2n * (2n * 1024n * 768n * 3072n) * 12n).toLocaleString('en-US');
    expect(result.stdout).toMatch(new RegExp(`│ FFN \\(w1, w2\\) +│ +${ffn} │`));
    expect(result.stdout).not.toContain('w3');
    // GPT-2's architecture has no RoPE and no SiLU; its activation is GELU.
    expect(result.stdout).toContain('Matmuls only: norms, softmax and GELU are counted apart, from a trace.');
  });

  it('keeps the three SwiGLU matrices and RoPE for a Llama-style preset', async () => {
    const result = await cli('flops', 'gpt2-xl');
    expect(result.stdout).toContain('│ FFN (w1, w3, w2) ');
    expect(result.stdout).toContain('Matmuls only: norms, softmax, RoPE and SiLU are counted apart, from a trace.');
  });

  it('uses the plain name when the compared models differ, and lists both activations', async () => {
    const result = await cli('compare', 'gpt2-small', 'gpt2-original-small');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('│ share: FFN ');
    expect(result.stdout).not.toContain('w1');
    expect(result.stdout).toContain('norms, softmax, RoPE, SiLU and GELU are counted apart');
  });

  it('names the GELU FFN in a verification and its non-matmul estimate', async () => {
    const result = await cli('verify', 'tiny', '--ffn', 'gelu', '--backend', 'meta', '--seq', '8');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('│ FFN (w1, w2) ');
    expect(result.stdout).toContain('(RMSNorm, RoPE, scale and causal mask, softmax, GELU, residual adds)');
  });

  it('names the GELU FFN in the training step', async () => {
    const result = await cli('train', 'tiny', '--ffn', 'gelu');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('│ FFN (w1, w2) ');
    expect(result.stdout).not.toContain('w3');
  });
});

describe('the "half" attention convention', () => {
  it('is the causal triangle less half its diagonal, and says so', async () => {
    // tiny: L = 2, d = 64; at T = 4 the kernels compute every score: 4*L*d*T^2.
    const json = await cliJson('flops', 'tiny', '--conventions', '--seq', '4');
    const [L, d, T] = [2n, 64n, 4n];
    const full = 4n * L * d * T * T;
    const withDiagonal = 2n * L * d * T * (T + 1n); // T(T+1)/2 scores per head, for scores and for P @ v
    const withoutDiagonal = 2n * L * d * T * (T - 1n); // T(T-1)/2
    const diagonal = withDiagonal - withoutDiagonal; // T scores per head: 4*L*d*T
    expect(diagonal).toBe(4n * L * d * T);
    // One 64-block holds all 4 positions, so blocked computes every score, as dense does.
    expect(json.attention_core).toEqual({
      full: full.toString(),
      causal_triangle: withDiagonal.toString(),
      half: (full / 2n).toString(),
      useful: withDiagonal.toString(),
      blocked: { block: 64, flops: full.toString() },
      counted: 'dense',
    });
    // T^2/2 sits exactly half a diagonal below the triangle with its diagonal, and as far above the one without.
    expect(full / 2n).toBe(withDiagonal - diagonal / 2n);
    expect(full / 2n).toBe(withoutDiagonal + diagonal / 2n);
    const half = json.counts.find((count: { convention: string }) => count.convention === 'attention_half');
    expect(half.note).toBe(
      'attention core halved: 2*L*B*d*T^2, T^2/2 scores per head: the causal triangle T(T+1)/2 less half its diagonal',
    );
    expect(half.note).not.toContain('minus its diagonal');
  });
});
