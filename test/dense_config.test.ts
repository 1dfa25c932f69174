/**
 * The flopledger config keys of the newer dense architectures: what each means (read through
 * architectureOf), every new validation message word for word, and the bias shorthand against
 * the three bias groups, in a file and through the --bias flag.
 */
import { describe, expect, it } from 'vitest';
import { summarizeParameters } from '../src/analytic/parameters.js';
import { architectureOf, loadModelConfig, parseModelConfig } from '../src/config/index.js';
import { inputError } from './helpers/input_error.js';

/** A valid Llama-shaped config (d 4096, 32 heads) with some fields replaced. */
function llamaWith(changes: Record<string, unknown>): Record<string, unknown> {
  return {
    vocab_size: 32000,
    context_length: 4096,
    num_layers: 32,
    d_model: 4096,
    num_heads: 32,
    d_ff: 11008,
    ...changes,
  };
}

const problems = (raw: Record<string, unknown>) => inputError(() => parseModelConfig(raw, 'x.json', 'x')).problems;

describe('the newer dense keys in a config file', () => {
  it('head_dim of its own sets the widths of q, k, v and the attention output, not d_model', () => {
    const config = parseModelConfig(llamaWith({ d_model: 5120, num_kv_heads: 8, head_dim: 128 }), 'x.json', 'x');
    expect(architectureOf(config)).toMatchObject({ head_dim: 128, q_dim: 4096, kv_dim: 1024 });
    // d_model need not split into the heads when the head width is given (5120 / 32 = 160).
    expect(config.d_model).toBe(5120);
  });

  it('the bias shorthand and the three groups: a group given overrides the shorthand', () => {
    const of = (changes: Record<string, unknown>) =>
      architectureOf(parseModelConfig(llamaWith(changes), 'x.json', 'x'));
    expect(of({ bias: true })).toMatchObject({ qkv_bias: true, output_bias: true, mlp_bias: true, bias: true });
    expect(of({ qkv_bias: true })).toMatchObject({ qkv_bias: true, output_bias: false, mlp_bias: false, bias: false });
    expect(of({ bias: true, mlp_bias: false })).toMatchObject({ qkv_bias: true, output_bias: true, mlp_bias: false });
    expect(of({ qkv_bias: true }).any_bias).toBe(true);
  });

  it('refuses what would describe another model, one line each with the fix', () => {
    expect(problems(llamaWith({ head_dim: 127 }))).toEqual([
      'x.json: head_dim (127) must be even because RoPE rotates pairs of features; fix: use 126 or 128',
    ]);
    // Learned positions rotate nothing: an odd head width is fine.
    expect(parseModelConfig(llamaWith({ head_dim: 127, positions: 'learned' }), 'x.json', 'x').head_dim).toBe(127);
    expect(problems(llamaWith({ ffn: 'gelu', fused_gate_up: true }))).toEqual([
      'x.json: fused_gate_up (true) joins W1 and W3, but ffn "gelu" is the two-matrix MLP with no W3; fix: use ffn ' +
        '"swiglu" or "geglu", or remove fused_gate_up',
    ]);
    expect(problems(llamaWith({ attn_softcap: -50 }))).toEqual([
      'x.json: attn_softcap (-50) must be a positive number; fix: use e.g. 50 (Gemma 2), or remove the key for no cap',
    ]);
    expect(problems(llamaWith({ final_softcap: '30' }))).toEqual([
      'x.json: final_softcap ("30") must be a positive number; fix: write 30 without quotes',
    ]);
    expect(problems(llamaWith({ head_dim: 0 }))).toEqual([
      'x.json: head_dim (0) must be a positive integer; fix: use a value of at least 1, e.g. 128',
    ]);
    expect(problems(llamaWith({ qk_norm: 'yes' }))).toEqual([
      'x.json: qk_norm ("yes") must be true or false; fix: use true or false',
    ]);
  });

  it("suggests the key for another tool's name", () => {
    expect(problems(llamaWith({ attn_logit_softcapping: 50 }))).toEqual([
      'x.json: unknown key "attn_logit_softcapping": did you mean "attn_softcap"?',
    ]);
    expect(problems(llamaWith({ use_qk_norm: true }))).toEqual([
      'x.json: unknown key "use_qk_norm": did you mean "qk_norm"?',
    ]);
    expect(problems(llamaWith({ attention_bias: true }))).toEqual([
      'x.json: unknown key "attention_bias": did you mean "qkv_bias"?',
    ]);
  });
});

describe('--bias and --no-bias on a model with bias groups', () => {
  it('set all three groups, replacing what the preset said of each', () => {
    // Qwen2.5-7B has biases on q, k and v only: per layer 3584 + 512 + 512 = 4,608.
    const base = loadModelConfig('qwen2.5-7b');
    const none = loadModelConfig('qwen2.5-7b', { bias: false });
    expect(architectureOf(none)).toMatchObject({ qkv_bias: false, output_bias: false, mlp_bias: false });
    expect(summarizeParameters(base).total - summarizeParameters(none).total).toBe(28n * 4_608n);
    expect(none.variant).toBe('bias=false');
    const all = loadModelConfig('qwen2.5-7b', { bias: true });
    expect(architectureOf(all).bias).toBe(true);
    // o_proj 3584, gate and up 18944 each, down 3584 more per layer than the q/k/v biases alone.
    expect(summarizeParameters(all).total - summarizeParameters(base).total).toBe(28n * (3584n + 2n * 18944n + 3584n));
    expect(all.variant).toBe('bias=true');
  });
});
