import { describe, expect, it } from 'vitest';
import { summarizeParameters } from '../src/analytic/index.js';
import { loadModelConfig } from '../src/config/index.js';

/**
 * Each preset's parameter count against the number its authors or its hub checkpoint publish,
 * and against a closed form written here from the published hyperparameters (not from the
 * preset file), so the test checks the preset, the inventory and the arithmetic separately.
 */

/**
 * GPT-2 as released (Radford et al. 2019, "Language Models are Unsupervised Multitask
 * Learners", Table 2; the original block): learned positions [ctx, d], LayerNorm with gain and
 * bias, biased linear layers, a GELU MLP of width 4d, lm_head tied to the token table and
 * without a bias. Per block: ln1 2d, q k v o 4(d^2 + d), ln2 2d, w1 4d^2 + 4d, w2 4d^2 + d,
 * i.e. 12d^2 + 13d; plus ln_final 2d.
 */
function gpt2OriginalClosedForm(V: bigint, ctx: bigint, L: bigint, d: bigint): bigint {
  return V * d + ctx * d + L * (12n * d * d + 13n * d) + 2n * d;
}

/**
 * The Llama family (Llama-2, Llama-3, Mistral, TinyLlama): untied token table and lm_head [V, d]
 * each, RMSNorm gains, no biases, SwiGLU of width F, k and v of width dkv = kv * d / H. Per
 * block: q and o 2d^2, k and v 2 d dkv, w1 w2 w3 3dF, two gains 2d; plus the final gain d.
 */
function llamaClosedForm(V: bigint, L: bigint, d: bigint, H: bigint, kv: bigint, F: bigint): bigint {
  const dkv = (kv * d) / H;
  return 2n * V * d + L * (2n * d * d + 2n * d * dkv + 3n * d * F + 2n * d) + d;
}

interface PublishedCount {
  readonly preset: string;
  /** Where the number and the hyperparameters come from. */
  readonly source: string;
  readonly published: bigint;
  readonly closedForm: bigint;
}

const CASES: readonly PublishedCount[] = [
  {
    preset: 'gpt2-original-small',
    // Hugging Face hub openai-community/gpt2 (formerly `gpt2`) config.json: vocab_size 50257,
    // n_positions 1024, n_layer 12, n_embd 768, n_head 12, tie_word_embeddings; the model card's
    // checkpoint holds 124,439,808 parameters (published as "117M" in Radford et al. 2019, Table 2,
    // a figure later corrected to 124M by OpenAI's gpt-2 repository).
    source: 'huggingface.co/openai-community/gpt2 config.json and checkpoint; Radford et al. 2019',
    published: 124_439_808n,
    closedForm: gpt2OriginalClosedForm(50257n, 1024n, 12n, 768n),
  },
  {
    preset: 'gpt2-original-medium',
    // Hugging Face hub openai-community/gpt2-medium config.json: n_layer 24, n_embd 1024, n_head 16
    // (vocab 50257, n_positions 1024, tied); checkpoint 354,823,168 parameters ("345M" in Table 2).
    source: 'huggingface.co/openai-community/gpt2-medium config.json and checkpoint; Radford et al. 2019',
    published: 354_823_168n,
    closedForm: gpt2OriginalClosedForm(50257n, 1024n, 24n, 1024n),
  },
  {
    preset: 'gpt2-original-large',
    // Hugging Face hub openai-community/gpt2-large config.json: n_layer 36, n_embd 1280, n_head 20;
    // checkpoint 774,030,080 parameters ("762M" in Table 2).
    source: 'huggingface.co/openai-community/gpt2-large config.json and checkpoint; Radford et al. 2019',
    published: 774_030_080n,
    closedForm: gpt2OriginalClosedForm(50257n, 1024n, 36n, 1280n),
  },
  {
    preset: 'gpt2-original-xl',
    // Hugging Face hub openai-community/gpt2-xl config.json: n_layer 48, n_embd 1600, n_head 25;
    // checkpoint 1,557,611,200 parameters ("1542M" in Table 2).
    source: 'huggingface.co/openai-community/gpt2-xl config.json and checkpoint; Radford et al. 2019',
    published: 1_557_611_200n,
    closedForm: gpt2OriginalClosedForm(50257n, 1024n, 48n, 1600n),
  },
  {
    preset: 'llama-2-7b',
    // Touvron et al. 2023, "Llama 2: Open Foundation and Fine-Tuned Chat Models" (7B); hub
    // meta-llama/Llama-2-7b-hf config.json: vocab_size 32000, hidden_size 4096, num_hidden_layers 32,
    // num_attention_heads 32, num_key_value_heads 32, intermediate_size 11008,
    // max_position_embeddings 4096, rms_norm, tie_word_embeddings false; 6,738,415,616 parameters.
    source: 'huggingface.co/meta-llama/Llama-2-7b-hf config.json and model card; Touvron et al. 2023',
    published: 6_738_415_616n,
    closedForm: llamaClosedForm(32000n, 32n, 4096n, 32n, 32n, 11008n),
  },
  {
    preset: 'llama-3-8b',
    // Hub meta-llama/Meta-Llama-3-8B config.json: vocab_size 128256, hidden_size 4096,
    // num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8, intermediate_size 14336,
    // max_position_embeddings 8192, rope_theta 500000, untied; 8,030,261,248 parameters ("8.03B").
    source: 'huggingface.co/meta-llama/Meta-Llama-3-8B config.json and model card',
    published: 8_030_261_248n,
    closedForm: llamaClosedForm(128256n, 32n, 4096n, 32n, 8n, 14336n),
  },
  {
    preset: 'mistral-7b',
    // Jiang et al. 2023, "Mistral 7B", Table 1; hub mistralai/Mistral-7B-v0.1 config.json:
    // vocab_size 32000, hidden_size 4096, num_hidden_layers 32, num_attention_heads 32,
    // num_key_value_heads 8, intermediate_size 14336, max_position_embeddings 32768, untied;
    // 7,241,732,096 parameters ("7.24B"). Its sliding_window (4096) limits which keys a query
    // attends to; it changes no parameter, and the dense count here computes every score.
    source: 'huggingface.co/mistralai/Mistral-7B-v0.1 config.json and model card; Jiang et al. 2023',
    published: 7_241_732_096n,
    closedForm: llamaClosedForm(32000n, 32n, 4096n, 32n, 8n, 14336n),
  },
  {
    preset: 'tinyllama-1.1b',
    // Zhang et al. 2024, "TinyLlama: An Open-Source Small Language Model"; hub
    // TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json: vocab_size 32000,
    // hidden_size 2048, num_hidden_layers 22, num_attention_heads 32, num_key_value_heads 4,
    // intermediate_size 5632, max_position_embeddings 2048, untied; 1,100,048,384 parameters.
    source: 'huggingface.co/TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json; Zhang et al. 2024',
    published: 1_100_048_384n,
    closedForm: llamaClosedForm(32000n, 22n, 2048n, 32n, 4n, 5632n),
  },
];

describe('preset parameter counts against published numbers', () => {
  for (const { preset, source, published, closedForm } of CASES) {
    it(`${preset}: ${published} parameters (${source})`, () => {
      expect(closedForm).toBe(published);
      expect(summarizeParameters(loadModelConfig(preset)).total).toBe(published);
    });
  }

  it("counts GPT-2 small's tied table once and leaves both embedding tables out of N without embeddings", () => {
    const summary = summarizeParameters(loadModelConfig('gpt2-original-small'));
    expect(summary.byComponent.token_embeddings).toBe(50257n * 768n); // 38,597,376
    expect(summary.byComponent.position_embeddings).toBe(1024n * 768n); // 786,432
    expect(summary.byComponent.lm_head).toBe(0n);
    // the well-known 85M non-embedding parameters of GPT-2 small: L(12d^2 + 13d) + 2d
    expect(summary.nonEmbedding).toBe(85_056_000n);
    expect(summary.tiedEmbeddings).toBe(true);
    expect(summary.notes.join(' ')).toContain('counted once');
  });

  it("keeps Llama-2-7B's untied lm_head in N without embeddings", () => {
    const summary = summarizeParameters(loadModelConfig('llama-2-7b'));
    expect(summary.byComponent.lm_head).toBe(4096n * 32000n);
    expect(summary.nonEmbedding).toBe(6_738_415_616n - 4096n * 32000n);
    expect(summary.notes).toEqual([]);
  });
});
