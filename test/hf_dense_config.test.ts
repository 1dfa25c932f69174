/**
 * The Hugging Face model types of the newer dense models (qwen2, qwen3, phi3, gemma2,
 * gemma3_text) read as their transformers classes read them. Each test cites the source it
 * follows: the config class (transformers/models/<type>/configuration_<type>.py) for defaults,
 * the modeling file for what builds a weight.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { summarizeParameters } from '../src/analytic/parameters.js';
import { architectureOf, parseHuggingFaceConfig, type ModelConfig } from '../src/config/index.js';
import { inputErrorWithoutStack as inputError } from './helpers/input_error.js';

const fixtureJson = (file: string) =>
  JSON.parse(readFileSync(`test/fixtures/hf/${file}`, 'utf8')) as Record<string, unknown>;

function readEdited(file: string, changes: Record<string, unknown>): ModelConfig {
  const raw = { ...fixtureJson(file), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete raw[key];
  return parseHuggingFaceConfig(raw, 'config.json', 'edited');
}

const notesOf = (config: ModelConfig) => config.notes ?? [];

describe('qwen2 and qwen3', () => {
  it('Qwen2: biases on q, k and v_proj whatever attention_bias says; none on o_proj or the MLP', () => {
    // modeling_qwen2.py Qwen2Attention: q/k/v_proj bias=True, o_proj bias=False; Qwen2MLP bias=False.
    for (const attention_bias of [undefined, false, true]) {
      const config = readEdited('Qwen2.5-7B.json', { attention_bias });
      expect(architectureOf(config)).toMatchObject({ qkv_bias: true, output_bias: false, mlp_bias: false });
    }
    expect(notesOf(readEdited('Qwen2.5-7B.json', { attention_bias: true })).join('\n')).toContain(
      'attention_bias (Qwen2Model builds biases on q, k and v_proj whatever it says)',
    );
  });

  it('Qwen2: head_dim read with getattr when the file has it', () => {
    // Qwen2Attention: self.head_dim = getattr(config, "head_dim", hidden_size // num_attention_heads).
    expect(architectureOf(readEdited('Qwen2.5-7B.json', {})).head_dim).toBe(128);
    expect(architectureOf(readEdited('Qwen2.5-7B.json', { head_dim: 64 })).q_dim).toBe(28 * 64);
  });

  it('Qwen3: head_dim 128 and q/k norms by default; attention_bias on all four projections', () => {
    // configuration_qwen3.py: head_dim=128, attention_bias=False; modeling_qwen3.py: q_norm, k_norm
    // = Qwen3RMSNorm(head_dim); q/k/v/o_proj bias=config.attention_bias.
    const bare = parseHuggingFaceConfig({ model_type: 'qwen3' }, 'config.json', 'bare');
    expect(architectureOf(bare)).toMatchObject({ head_dim: 128, qk_norm: true, bias: false });
    expect(notesOf(bare)[0]).toContain('head_dim 128');
    const biased = readEdited('Qwen3-8B.json', { attention_bias: true });
    expect(architectureOf(biased)).toMatchObject({ qkv_bias: true, output_bias: true, mlp_bias: false });
    // Per layer: q 4096 + k 1024 + v 1024 + o 4096 = 10,240 bias values.
    expect(summarizeParameters(biased).total - summarizeParameters(readEdited('Qwen3-8B.json', {})).total).toBe(
      36n * 10_240n,
    );
  });
});

describe('phi3', () => {
  it('fused qkv_proj and gate_up_proj, no biases; head_dim by getattr', () => {
    // modular_phi3.py: qkv_proj = Linear(hidden, H*hd + 2*Hkv*hd, bias=False); Phi3MLP.gate_up_proj
    // = Linear(hidden, 2 * intermediate, bias=False).
    const config = readEdited('Phi-3-mini-4k-instruct.json', {});
    expect(architectureOf(config)).toMatchObject({ fused_qkv: true, fused_gate_up: true, bias: false, head_dim: 96 });
    const rows = summarizeParameters(config).rows.filter((row) => row.path.startsWith('layers.0.'));
    expect(rows.map((row) => [row.path, row.shape])).toEqual([
      ['layers.0.ln1', [3072]],
      ['layers.0.attn.qkv_proj', [3072, 9216]],
      ['layers.0.attn.output_proj', [3072, 3072]],
      ['layers.0.ln2', [3072]],
      ['layers.0.ffn.gate_up_proj', [3072, 16384]],
      ['layers.0.ffn.w2', [8192, 3072]],
    ]);
  });

  it('partial_rotary_factor below 1: refused, flopledger rotates whole heads', () => {
    // Phi3Config: partial_rotary_factor (default 1.0) sets the rotated share of each head.
    expect(
      inputError(() => readEdited('Phi-3-mini-4k-instruct.json', { partial_rotary_factor: 0.5 })).problems,
    ).toEqual([
      'config.json: partial_rotary_factor (0.5) rotates only part of each head, which flopledger does not model ' +
        '(it rotates whole heads); fix: remove it if the model rotates whole heads (1.0)',
    ]);
    expect(readEdited('Phi-3-mini-4k-instruct.json', { partial_rotary_factor: 1 }).fused_qkv).toBe(true);
  });
});

describe('gemma2 and gemma3_text', () => {
  it('Gemma 2: GeGLU, scaled embeddings, (1 + w) norms, post-norms, caps 50 and 30, tied, by default', () => {
    // configuration_gemma2.py: head_dim=256, hidden_activation="gelu_pytorch_tanh",
    // tie_word_embeddings=True, final_logit_softcapping=30.0, attn_logit_softcapping=50.0.
    const bare = parseHuggingFaceConfig({ model_type: 'gemma2' }, 'config.json', 'bare');
    expect(architectureOf(bare)).toMatchObject({
      ffn: 'geglu',
      head_dim: 256,
      tie_embeddings: true,
      scale_embeddings: true,
      zero_centered_gain: true,
      post_norms: true,
      attn_softcap: 50,
      final_softcap: 30,
      qk_norm: false,
    });
    expect(bare).toMatchObject({ vocab_size: 256000, d_model: 2304, num_layers: 26, context_length: 8192 });
    // A null cap turns it off, as Gemma2ForCausalLM's `if ... is not None` does.
    const uncapped = readEdited('Gemma-2-2B.json', { final_logit_softcapping: null, attn_logit_softcapping: null });
    expect(architectureOf(uncapped)).toMatchObject({ attn_softcap: undefined, final_softcap: undefined });
  });

  it('Gemma 3 (text): q/k norms, no caps, vocab 262,208 and RoPE base 1,000,000 by default', () => {
    // configuration_gemma3.py Gemma3TextConfig: vocab_size=262_208, max_position_embeddings=131_072,
    // rope_theta=1_000_000, final_logit_softcapping=None, attn_logit_softcapping=None;
    // modeling_gemma3.py: q_norm, k_norm = Gemma3RMSNorm(head_dim).
    const bare = parseHuggingFaceConfig({ model_type: 'gemma3_text' }, 'config.json', 'bare');
    expect(architectureOf(bare)).toMatchObject({
      qk_norm: true,
      attn_softcap: undefined,
      final_softcap: undefined,
      rope_theta: 1_000_000,
      ffn: 'geglu',
    });
    expect(bare).toMatchObject({ vocab_size: 262208, context_length: 131072 });
    expect(notesOf(bare)[0]).toContain('final_logit_softcapping None, attn_logit_softcapping None');
    const local = parseHuggingFaceConfig({ model_type: 'gemma3_text', rope_local_base_freq: 10000 }, 'c.json', 'c');
    expect(notesOf(local).join('\n')).toContain('rope_local_base_freq (RoPE base of the sliding layers: no count)');
  });

  it('Gemma 3 with its vision tower: refused, with the way to its text model', () => {
    expect(inputError(() => parseHuggingFaceConfig({ model_type: 'gemma3' }, 'config.json', 'g')).problems).toEqual([
      'config.json: model_type "gemma3" is Gemma 3 with its vision tower, which flopledger does not model; its text ' +
        'model is counted from the text_config object saved as a file of its own with "model_type": "gemma3_text"',
    ]);
  });

  it('hidden_activation decides the gate; hidden_act is ignored, as Gemma2MLP reads only the first', () => {
    // modular_gemma2.py Gemma2MLP: self.act_fn = ACT2FN[config.hidden_activation].
    expect(readEdited('Gemma-2-2B.json', { hidden_act: 'silu' }).ffn).toBe('geglu');
    expect(inputError(() => readEdited('Gemma-2-2B.json', { hidden_activation: 'relu' })).problems).toEqual([
      'config.json: hidden_activation ("relu") is not supported: flopledger\'s GeGLU MLP gates with GELU\'s tanh ' +
        'approximation; fix: use "gelu_pytorch_tanh" or "gelu_new" (absent means "gelu_pytorch_tanh")',
    ]);
  });

  it('query_pre_attn_scalar other than head_dim: a remark, no count changes', () => {
    // Gemma2Attention: self.scaling = config.query_pre_attn_scalar**-0.5 (224 at the 9B's release).
    const config = readEdited('Gemma-2-9B.json', { query_pre_attn_scalar: 224 });
    expect(notesOf(config).join('\n')).toContain(
      'query_pre_attn_scalar (scores scaled by 1/sqrt(224) in the model, by 1/sqrt(head_dim 256) here: the same count)',
    );
    expect(summarizeParameters(config).total).toBe(9_241_705_984n);
  });
});
