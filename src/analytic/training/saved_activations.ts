import { blockOf } from '../../config/attention_schedule.js';
import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { layerWindow } from '../../config/windows.js';
import { blockedScores, denseScores } from '../attention_blocks.js';
import { dimensionSymbols } from '../dimension_symbols.js';
import {
  addPolynomials,
  evaluatePolynomial,
  monomial,
  perSequenceAt,
  scalePolynomial,
  type BatchSeqPolynomial,
} from './batch_seq_polynomial.js';

/**
 * Saved activations as reverse-mode autodiff keeps them: for each module, the tensors its
 * backward pass reads, held from the forward pass until that backward has run. Unlike the
 * course's table (training_memory.ts: one output per operation), a tensor is listed by who needs
 * it, and a tensor that several backward passes read is held, and counted, once.
 *
 * What each operation's backward needs (the gradient formulas, as PyTorch's autograd saves them):
 * - y = x W (+ b): dW = x^T dy needs the input x; dx = dy W^T needs only the weight (a
 *   parameter, not an activation); the bias needs nothing. q, k and v read the same normed
 *   input, so it is held once (likewise w1 and w3, and a fused projection's one input).
 * - RMSNorm y = g x rstd: the input x and rstd, one fp32 statistic per token ([B, T]); LayerNorm
 *   also its mean. The q/k norms normalise each head: one statistic per token and head.
 * - RoPE rotates by fixed cos/sin tables: its backward rotates back and needs no activation,
 *   only the tables. They are made once per pass and read by every layer, so they are held once
 *   per run, not per layer, and free of B ([T, dh] each, [T, dr] for latent attention): Hugging
 *   Face's LlamaModel.forward computes position_embeddings = rotary_emb(...) once and hands the
 *   same cos and sin to every layer, and the product q * cos saves cos for its backward
 *   (MulBackward0 keeps the other operand), so one cos and one sin stay alive until the backward
 *   pass has used them. They are the `perRun` group.
 * - q k^T: both operands, q and k after RoPE (after the q/k norms when there are none, RoPE).
 *   Grouped-query attention reads each key head for G query heads without copying it, so k
 *   and v are held at Hkv heads ([B, T, dkv]).
 * - scaling by 1/sqrt(dk) or by sqrt(d), and adding the mask: nothing. This model's mask is
 *   additive (0 or -Infinity, causal and windowed alike), so no mask is kept; a boolean
 *   masked_fill would keep one [T, T] per step. There is no dropout, so no dropout mask.
 * - softmax: its output P; P v needs P (the same tensor, held once) and v.
 * - a soft-cap c tanh(s / c): tanh's output, from which 1 - tanh^2 follows.
 * - SiLU and GELU: their input. A product u * w: both factors. So a gated FFN holds
 *   x W1, act(x W1), x W3 and their product (the input of w2); with gate/up fused, x W1 and x W3
 *   are the two halves of one [B, T, 2F] output, the same bytes.
 * - residual adds, the embedding's position add and scale: nothing. The embedding lookup needs
 *   the ids, an input of the step, not an activation (the loss's targets likewise).
 * - cross-entropy: its softmax over the vocabulary, in the loss dtype (dlogits = p - onehot).
 * Dtypes: activations in the working dtype (activationBytes), norm statistics always fp32, the
 * loss's softmax in lossBytes.
 *
 * Peak convention, as checkpointing.ts: what a block holds is held from its forward to its
 * backward; the final tensors until their backward, which comes first. All of it is alive at the
 * end of the forward pass, the peak of saved activations.
 *
 * Latent attention (DeepSeek's MLA, as transformers' DeepseekV3Attention computes it): q_down and
 * kv_down read the normed input (held once, as q, k and v do); each latent norm keeps its input
 * (the latent) and statistics, q_up and kv_up their normed latent; the splits and the broadcast of
 * the one rope key over the heads are views and keep nothing. The scores keep the joined q and k,
 * each [B, T, H dqk] (torch.cat's outputs: k_R is joined into every head), and P v keeps P and
 * v ([B, T, H dv]); output_proj keeps the weighted sum [B, T, H dv].
 *
 * A mixture-of-experts layer (moe.ts), whose N = B T tokens make k N routed rows whatever the
 * routing, so every tensor below is exact in B and T: the router's scores p [B, T, E] (softmax's
 * or sigmoid's output); the choice is not differentiable and keeps nothing; the gather of each
 * pick's p keeps its indices [B, T, k], and a renormalisation keeps the picked p [B, T, k] and
 * their sum [B, T] (a division keeps both operands); each expert's gather keeps the row indices,
 * its FFN keeps what a dense FFN keeps at its rows (its input being the gathered rows), and the
 * weighting keeps both factors, the expert's output and each row's weight (with the indices of its
 * gather); the scatter back keeps each row's destination token. Indices are int32, as tfjs gathers
 * and scatters with them (PyTorch's are int64: 8 bytes each). A shared expert keeps a dense FFN's
 * tensors at width shared_d_ff, and its gate the sigmoid [B, T] and the expert's output [B, T, d].
 */
export type SavedDtype = 'activation' | 'statistic' | 'loss' | 'index';

export interface SavedActivation {
  /** What the tensor is: "ln1 input (the residual stream)", "softmax output P". */
  readonly name: string;
  /** Module paths (within a block) whose backward passes read it; it is held once for all of them. */
  readonly readBy: readonly string[];
  readonly symbolic: readonly string[];
  readonly dtype: SavedDtype;
  readonly bytesPerElement: bigint;
  /** Bytes as B * c * T^power, this tensor alone. */
  readonly bytes: BatchSeqPolynomial;
}

export interface SavedActivationGroup {
  readonly tensors: readonly SavedActivation[];
  readonly bytes: BatchSeqPolynomial;
}

export interface SavedActivations {
  /** Held by each block with a dense FFN (every such block holds the same). */
  readonly perLayer: SavedActivationGroup;
  /** Held by each mixture-of-experts block; undefined for a dense model. */
  readonly perMoeLayer: SavedActivationGroup | undefined;
  /** How many blocks are mixture-of-experts blocks (the rest hold perLayer). */
  readonly moeLayers: number;
  /** Held after the last block: ln_final, lm_head, the soft-cap, the loss. */
  readonly final: SavedActivationGroup;
  readonly layers: number;
  /** (layers - moeLayers) * perLayer + moeLayers * perMoeLayer + final: the saved activations that grow with the batch. */
  readonly total: BatchSeqPolynomial;
  /**
   * Held once per run whatever the batch (the RoPE tables): bytes as c * T^power with no factor
   * B, so evaluated for one sequence (perSequenceAt). savedActivationBytes adds them to total.
   */
  readonly perRun: SavedActivationGroup;
}

/** The saved activations at the end of the forward pass of a run: total at (B, T) plus the per-run tensors at T. */
export function savedActivationBytes(saved: SavedActivations, batch: number, seq: number): bigint {
  return evaluatePolynomial(saved.total, batch, seq) + perSequenceAt(saved.perRun.bytes, seq);
}

/**
 * savedActivationBytes at `run` on its attention schedule. A blocked schedule keeps each query
 * block's softmax output (and a soft-cap's tanh) over the key blocks it computes only, the blocks
 * PyTorch would slice as views of q, k and v (attention_schedule.ts): per layer and query head,
 * blockedScores(T, block, the layer's window) elements rather than T^2, a count that is not a
 * polynomial in T, so it is taken at the run's T. Every other tensor is the same as dense.
 */
export function savedActivationBytesOfRun(saved: SavedActivations, config: ModelConfig, run: RunShape): bigint {
  const dense = savedActivationBytes(saved, run.batch, run.seq);
  const block = blockOf(run.attention);
  if (block === undefined) return dense;
  // The [B, H, T, T] tensors of a block: every block, dense or MoE, has the same attention.
  const perScore = saved.perLayer.tensors
    .filter((entry) => entry.symbolic.filter((symbol) => symbol === 'T').length === 2)
    .reduce((total, entry) => total + entry.bytesPerElement, 0n);
  const B = BigInt(run.batch);
  const H = BigInt(config.num_heads);
  let scores = 0n;
  for (let i = 0; i < config.num_layers; i++) {
    scores += blockedScores(run.seq, block, layerWindow(config, i)) - denseScores(run.seq);
  }
  return dense + B * H * perScore * scores;
}

export interface SavedActivationOptions {
  /** Bytes per activation element (default 4, fp32). */
  readonly activationBytes?: bigint;
  /** Bytes per element of the loss's softmax (default activationBytes). */
  readonly lossBytes?: bigint;
  /**
   * 'full': every block keeps only its input (the residual stream entering it) and reruns its
   * forward in its backward pass (checkpointing.ts), so the block's list is that one tensor; the
   * tensors after the last block are kept as without checkpointing. 'selective': the attention
   * core is rerun in its layer's backward pass from q, k and v, which stay in the list (the
   * rerun's inputs), so the core's [B, H, T, T] tensors (the softmax output P and a soft-cap's
   * tanh) leave it. Default 'none'.
   */
  readonly checkpoint?: 'none' | 'selective' | 'full';
}

/** The tensors of a block that selective checkpointing recomputes rather than keeps: the core's T^2 ones. */
const RECOMPUTED_BY_SELECTIVE: ReadonlySet<string> = new Set(['softmax output P', 'tanh of the capped scores']);

/** Norm statistics are computed and kept in fp32 whatever the working dtype (PyTorch's and Apex's kernels do). */
const STATISTIC_BYTES = 4n;

/** The gathers' and the scatter's indices: int32, tfjs's index type. */
const INDEX_BYTES = 4n;

/** Saved activations of one training step, per block and after the last, as polynomials in B and T. */
export function savedActivations(config: ModelConfig, options: SavedActivationOptions = {}): SavedActivations {
  const architecture = architectureOf(config);
  const activationBytes = options.activationBytes ?? 4n;
  const lossBytes = options.lossBytes ?? activationBytes;
  const { q, kv, vocab } = dimensionSymbols(config);
  const d = BigInt(config.d_model);
  const F = BigInt(config.d_ff);
  const H = BigInt(config.num_heads);
  const Hkv = BigInt(architecture.num_kv_heads);
  const dq = BigInt(architecture.q_dim);
  const dkv = BigInt(architecture.kv_dim);
  const V = BigInt(architecture.padded_vocab_size);
  const { mla, moe } = architecture;
  const widths: Readonly<Record<string, bigint>> = {
    d,
    F,
    H,
    Hkv,
    [q]: dq,
    [kv]: dkv,
    [vocab]: V,
    '2*F': 2n * F,
    ...(mla === undefined
      ? {}
      : {
          r: BigInt(mla.kv_lora_rank),
          ...(mla.q_lora_rank === undefined ? {} : { rq: BigInt(mla.q_lora_rank) }),
        }),
    ...(moe === undefined
      ? {}
      : {
          E: BigInt(moe.num_experts),
          k: BigInt(moe.experts_per_token),
          Fe: BigInt(moe.expert_d_ff),
          ...(moe.shared_d_ff === undefined ? {} : { Fs: BigInt(moe.shared_d_ff) }),
        }),
  };
  const bytesOf: Readonly<Record<SavedDtype, bigint>> = {
    activation: activationBytes,
    statistic: STATISTIC_BYTES,
    loss: lossBytes,
    index: INDEX_BYTES,
  };
  const tensor = (name: string, readBy: readonly string[], symbolic: readonly string[], dtype: SavedDtype) => {
    const power = symbolic.filter((symbol) => symbol === 'T').length;
    const elements = symbolic
      .filter((symbol) => symbol !== 'B' && symbol !== 'T')
      .reduce((total, symbol) => {
        const width = widths[symbol];
        if (width === undefined) throw new Error(`saved activations: no width for ${symbol} in ${name}`);
        return total * width;
      }, 1n);
    const bytesPerElement = bytesOf[dtype];
    return { name, readBy, symbolic, dtype, bytesPerElement, bytes: monomial(elements * bytesPerElement, power) };
  };
  const norm = (module: string, input: string, heads?: 'H' | 'Hkv', width: readonly string[] = ['B', 'T', 'd']) => {
    const perToken = heads === undefined ? ['B', 'T'] : ['B', 'T', heads];
    const statistics = architecture.norm === 'layernorm' ? ['mean', 'rstd'] : ['rstd'];
    return [
      tensor(`${module} input (${input})`, [module], width, 'activation'),
      ...statistics.map((statistic) => tensor(`${module} ${statistic}`, [module], perToken, 'statistic')),
    ];
  };
  const projections = architecture.fused_qkv ? ['attn.qkv_proj'] : ['attn.q_proj', 'attn.k_proj', 'attn.v_proj'];
  const rotated = architecture.positions === 'rope' ? ' after RoPE' : '';
  const latentQuery =
    mla?.q_lora_rank === undefined
      ? []
      : [
          ...norm('attn.q_latent_norm', 'the query latent', undefined, ['B', 'T', 'rq']),
          tensor('q_latent_norm output', ['attn.q_up'], ['B', 'T', 'rq'], 'activation'),
        ];
  /** The core's saved tensors and the post-norm; the weighted sum P v is `weightedSumWidth` wide. */
  const coreAndAfter = (weightedSumWidth: string) => [
    ...(architecture.attn_softcap === undefined
      ? []
      : [tensor('tanh of the capped scores', ['attn.softcap'], ['B', 'H', 'T', 'T'], 'activation')]),
    tensor('softmax output P', ['attn.softmax', 'attn.weighted_sum'], ['B', 'H', 'T', 'T'], 'activation'),
    tensor('v', ['attn.weighted_sum'], ['B', 'T', kv], 'activation'),
    tensor('weighted sum P v', ['attn.output_proj'], ['B', 'T', weightedSumWidth], 'activation'),
    ...(architecture.post_norms ? norm('post_attn_norm', 'the attention output') : []),
  ];
  const latentAttention = () => [
    ...norm('ln1', 'the residual stream entering the block'),
    tensor(
      'ln1 output',
      [mla?.q_lora_rank === undefined ? 'attn.q_proj' : 'attn.q_down', 'attn.kv_down'],
      ['B', 'T', 'd'],
      'activation',
    ),
    ...latentQuery,
    ...norm('attn.kv_latent_norm', 'the latent c_KV', undefined, ['B', 'T', 'r']),
    tensor('kv_latent_norm output', ['attn.kv_up'], ['B', 'T', 'r'], 'activation'),
    tensor('q [q_C | q_R after RoPE]', ['attn.scores'], ['B', 'T', q], 'activation'),
    tensor('k [k_C | k_R after RoPE], k_R in every head', ['attn.scores'], ['B', 'T', q], 'activation'),
    ...coreAndAfter(kv),
  ];
  const denseAttention = [
    ...norm('ln1', 'the residual stream entering the block'),
    tensor('ln1 output', projections, ['B', 'T', 'd'], 'activation'),
    ...(architecture.qk_norm
      ? [...norm('attn.q_norm', 'q', 'H', ['B', 'T', q]), ...norm('attn.k_norm', 'k', 'Hkv', ['B', 'T', kv])]
      : []),
    tensor(`q${rotated}`, ['attn.scores'], ['B', 'T', q], 'activation'),
    tensor(`k${rotated}`, ['attn.scores'], ['B', 'T', kv], 'activation'),
    ...coreAndAfter(q),
  ];
  const attention = mla === undefined ? denseAttention : latentAttention();
  const ffnInputReaders =
    architecture.ffn === 'gelu' ? ['ffn.w1'] : architecture.fused_gate_up ? ['ffn.gate_up_proj'] : ['ffn.w1', 'ffn.w3'];
  const [activation, activationModule] = architecture.ffn === 'swiglu' ? ['SiLU', 'ffn.silu'] : ['GELU', 'ffn.gelu'];
  const gated = architecture.fused_gate_up
    ? [tensor('gate_up output [x W1 | x W3]', [activationModule, 'ffn.gate'], ['B', 'T', '2*F'], 'activation')]
    : [
        tensor('x W1', [activationModule], ['B', 'T', 'F'], 'activation'),
        tensor('x W3', ['ffn.gate'], ['B', 'T', 'F'], 'activation'),
      ];
  const ffn =
    architecture.ffn === 'gelu'
      ? [
          tensor('x W1', ['ffn.gelu'], ['B', 'T', 'F'], 'activation'),
          tensor('GELU(x W1)', ['ffn.w2'], ['B', 'T', 'F'], 'activation'),
        ]
      : [
          ...gated,
          tensor(`${activation}(x W1)`, ['ffn.gate'], ['B', 'T', 'F'], 'activation'),
          tensor(`${activation}(x W1) * x W3`, ['ffn.w2'], ['B', 'T', 'F'], 'activation'),
        ];
  const perLayer = [
    ...attention,
    ...norm('ln2', 'the residual stream after attention'),
    tensor('ln2 output', ffnInputReaders, ['B', 'T', 'd'], 'activation'),
    ...ffn,
    ...(architecture.post_norms ? norm('post_ffn_norm', 'the FFN output') : []),
  ];
  // An expert's FFN (never fused) over `rows` ([B, T, k] routed rows, or [B, T] for the shared one) of width `width`.
  const expertFfn = (module: string, rows: readonly string[], width: string) => {
    const shape = [...rows, width];
    return architecture.ffn === 'gelu'
      ? [
          tensor(`${module} x W1`, [`${module}.gelu`], shape, 'activation'),
          tensor(`${module} GELU(x W1)`, [`${module}.w2`], shape, 'activation'),
        ]
      : [
          tensor(`${module} x W1`, [`${module}.${activationModule.slice('ffn.'.length)}`], shape, 'activation'),
          tensor(`${module} x W3`, [`${module}.gate`], shape, 'activation'),
          tensor(`${module} ${activation}(x W1)`, [`${module}.gate`], shape, 'activation'),
          tensor(`${module} ${activation}(x W1) * x W3`, [`${module}.w2`], shape, 'activation'),
        ];
  };
  const routedRows = ['B', 'T', 'k'];
  const moeTensors =
    moe === undefined
      ? []
      : [
          tensor('router scores p', ['moe.router', 'moe.top_k'], ['B', 'T', 'E'], 'activation'),
          tensor('index of each pick in p', ['moe.top_k'], routedRows, 'index'),
          ...(moe.normalize_top_k
            ? [
                tensor('picked p', ['moe.top_k'], routedRows, 'activation'),
                tensor('sum of the picked p', ['moe.top_k'], ['B', 'T'], 'activation'),
              ]
            : []),
          tensor('row index of each routed row', ['moe.experts'], routedRows, 'index'),
          tensor(
            "gathered rows (the experts' input)",
            ['moe.experts.w1', 'moe.experts.w3'],
            [...routedRows, 'd'],
            'activation',
          ),
          ...expertFfn('moe.experts', routedRows, 'Fe'),
          tensor('expert output', ['moe.experts.combine'], [...routedRows, 'd'], 'activation'),
          tensor("slot index of each row's weight", ['moe.experts'], routedRows, 'index'),
          tensor('routing weight of each row', ['moe.experts.combine'], routedRows, 'activation'),
          tensor('destination token of each row', ['moe.combine'], routedRows, 'index'),
          ...(moe.shared_d_ff === undefined ? [] : expertFfn('moe.shared', ['B', 'T'], 'Fs')),
          ...(moe.shared_d_ff !== undefined && moe.shared_expert_gate
            ? [
                tensor('shared gate sigmoid(x ws)', ['moe.shared_gate'], ['B', 'T'], 'activation'),
                tensor('shared expert output', ['moe.shared_gate'], ['B', 'T', 'd'], 'activation'),
              ]
            : []),
        ];
  const moeLayer = [
    ...attention,
    ...norm('ln2', 'the residual stream after attention'),
    tensor(
      'ln2 output',
      ['moe.router', 'moe.experts', ...(moe?.shared_d_ff === undefined ? [] : ['moe.shared'])],
      ['B', 'T', 'd'],
      'activation',
    ),
    ...moeTensors,
    ...(architecture.post_norms ? norm('post_ffn_norm', 'the FFN output') : []),
  ];
  const blockInput = tensor('block input (the residual stream entering it)', ['ln1'], ['B', 'T', 'd'], 'activation');
  const final = [
    ...norm('ln_final', 'the residual stream leaving the last block'),
    tensor('ln_final output', ['lm_head'], ['B', 'T', 'd'], 'activation'),
    ...(architecture.final_softcap === undefined
      ? []
      : [tensor('tanh of the capped logits', ['final_softcap'], ['B', 'T', vocab], 'activation')]),
    tensor('softmax over the vocabulary', ['loss'], ['B', 'T', vocab], 'loss'),
  ];
  const group = (tensors: readonly SavedActivation[]): SavedActivationGroup => ({
    tensors,
    bytes: addPolynomials(...tensors.map((entry) => entry.bytes)),
  });
  const kept = (tensors: readonly SavedActivation[]) =>
    ({
      none: tensors,
      selective: tensors.filter((entry) => !RECOMPUTED_BY_SELECTIVE.has(entry.name)),
      full: [blockInput],
    })[options.checkpoint ?? 'none'];
  const layerGroup = group(kept(perLayer));
  const moeGroup = moe === undefined ? undefined : group(kept(moeLayer));
  const finalGroup = group(final);
  const moeLayers = moe === undefined ? 0 : moe.moe_layers.filter((routes) => routes).length;
  const L = BigInt(config.num_layers);
  // Latent attention rotates only qk_rope_head_dim features of each head, so its tables are that wide.
  const ropeWidth = BigInt(architecture.mla?.qk_rope_head_dim ?? architecture.head_dim);
  const ropeTables: SavedActivation[] =
    architecture.positions === 'rope'
      ? ['cos', 'sin'].map((table) => ({
          name: `RoPE ${table} table [T, ${architecture.mla === undefined ? 'dh' : 'dr'}], once per run`,
          readBy: ['attn.rope'],
          symbolic: ['T', architecture.mla === undefined ? 'dh' : 'dr'],
          dtype: 'activation' as const,
          bytesPerElement: activationBytes,
          bytes: monomial(ropeWidth * activationBytes, 1),
        }))
      : [];
  return {
    perLayer: layerGroup,
    perMoeLayer: moeGroup,
    moeLayers,
    final: finalGroup,
    layers: config.num_layers,
    total: addPolynomials(
      scalePolynomial(layerGroup.bytes, L - BigInt(moeLayers)),
      ...(moeGroup === undefined ? [] : [scalePolynomial(moeGroup.bytes, BigInt(moeLayers))]),
      finalGroup.bytes,
    ),
    perRun: group(ropeTables),
  };
}
