import {
  architectureOf,
  type ExpertGroups,
  headDim,
  isMoeLayer,
  type MoeArchitecture,
  type ModelConfig,
  type RunShape,
} from '../config/model_config.js';
import { path } from '../core/module_paths.js';
import { ruleFor } from '../core/flop_rules.js';
import type { Shaped } from '../core/kernel_record.js';
import { attentionCoreKernels } from './attention_core_kernels.js';
import { layerExpertRows } from './forward_matmuls.js';
import { assertRunFits } from './run_shape.js';

/**
 * The non-matmul work of one forward pass, derived from the architecture on paper (design.md
 * section 1), not from the model's code, and costed by the one rule table
 * (src/core/flop_rules.ts) so that it counts under the same conventions as a trace.
 *
 * Each piece of the math is written as the cheapest tfjs kernels that compute it:
 *   RMSNorm(x) = x * rsqrt(mean(x^2) + eps) * g    Square, Mean, Add, Rsqrt, Multiply, Multiply
 *   LayerNorm(x) = (x - mean) * rsqrt(var + eps) * g + b
 *                                                   Mean, Sub, Square, Mean, Add, Rsqrt, Multiply,
 *                                                   Multiply, Add
 *   linear bias (variant)                           Add of [n] to each projection's output
 *   learned positions (variant)                     Slice of the table (data movement), Add
 *   RoPE on q and k: each pair (a, b) of a head to (a cos - b sin, a sin + b cos), as
 *   x cos + swap(x) sin                             Reverse (data movement), Multiply, Multiply, Add
 *                                                   (cos and sin depend on positions only: constants);
 *                                                   k has num_kv_heads heads
 *   scores / sqrt(dk)                               Multiply by a scalar
 *   causal mask                                     Sub (key - query positions), Greater than 0,
 *                                                   Select 0 or -inf, Add to the scores
 *   softmax over keys                               Softmax
 *   SiLU(z) = z * sigmoid(z), gate                  Sigmoid, Multiply, Multiply
 *   GELU, GPT-2's tanh approximation:               Square, Multiply, Add, Multiply, Tanh, Add,
 *     0.5 z (1 + tanh(s (z + 0.044715 z^3))),        Multiply, Multiply (s = sqrt(2/pi); the
 *     s = sqrt(2 / pi), as s z + (0.044715 s) z^3    exact erf form would take 5)
 *   residual adds                                   Add, twice per layer
 *   token embedding lookup                          GatherV2 (data movement, 0 FLOPs)
 *   embeddings times sqrt(d) (variant)              Multiply by a scalar
 *   zero-centred gain (variant): (1 + g)            Add of 1 to the gain [d], once per norm
 *   q/k norms (variant) over each head's dh         the norm's kernels at [B, heads, T, dh]
 *   latent attention (variant)                     the norms of the q and kv latents; RoPE on the
 *                                                   rope parts only: q [B, H, T, dr], k_R [B, 1, T, dr]
 *   fused q/k/v or gate/up (variant)                one bias Add over the joined output; the
 *                                                   split after it is data movement (SplitV)
 *   post-norms (variant)                            the norm's kernels on each sub-block's output
 *   GeGLU (variant): GELU(W1 x) * W3 x              the GELU kernels, Multiply
 *   mixture of experts (variant), on the N = B T tokens as rows:
 *     router: + bias (variant), softmax over E       Add, Softmax [N, E]; or (router_scoring
 *                                                   sigmoid) Sigmoid [N, E]
 *     choice: + score bias (variant)                 Add [N, E] + [E]
 *     groups (variant): G groups of s = E / G,       "max": Max [N, G, s] -> [N, G]; "top2_sum":
 *       the best `kept` kept, the rest set to 0      TopK [N, G, s] -> [N, G, 2] and Sum -> [N, G];
 *                                                   TopK [N, G] -> [N, kept]; the kept-th best
 *                                                   (Slice, data movement); GreaterEqual [N, G]
 *                                                   (bool), Cast (data movement); Multiply
 *                                                   [N, G, s] by [N, G, 1]
 *     top-k: the k largest scores per token          TopK [N, E] -> values and int32 indices [N, k];
 *                                                   GatherV2 of the chosen p (data movement) [N k];
 *                                                   / their sum (normalize_top_k): Sum, RealDiv;
 *                                                   * routed_scaling_factor (when not 1): Multiply
 *     expert e, on the n_e rows the routing gave it  GatherV2 of its rows [n_e, d] and of their
 *                                                   weights [n_e] (data movement); its FFN's kernels
 *                                                   on [1, n_e, .]; Multiply by the weights
 *     combine: the k N weighted rows summed back     ScatterNd of [k N, d] into [N, d]
 *     shared expert (variant)                        its FFN's kernels on [B, T, .]; with its gate,
 *                                                   Sigmoid [B, T, 1] and Multiply; Add to the routed
 *   soft-cap (variant): cap * tanh(x / cap)         Multiply, Tanh, Multiply, on the attention
 *                                                   logits [B, H, T, T] (before the mask) and on
 *                                                   the output logits [B, T, Vp]
 * Head split and merge, sharing k and v across query heads (broadcast), the tied lm_head's
 * transpose and vocabulary padding are data movement (0 FLOPs by the table) and are not listed.
 *
 * It is an estimate to set beside the traced non-matmul total: the trace, not this list,
 * decides nothing about pass or fail, and a model may legitimately spend its non-matmul work
 * differently (a divide where this list multiplies counts the same; a mask built once instead
 * of per layer counts less).
 */

export interface NonMatmulKernelEstimate {
  /** Module path the work belongs to, in the trace's vocabulary. */
  readonly path: string;
  /** The tfjs kernel the rule table costs it as. */
  readonly kernel: string;
  /** The piece of the math, in words: "x^2", "mean over d". */
  readonly computes: string;
  readonly inputs: readonly Shaped[];
  readonly outputs: readonly Shaped[];
  readonly flops: bigint;
}

export interface NonMatmulEstimate {
  /** Every kernel of the forward pass besides the matmuls, in execution order. */
  readonly kernels: readonly NonMatmulKernelEstimate[];
  readonly total: bigint;
  /** FLOPs per kernel name, in order of first appearance. */
  readonly byKernel: ReadonlyMap<string, bigint>;
}

/** One kernel of the estimate, costed by the rule table; throws when the table has no rule for it. */
export function kernelEstimate(
  modulePath: string,
  kernel: string,
  computes: string,
  inputs: readonly (readonly number[])[],
  output: readonly number[],
  moreOutputs: readonly (readonly number[])[] = [],
): NonMatmulKernelEstimate {
  const rule = ruleFor(kernel);
  const inputShapes = inputs.map((shape) => ({ shape }));
  const outputShapes = [output, ...moreOutputs].map((shape) => ({ shape }));
  const flops = rule?.flops(inputShapes, outputShapes, {});
  if (flops === undefined || flops === null) {
    throw new Error(`non_matmul_estimate: the rule table cannot cost ${kernel} at ${modulePath} (${computes})`);
  }
  return { path: modulePath, kernel, computes, inputs: inputShapes, outputs: outputShapes, flops };
}

/** RMSNorm over the last axis of x [..., d] with a gain [d]. */
function rmsNorm(modulePath: string, x: readonly number[]): NonMatmulKernelEstimate[] {
  const d = x[x.length - 1]!;
  const perToken = [...x.slice(0, -1), 1];
  return [
    kernelEstimate(modulePath, 'Square', 'x^2', [x], x),
    kernelEstimate(modulePath, 'Mean', 'mean of x^2 over d', [x], perToken),
    kernelEstimate(modulePath, 'Add', '+ eps', [perToken, []], perToken),
    kernelEstimate(modulePath, 'Rsqrt', '1 / sqrt(.)', [perToken], perToken),
    kernelEstimate(modulePath, 'Multiply', 'x * rsqrt', [x, perToken], x),
    kernelEstimate(modulePath, 'Multiply', '* gain', [x, [d]], x),
  ];
}

/** LayerNorm over the last axis of x [..., d] with a gain and a bias [d]. */
function layerNorm(modulePath: string, x: readonly number[]): NonMatmulKernelEstimate[] {
  const d = x[x.length - 1]!;
  const perToken = [...x.slice(0, -1), 1];
  return [
    kernelEstimate(modulePath, 'Mean', 'mean of x over d', [x], perToken),
    kernelEstimate(modulePath, 'Sub', 'x - mean', [x, perToken], x),
    kernelEstimate(modulePath, 'Square', '(x - mean)^2', [x], x),
    kernelEstimate(modulePath, 'Mean', 'variance over d', [x], perToken),
    kernelEstimate(modulePath, 'Add', '+ eps', [perToken, []], perToken),
    kernelEstimate(modulePath, 'Rsqrt', '1 / sqrt(.)', [perToken], perToken),
    kernelEstimate(modulePath, 'Multiply', '(x - mean) * rsqrt', [x, perToken], x),
    kernelEstimate(modulePath, 'Multiply', '* gain', [x, [d]], x),
    kernelEstimate(modulePath, 'Add', '+ bias', [x, [d]], x),
  ];
}

/**
 * RoPE of one head-split activation x [B, heads, T, dk]: each pair (a, b) -> (a cos - b sin,
 * a sin + b cos), written as x * cos + swap(x) * sin with swap(a, b) = (b, a) and the signs in
 * the sin table: a Reverse (data movement), two Multiply and one Add over the whole activation.
 */
function rope(
  modulePath: string,
  of: string,
  B: number,
  heads: number,
  T: number,
  dk: number,
): NonMatmulKernelEstimate[] {
  const x = [B, heads, T, dk];
  const pairs = [B * heads, T, dk / 2, 2]; // the model's pairs, heads folded into the batch
  const angles = [T, dk]; // cos, or sin with the pair's sign, per (position, channel)
  return [
    kernelEstimate(modulePath, 'Reverse', `${of}: swap each pair`, [pairs], pairs),
    kernelEstimate(modulePath, 'Multiply', `${of}: x cos`, [x, angles], x),
    kernelEstimate(modulePath, 'Multiply', `${of}: swap(x) sin`, [x, angles], x),
    kernelEstimate(modulePath, 'Add', `${of}: x cos + swap(x) sin`, [x, x], x),
  ];
}

/**
 * GELU as GPT-2 defines it (the tanh approximation), over z [B, T, F]:
 *   0.5 z (1 + tanh(s z + 0.044715 s z^3)) = 0.5 z (1 + tanh(z (s + 0.044715 s z^2))), s = sqrt(2/pi).
 */
function gelu(modulePath: string, z: readonly number[]): NonMatmulKernelEstimate[] {
  return [
    kernelEstimate(modulePath, 'Square', 'z^2', [z], z),
    kernelEstimate(modulePath, 'Multiply', '0.044715 s z^2', [z, []], z),
    kernelEstimate(modulePath, 'Add', 's + 0.044715 s z^2', [z, []], z),
    kernelEstimate(modulePath, 'Multiply', 'z (s + 0.044715 s z^2)', [z, z], z),
    kernelEstimate(modulePath, 'Tanh', 'tanh(.)', [z], z),
    kernelEstimate(modulePath, 'Add', '1 + tanh(.)', [z, []], z),
    kernelEstimate(modulePath, 'Multiply', 'z (1 + tanh(.))', [z, z], z),
    kernelEstimate(modulePath, 'Multiply', '* 0.5', [z, []], z),
  ];
}

/** cap * tanh(x / cap) over x: Multiply, Tanh, Multiply. */
function softcap(modulePath: string, of: string, x: readonly number[]): NonMatmulKernelEstimate[] {
  return [
    kernelEstimate(modulePath, 'Multiply', `${of} / cap`, [x, []], x),
    kernelEstimate(modulePath, 'Tanh', `tanh(${of} / cap)`, [x], x),
    kernelEstimate(modulePath, 'Multiply', `cap * tanh(${of} / cap)`, [x, []], x),
  ];
}

/**
 * Group-limited selection over the choice scores [N, E] (the file comment): each group's score, the
 * kept groups as those at least the kept-th best, the others' scores times 0. The kept-th best
 * score's Slice and the mask's Cast move data only and are not listed.
 */
function groupKernels(i: number, N: number, E: number, groups: ExpertGroups): NonMatmulKernelEstimate[] {
  const { count: G, kept } = groups;
  const grouped = [N, G, E / G];
  const perGroup = [N, G];
  const ranked =
    groups.score === 'max'
      ? [kernelEstimate(path.topK(i), 'Max', "each group's best score", [grouped], perGroup)]
      : [
          kernelEstimate(path.topK(i), 'TopK', "each group's two best scores", [grouped], [N, G, 2], [[N, G, 2]]),
          kernelEstimate(path.topK(i), 'Sum', "each group's two best, summed", [[N, G, 2]], perGroup),
        ];
  return [
    ...ranked,
    kernelEstimate(path.topK(i), 'TopK', 'the kept best groups per token', [perGroup], [N, kept], [[N, kept]]),
    kernelEstimate(path.topK(i), 'GreaterEqual', 'group score >= the kept-th best', [perGroup, [N, 1]], perGroup),
    kernelEstimate(path.topK(i), 'Multiply', 'scores outside the kept groups to 0', [grouped, [N, G, 1]], grouped),
  ];
}

/**
 * The non-matmul kernels of MoE layer `i` (see the file comment), `ffn` giving an FFN's kernels at
 * a module. The experts' kernels follow `expertRows` (the routing the run took, or the documented
 * assignment); the top-k and the combine follow k N, the routing's required total, so a routing
 * that gives a token more than k experts shows there as well as in the rows.
 */
function moeKernels(
  i: number,
  moe: MoeArchitecture,
  B: number,
  T: number,
  d: number,
  expertRows: readonly number[],
  ffn: (base: string, rows: readonly number[], width: number) => NonMatmulKernelEstimate[],
): NonMatmulKernelEstimate[] {
  const N = B * T;
  const { num_experts: E, experts_per_token: k } = moe;
  const hidden = [B, T, d];
  const kernels: NonMatmulKernelEstimate[] = [];
  if (moe.router_bias) {
    kernels.push(kernelEstimate(path.router(i), 'Add', '+ bias', [[B, T, E], [E]], [B, T, E]));
  }
  kernels.push(
    moe.router_scoring === 'sigmoid'
      ? kernelEstimate(path.router(i), 'Sigmoid', 'sigmoid of each router logit', [[N, E]], [N, E])
      : kernelEstimate(path.router(i), 'Softmax', 'softmax of the router logits over E', [[N, E]], [N, E]),
  );
  if (moe.router_score_bias) {
    kernels.push(kernelEstimate(path.topK(i), 'Add', '+ score bias', [[N, E], [E]], [N, E]));
  }
  if (moe.groups !== undefined) kernels.push(...groupKernels(i, N, E, moe.groups));
  kernels.push(
    kernelEstimate(path.topK(i), 'TopK', 'the k largest scores per token', [[N, E]], [N, k], [[N, k]]),
    kernelEstimate(path.topK(i), 'GatherV2', 'p of the chosen experts', [[N * E], [N * k]], [N * k]),
  );
  if (moe.normalize_top_k) {
    kernels.push(
      kernelEstimate(path.topK(i), 'Sum', 'sum of the k chosen p', [[N, k]], [N, 1]),
      kernelEstimate(
        path.topK(i),
        'RealDiv',
        'p / their sum',
        [
          [N, k],
          [N, 1],
        ],
        [N, k],
      ),
    );
  }
  if (moe.routed_scaling_factor !== 1) {
    kernels.push(kernelEstimate(path.topK(i), 'Multiply', '* routed_scaling_factor', [[N, k], []], [N, k]));
  }
  expertRows.forEach((n, e) => {
    if (n === 0) return; // an expert no token chose runs nothing
    const expert = path.expert(i, e);
    kernels.push(
      kernelEstimate(expert, 'GatherV2', `the rows of expert ${e}`, [[N, d], [n]], [n, d]),
      ...ffn(expert, [1, n], moe.expert_d_ff),
      kernelEstimate(expert, 'GatherV2', `the routing weights of expert ${e}`, [[N * k], [n]], [n]),
      kernelEstimate(
        `${expert}.combine`,
        'Multiply',
        'FFN_e(x) * p_e',
        [
          [n, d],
          [n, 1],
        ],
        [n, d],
      ),
    );
  });
  kernels.push(
    kernelEstimate(
      path.moeCombine(i),
      'ScatterNd',
      'the k N weighted rows summed back',
      [
        [k * N, 1],
        [k * N, d],
      ],
      [N, d],
    ),
  );
  const Fs = moe.shared_d_ff;
  if (Fs !== undefined) {
    kernels.push(...ffn(path.sharedExpert(i), [B, T], Fs));
    if (moe.shared_expert_gate) {
      const gate = [B, T, 1];
      kernels.push(
        kernelEstimate(path.sharedGate(i), 'Sigmoid', 'sigmoid(x ws)', [gate], gate),
        kernelEstimate(path.sharedGate(i), 'Multiply', 'FFN_s(x) * sigmoid(x ws)', [hidden, gate], hidden),
      );
    }
    kernels.push(kernelEstimate(path.moe(i), 'Add', 'routed + shared', [hidden, hidden], hidden));
  }
  return kernels;
}

/** The non-matmul kernels of one forward pass of `config` at `run`, each costed by the rule table. */
export function nonMatmulEstimate(config: ModelConfig, run: RunShape): NonMatmulEstimate {
  assertRunFits(config, run);
  const architecture = architectureOf(config);
  const { num_layers: L, d_model: d, num_heads: H, d_ff: F } = config;
  const { batch: B, seq: T } = run;
  const dk = headDim(config);
  const { q_dim: dq, kv_dim: dkv, num_kv_heads: Hkv, padded_vocab_size: Vp } = architecture;
  const hidden = [B, T, d];
  const qHidden = [B, T, dq];
  const kvHidden = [B, T, dkv];
  const normKernels = architecture.norm === 'layernorm' ? layerNorm : rmsNorm;
  // A zero-centred gain is stored as g and applied as (1 + g): one Add over the gain per norm.
  const norm = (modulePath: string, x: readonly number[]): NonMatmulKernelEstimate[] => {
    const width = [x[x.length - 1]!];
    return [
      ...(architecture.zero_centered_gain ? [kernelEstimate(modulePath, 'Add', '1 + gain', [width, []], width)] : []),
      ...normKernels(modulePath, x),
    ];
  };
  // A bias [n] added to a projection's output [B, T, n], when that layer has one.
  const biasIf =
    (biased: boolean) =>
    (modulePath: string, output: readonly number[]): NonMatmulKernelEstimate[] =>
      biased ? [kernelEstimate(modulePath, 'Add', '+ bias', [output, [output[output.length - 1]!]], output)] : [];
  const qkvBias = biasIf(architecture.qkv_bias);
  const outputBias = biasIf(architecture.output_bias);
  const mlpBias = biasIf(architecture.mlp_bias);

  // One FFN (the dense one, a routed expert or the shared expert) at module `base` on token rows
  // `rows` ([B, T], or [1, n] for an expert's gathered rows), width `width`.
  const ffn = (base: string, rows: readonly number[], width: number): NonMatmulKernelEstimate[] => {
    const inner = [...rows, width];
    const outer = [...rows, d];
    const kernels: NonMatmulKernelEstimate[] = [];
    if (architecture.fused_gate_up) kernels.push(...mlpBias(`${base}.gate_up_proj`, [...rows, 2 * width]));
    else {
      kernels.push(...mlpBias(`${base}.w1`, inner));
      if (architecture.gated_ffn) kernels.push(...mlpBias(`${base}.w3`, inner));
    }
    if (architecture.ffn === 'swiglu') {
      kernels.push(
        kernelEstimate(`${base}.silu`, 'Sigmoid', 'sigmoid(W1 x)', [inner], inner),
        kernelEstimate(`${base}.silu`, 'Multiply', 'W1 x * sigmoid(W1 x)', [inner, inner], inner),
        kernelEstimate(`${base}.gate`, 'Multiply', 'SiLU(W1 x) * W3 x', [inner, inner], inner),
      );
    } else if (architecture.ffn === 'geglu') {
      kernels.push(
        ...gelu(`${base}.gelu`, inner),
        kernelEstimate(`${base}.gate`, 'Multiply', 'GELU(W1 x) * W3 x', [inner, inner], inner),
      );
    } else {
      kernels.push(...gelu(`${base}.gelu`, inner));
    }
    kernels.push(...mlpBias(`${base}.w2`, outer));
    return kernels;
  };

  const kernels: NonMatmulKernelEstimate[] = [
    kernelEstimate(
      path.tokenEmbeddings,
      'GatherV2',
      'E[ids]',
      [
        [Vp, d],
        [B, T],
      ],
      hidden,
    ),
  ];
  if (architecture.scale_embeddings) {
    kernels.push(kernelEstimate(path.embeddingScale, 'Multiply', 'E[ids] * sqrt(d)', [hidden, []], hidden));
  }
  if (architecture.positions === 'learned') {
    kernels.push(
      kernelEstimate(path.positionEmbeddings, 'Slice', 'P[0:T]', [[config.context_length, d]], [T, d]),
      kernelEstimate(path.positionEmbeddings, 'Add', 'E[ids] + P[0:T]', [hidden, [T, d]], hidden),
    );
  }
  for (let i = 0; i < L; i++) {
    kernels.push(...norm(path.ln1(i), hidden));
    const mla = architecture.mla;
    if (mla !== undefined) {
      // Latent attention: the latents' norms, then RoPE on the rope parts only (q's last dr
      // features of each head, and the one rope key shared by all heads); the splits, the
      // concatenation of the parts and the key's broadcast over heads are data movement.
      if (mla.q_lora_rank !== undefined) kernels.push(...norm(path.qLatentNorm(i), [B, T, mla.q_lora_rank]));
      kernels.push(...norm(path.kvLatentNorm(i), [B, T, mla.kv_lora_rank]));
      kernels.push(
        ...rope(path.rope(i), 'q_R', B, H, T, mla.qk_rope_head_dim),
        ...rope(path.rope(i), 'k_R', B, 1, T, mla.qk_rope_head_dim),
      );
    } else if (architecture.fused_qkv) kernels.push(...qkvBias(path.qkvProj(i), [B, T, dq + 2 * dkv]));
    else {
      kernels.push(
        ...qkvBias(path.attnProjection(i, 'q_proj'), qHidden),
        ...qkvBias(path.attnProjection(i, 'k_proj'), kvHidden),
        ...qkvBias(path.attnProjection(i, 'v_proj'), kvHidden),
      );
    }
    if (architecture.qk_norm) {
      kernels.push(...norm(path.qNorm(i), [B, H, T, dk]), ...norm(path.kNorm(i), [B, Hkv, T, dk]));
    }
    if (architecture.positions === 'rope' && mla === undefined) {
      kernels.push(...rope(path.rope(i), 'q', B, H, T, dk), ...rope(path.rope(i), 'k', B, Hkv, T, dk));
    }
    // The scale, cap, mask and softmax, dense or block by block (attention_core_kernels.ts).
    kernels.push(...attentionCoreKernels(config, run, i, kernelEstimate));
    kernels.push(
      ...outputBias(path.attnProjection(i, 'output_proj'), hidden),
      ...(architecture.post_norms ? norm(path.postAttnNorm(i), hidden) : []),
      kernelEstimate(path.layer(i), 'Add', 'x + attn(ln1(x))', [hidden, hidden], hidden),
      ...norm(path.ln2(i), hidden),
    );
    const moe = architecture.moe;
    if (moe !== undefined && isMoeLayer(architecture, i)) {
      kernels.push(...moeKernels(i, moe, B, T, d, layerExpertRows(config, run, i), ffn));
    } else {
      kernels.push(...ffn(path.ffn(i), [B, T], F));
    }
    kernels.push(
      ...(architecture.post_norms ? norm(path.postFfnNorm(i), hidden) : []),
      kernelEstimate(path.layer(i), 'Add', 'x + ffn(ln2(x))', [hidden, hidden], hidden),
    );
  }
  kernels.push(...norm(path.lnFinal, hidden));
  if (architecture.final_softcap !== undefined) kernels.push(...softcap(path.finalSoftcap, 'logits', [B, T, Vp]));

  let total = 0n;
  const byKernel = new Map<string, bigint>();
  for (const kernel of kernels) {
    total += kernel.flops;
    byKernel.set(kernel.kernel, (byKernel.get(kernel.kernel) ?? 0n) + kernel.flops);
  }
  return { kernels, total, byKernel };
}
