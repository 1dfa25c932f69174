import { describe, expect, it } from 'vitest';
import { summarizeParameters } from '../src/analytic/index.js';
import { architectureOf, loadModelConfig, type ModelConfig } from '../src/config/index.js';

/**
 * The presets of the dense models people use now (Qwen2.5, Qwen3, Gemma 2, Phi-3, Llama 3.1):
 * each parameter count against the number its authors publish, and against a closed form
 * written here from the published hyperparameters (not read from the preset file), so the test
 * checks the preset, the inventory and the arithmetic separately. The hyperparameters are the
 * hub config.json values (test/fixtures/hf/, models/SOURCES.md) as transformers builds them
 * (/work notes: configuration_*.py and modeling_*.py of each model type).
 */

interface Dense {
  readonly V: bigint;
  readonly L: bigint;
  readonly d: bigint;
  readonly H: bigint;
  readonly kv: bigint;
  /** Head width: head_dim, or d / H. */
  readonly dh: bigint;
  readonly F: bigint;
  readonly tied: boolean;
  /** Biases on q, k and v (Qwen2). */
  readonly qkvBias?: boolean;
  /** RMSNorm gains [dh] on q and k (Qwen3). */
  readonly qkNorm?: boolean;
  /** Four norms per layer (Gemma 2: input, post-attention, pre-FFN, post-FFN). */
  readonly postNorms?: boolean;
}

/**
 * Per layer: q [d, H dh] and o [H dh, d], k and v [d, kv dh] each (a fused qkv_proj holds the
 * same elements), + q/k/v biases H dh + 2 kv dh, + q/k norms 2 dh; three FFN matrices 3 d F (a
 * fused gate_up_proj [d, 2F] and w2 hold the same); 2 norm gains of d, or 4 with post-norms.
 * Plus the token table V d, an untied lm_head V d, and the final norm d.
 */
function denseClosedForm(m: Dense): bigint {
  const q = m.H * m.dh;
  const kv = m.kv * m.dh;
  const attention =
    2n * m.d * q + 2n * m.d * kv + (m.qkvBias === true ? q + 2n * kv : 0n) + (m.qkNorm === true ? 2n * m.dh : 0n);
  const ffn = 3n * m.d * m.F;
  const norms = (m.postNorms === true ? 4n : 2n) * m.d;
  return m.V * m.d * (m.tied ? 1n : 2n) + m.L * (attention + ffn + norms) + m.d;
}

/** A count in billions to two decimals, as model cards round it ("7.61B"). */
function billions(count: bigint, decimals: number): string {
  return (Number(count) / 1e9).toFixed(decimals);
}

/**
 * Whether `count` is the figure a card states, "7.61B" or "405B", to within one unit of its last
 * digit: cards round some figures and cut others (Qwen2.5-7B's 7.6156B reads "7.61B", its
 * 6.5256B non-embedding "6.53B"; Llama's 70.55B is "70B").
 */
function statedAs(count: bigint, figure: string): boolean {
  const decimals = figure.includes('.') ? figure.split('.')[1]!.length : 0;
  return Math.abs(Number(count) / 1e9 - Number(figure)) <= 10 ** -decimals;
}

interface Published {
  readonly preset: string;
  readonly fixture: string;
  readonly source: string;
  readonly model: Dense;
  /** The exact total, when one is published (a checkpoint's tensor sizes, or a count of that checkpoint). */
  readonly exact?: bigint;
  /** The authors' stated figure in billions, as written: "7.61", "405". */
  readonly stated: string;
}

const CASES: readonly Published[] = [
  {
    preset: 'qwen2.5-0.5b',
    fixture: 'Qwen2.5-0.5B.json',
    // Model card of huggingface.co/Qwen/Qwen2.5-0.5B: "Number of Parameters: 0.49B", "Number of
    // Paramaters (Non-Embedding): 0.36B". Exact: 494,032,768, the count keras-hub publishes for
    // the same checkpoint (keras-team/keras-hub qwen_presets.py "qwen2.5_0.5b_en": "params": 494032768).
    source: 'huggingface.co/Qwen/Qwen2.5-0.5B model card; keras-hub qwen2.5_0.5b_en',
    model: { V: 151936n, L: 24n, d: 896n, H: 14n, kv: 2n, dh: 64n, F: 4864n, tied: true, qkvBias: true },
    exact: 494_032_768n,
    stated: '0.49',
  },
  {
    preset: 'qwen2.5-7b',
    fixture: 'Qwen2.5-7B.json',
    // Card of huggingface.co/Qwen/Qwen2.5-7B: "Number of Parameters: 7.61B", "(Non-Embedding): 6.53B";
    // the checkpoint's model.safetensors.index.json "total_size": 15231233024 bytes of bf16 = 7,615,616,512.
    source: 'huggingface.co/Qwen/Qwen2.5-7B model card and checkpoint index',
    model: { V: 152064n, L: 28n, d: 3584n, H: 28n, kv: 4n, dh: 128n, F: 18944n, tied: false, qkvBias: true },
    exact: 7_615_616_512n,
    stated: '7.61',
  },
  {
    preset: 'qwen3-8b',
    fixture: 'Qwen3-8B.json',
    // Card of huggingface.co/Qwen/Qwen3-8B: "Number of Parameters: 8.2B"; the checkpoint index's
    // "total_size": 16381470720 bytes of bf16 = 8,190,735,360 (also keras-hub's qwen3_8b_en).
    source: 'huggingface.co/Qwen/Qwen3-8B model card and checkpoint index',
    model: { V: 151936n, L: 36n, d: 4096n, H: 32n, kv: 8n, dh: 128n, F: 12288n, tied: false, qkNorm: true },
    exact: 8_190_735_360n,
    stated: '8.2',
  },
  {
    preset: 'phi-3-mini-4k',
    fixture: 'Phi-3-mini-4k-instruct.json',
    // Card of huggingface.co/microsoft/Phi-3-mini-4k-instruct: "a 3.8B parameters, lightweight,
    // state-of-the-art open model"; exact 3,821,079,552, keras-hub's count of the checkpoint
    // (phi3_presets.py "phi3_mini_4k_instruct_en": "params": 3821079552).
    source: 'huggingface.co/microsoft/Phi-3-mini-4k-instruct model card; keras-hub phi3_mini_4k_instruct_en',
    model: { V: 32064n, L: 32n, d: 3072n, H: 32n, kv: 32n, dh: 96n, F: 8192n, tied: false },
    exact: 3_821_079_552n,
    stated: '3.8',
  },
  {
    preset: 'llama-3.1-8b',
    fixture: 'Llama-3.1-8B.json',
    // Llama 3.1 model card (meta-llama/Llama-3.1-8B): "8B"; the checkpoint index's "total_size":
    // 16060522496 bytes of bf16 = 8,030,261,248.
    source: 'huggingface.co/meta-llama/Llama-3.1-8B model card and checkpoint index',
    model: { V: 128256n, L: 32n, d: 4096n, H: 32n, kv: 8n, dh: 128n, F: 14336n, tied: false },
    exact: 8_030_261_248n,
    stated: '8',
  },
  {
    preset: 'llama-3.1-70b',
    fixture: 'Llama-3.1-70B.json',
    // Llama 3.1 model card: "70B"; the checkpoint index's "total_size": 141107412992 bytes of bf16.
    source: 'huggingface.co/meta-llama/Llama-3.1-70B model card and checkpoint index',
    model: { V: 128256n, L: 80n, d: 8192n, H: 64n, kv: 8n, dh: 128n, F: 28672n, tied: false },
    exact: 70_553_706_496n,
    stated: '70',
  },
  {
    preset: 'llama-3.1-405b',
    fixture: 'Llama-3.1-405B.json',
    // Llama 3.1 model card: "405B". No exact total is published; the count must round to it.
    source: 'huggingface.co/meta-llama/Llama-3.1-405B model card',
    model: { V: 128256n, L: 126n, d: 16384n, H: 128n, kv: 8n, dh: 128n, F: 53248n, tied: false },
    stated: '405',
  },
];

describe('the newer dense presets against their published parameter counts', () => {
  for (const { preset, fixture, source, model, exact, stated } of CASES) {
    it(`${preset}: ${exact ?? `about ${stated}B`} parameters (${source})`, () => {
      const config = loadModelConfig(preset);
      const total = summarizeParameters(config).total;
      expect(total).toBe(denseClosedForm(model));
      if (exact !== undefined) expect(total).toBe(exact);
      expect(statedAs(total, stated), `${total} as the stated ${stated}B`).toBe(true);
      // The hub config.json describes the same model, read as transformers reads it.
      expect(summarizeParameters(loadModelConfig(`test/fixtures/hf/${fixture}`)).total).toBe(total);
    });
  }

  it("Meta's rounded names: 70B is 70.55 billion, 405B is 405.85 billion", () => {
    // The cards name the models by their size class, not by rounding: 70.55B is "70B", 405.85B "405B".
    expect(billions(summarizeParameters(loadModelConfig('llama-3.1-70b')).total, 2)).toBe('70.55');
    expect(billions(summarizeParameters(loadModelConfig('llama-3.1-405b')).total, 2)).toBe('405.85');
  });

  it("Qwen's non-embedding counts leave out the token table and an untied lm_head: 0.36B and 6.53B", () => {
    // Qwen2.5-0.5B (tied): 494,032,768 - 151,936 x 896 = 357,898,112. Qwen2.5-7B (untied):
    // 7,615,616,512 - 2 x 152,064 x 3,584 = 6,525,621,760.
    const small = summarizeParameters(loadModelConfig('qwen2.5-0.5b'));
    expect(small.nonEmbedding).toBe(357_898_112n);
    expect(statedAs(small.nonEmbedding, '0.36')).toBe(true);
    const large = summarizeParameters(loadModelConfig('qwen2.5-7b'));
    expect(large.nonEmbedding - large.byComponent.lm_head).toBe(6_525_621_760n);
    expect(statedAs(large.nonEmbedding - large.byComponent.lm_head, '6.53')).toBe(true);
  });

  it('Qwen2.5 has biases on q, k and v only; Qwen3 norms q and k per head', () => {
    // Qwen2.5-7B: per layer q 3584 + k 512 + v 512 = 4,608 bias values; no o_proj or MLP bias.
    const qwen25 = summarizeParameters(loadModelConfig('qwen2.5-7b'));
    const biases = qwen25.rows.filter((row) => row.name === 'bias');
    expect(biases.filter((row) => row.path.startsWith('layers.0.')).map((row) => [row.path, row.count])).toEqual([
      ['layers.0.attn.q_proj', 3584n],
      ['layers.0.attn.k_proj', 512n],
      ['layers.0.attn.v_proj', 512n],
    ]);
    expect(biases).toHaveLength(3 * 28);
    // Qwen3-8B: q_norm and k_norm, one gain of head_dim 128 each, in the norms' component.
    const qwen3 = summarizeParameters(loadModelConfig('qwen3-8b'));
    const norms = qwen3.rows.filter((row) => /^layers\.0\.attn\.[qk]_norm$/.test(row.path));
    expect(norms.map((row) => [row.path, row.shape])).toEqual([
      ['layers.0.attn.q_norm', [128]],
      ['layers.0.attn.k_norm', [128]],
    ]);
    expect(qwen3.byComponent.norms).toBe(36n * (2n * 4096n + 2n * 128n) + 4096n);
  });
});

describe('Gemma 2 against its report (arXiv 2408.00118, Table 2)', () => {
  /** The embedding table of Table 2: 256,128 rows, the padded vocabulary the paper counts. */
  const PAPER_VOCABULARY = 256128;
  const cases: readonly [string, string, Dense, bigint, bigint, bigint][] = [
    // 2B: embedding 590,118,912, non-embedding 2,024,517,888; the hub checkpoint (vocab 256,000) 2,614,341,888.
    [
      'gemma-2-2b',
      'Gemma-2-2B.json',
      { V: 256000n, L: 26n, d: 2304n, H: 8n, kv: 4n, dh: 256n, F: 9216n, tied: true, postNorms: true },
      590_118_912n,
      2_024_517_888n,
      2_614_341_888n,
    ],
    // 9B: embedding 917,962,752, non-embedding 8,324,201,984; the hub checkpoint 9,241,705,984.
    [
      'gemma-2-9b',
      'Gemma-2-9B.json',
      { V: 256000n, L: 42n, d: 3584n, H: 16n, kv: 8n, dh: 256n, F: 14336n, tied: true, postNorms: true },
      917_962_752n,
      8_324_201_984n,
      9_241_705_984n,
    ],
  ];
  it.each(cases)(
    '%s: the layers and final norm, and the table',
    (preset, fixture, model, embedding, nonEmbedding, hub) => {
      const config = loadModelConfig(preset);
      const summary = summarizeParameters(config);
      // Table 2's non-embedding parameters are the layers plus the final norm: with the tied table
      // excluded, exactly flopledger's non-embedding count.
      expect(summary.nonEmbedding).toBe(nonEmbedding);
      expect(summary.total).toBe(denseClosedForm(model));
      expect(summary.total).toBe(hub);
      // head_dim 256 is not d / H (2304 / 8 = 288, 3584 / 16 = 224): q is H x 256 wide.
      expect(architectureOf(config).q_dim).toBe(Number(model.H) * 256);
      // The paper's table has 256,128 rows.
      const paperTable: ModelConfig = { ...config, vocab_size: PAPER_VOCABULARY };
      expect(summarizeParameters(paperTable).byComponent.token_embeddings).toBe(embedding);
      expect(summarizeParameters(loadModelConfig(`test/fixtures/hf/${fixture}`)).total).toBe(hub);
    },
  );
});
