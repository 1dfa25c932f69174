/**
 * One vocabulary of module paths (design.md section 2). The same strings name the weights, the
 * model's scopes, the analytic inventory rows, the trace records and the report rows.
 *
 *   token_embeddings
 *   layers.{i}.ln1   layers.{i}.attn.{q_proj,k_proj,v_proj,output_proj}
 *                    layers.{i}.attn.scores        (q @ k^T, with its scale and causal mask)
 *                    layers.{i}.attn.softmax       (softmax over the masked scores)
 *                    layers.{i}.attn.weighted_sum  (P @ v)
 *                    layers.{i}.attn.rope          (rotary embedding of q and k)
 *   layers.{i}.ln2   layers.{i}.ffn.{w1,w2,w3}
 *                    layers.{i}.ffn.silu  layers.{i}.ffn.gate  (SiLU(w1 x) and its product with w3 x)
 *   ln_final  lm_head  loss
 *
 * Architecture variants add: position_embeddings (learned positions), layers.{i}.ffn.gelu (the
 * two-matrix MLP's activation, between w1 and w2; that MLP has no w3), and for LayerNorm and
 * biased linear layers a second weight named "bias" at the same module path.
 *
 * The newer dense architectures add their own leaves, never an old name with a new meaning:
 *   layers.{i}.attn.qkv_proj       q, k and v as one fused projection (Phi-3), instead of q_proj, k_proj, v_proj
 *   layers.{i}.attn.q_norm, k_norm a norm over head_dim on each query and key head (Qwen3, Gemma 3)
 *   layers.{i}.attn.softcap        cap * tanh(scores / cap) on the attention logits (Gemma 2)
 *   layers.{i}.post_attn_norm      the norm of the attention output before its residual add (Gemma 2)
 *   layers.{i}.post_ffn_norm       the norm of the FFN output before its residual add (Gemma 2)
 *   layers.{i}.ffn.gate_up_proj    W1 and W3 as one fused projection (Phi-3), instead of w1 and w3
 *   layers.{i}.ffn.gelu            also GeGLU's activation, whose product with w3 x is ffn.gate
 *   embedding_scale                the embeddings times sqrt(d_model) (Gemma)
 *   final_softcap                  cap * tanh(logits / cap) on lm_head's output (Gemma 2)
 *
 * A mixture-of-experts layer (moe.ts in config) has, in place of ffn:
 *   layers.{i}.moe.router                  logits x Wr [d, E], and its softmax
 *   layers.{i}.moe.top_k                   the k largest probabilities per token, renormalised or not
 *   layers.{i}.moe.experts.{e}.{w1,w2,w3}  routed expert e (silu, gate, gelu as in ffn), on its rows
 *   layers.{i}.moe.experts.{e}.combine     its output times the routing weight
 *   layers.{i}.moe.combine                 every expert's weighted rows scattered back to their tokens
 *   layers.{i}.moe.shared.{w1,w2,w3}       the shared expert every token visits
 *   layers.{i}.moe.shared_gate             sigmoid(x ws), ws [d, 1], scaling the shared expert (Qwen2-MoE)
 *
 * A multi-head latent attention layer (latent_attention.ts in config) has, in place of q_proj, k_proj
 * and v_proj (q_proj stays when the query is full-rank):
 *   layers.{i}.attn.q_down          x -> the query latent [d, rq]
 *   layers.{i}.attn.q_latent_norm   RMSNorm over the query latent
 *   layers.{i}.attn.q_up            the latent -> every head's query [rq, H (dn + dr)]
 *   layers.{i}.attn.kv_down         x -> the key/value latent and the shared rope key [d, r + dr]
 *   layers.{i}.attn.kv_latent_norm  RMSNorm over the key/value latent
 *   layers.{i}.attn.kv_up           the latent -> every head's key part and value [r, H (dn + dv)]
 *
 * A decode step over a latent cache computes kv_up in its absorbed form, two leaves of its own:
 *   layers.{i}.attn.absorb_k        each head's q_C times kv_up's key half [H, dn, r]
 *   layers.{i}.attn.absorb_v        each head's weighted latent times kv_up's value half [H, r, dv]
 *
 * attn.rope, attn.softmax, ffn.silu, ffn.gate and loss extend design.md's list so that every
 * non-matmul kernel (and every saved activation of the training step) has a leaf of its own.
 * Kernels outside every leaf (head split/merge, residual adds) carry the enclosing path,
 * e.g. `layers.3.attn` or `layers.3`.
 */

export const ATTENTION_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'output_proj'] as const;
export const FFN_MATRICES = ['w1', 'w2', 'w3'] as const;

export type AttentionProjection = (typeof ATTENTION_PROJECTIONS)[number];
/** Multi-head latent attention's down and up projections. */
export const LATENT_PROJECTIONS = ['q_down', 'q_up', 'kv_down', 'kv_up'] as const;
export type LatentProjection = (typeof LATENT_PROJECTIONS)[number];
/**
 * A decode step's absorbed form of kv_up (model/latent_attention.ts): its key half folded into
 * each head's query (absorb_k), its value half applied after the weighted sum (absorb_v).
 */
export const ABSORBED_PROJECTIONS = ['absorb_k', 'absorb_v'] as const;
export type AbsorbedProjection = (typeof ABSORBED_PROJECTIONS)[number];
export type FfnMatrix = (typeof FFN_MATRICES)[number];

export const path = {
  tokenEmbeddings: 'token_embeddings',
  positionEmbeddings: 'position_embeddings',
  layer: (i: number) => `layers.${i}`,
  ln1: (i: number) => `layers.${i}.ln1`,
  ln2: (i: number) => `layers.${i}.ln2`,
  attn: (i: number) => `layers.${i}.attn`,
  attnProjection: (i: number, name: AttentionProjection) => `layers.${i}.attn.${name}`,
  scores: (i: number) => `layers.${i}.attn.scores`,
  softmax: (i: number) => `layers.${i}.attn.softmax`,
  weightedSum: (i: number) => `layers.${i}.attn.weighted_sum`,
  rope: (i: number) => `layers.${i}.attn.rope`,
  qkvProj: (i: number) => `layers.${i}.attn.qkv_proj`,
  qNorm: (i: number) => `layers.${i}.attn.q_norm`,
  kNorm: (i: number) => `layers.${i}.attn.k_norm`,
  latentProjection: (i: number, name: LatentProjection | AbsorbedProjection) => `layers.${i}.attn.${name}`,
  qLatentNorm: (i: number) => `layers.${i}.attn.q_latent_norm`,
  kvLatentNorm: (i: number) => `layers.${i}.attn.kv_latent_norm`,
  attnSoftcap: (i: number) => `layers.${i}.attn.softcap`,
  postAttnNorm: (i: number) => `layers.${i}.post_attn_norm`,
  postFfnNorm: (i: number) => `layers.${i}.post_ffn_norm`,
  ffn: (i: number) => `layers.${i}.ffn`,
  ffnMatrix: (i: number, name: FfnMatrix) => `layers.${i}.ffn.${name}`,
  gateUpProj: (i: number) => `layers.${i}.ffn.gate_up_proj`,
  silu: (i: number) => `layers.${i}.ffn.silu`,
  gate: (i: number) => `layers.${i}.ffn.gate`,
  gelu: (i: number) => `layers.${i}.ffn.gelu`,
  moe: (i: number) => `layers.${i}.moe`,
  router: (i: number) => `layers.${i}.moe.router`,
  topK: (i: number) => `layers.${i}.moe.top_k`,
  expert: (i: number, e: number) => `layers.${i}.moe.experts.${e}`,
  expertMatrix: (i: number, e: number, name: FfnMatrix) => `layers.${i}.moe.experts.${e}.${name}`,
  /** The routed experts' weighted rows scattered back to their tokens. */
  moeCombine: (i: number) => `layers.${i}.moe.combine`,
  sharedExpert: (i: number) => `layers.${i}.moe.shared`,
  sharedMatrix: (i: number, name: FfnMatrix) => `layers.${i}.moe.shared.${name}`,
  sharedGate: (i: number) => `layers.${i}.moe.shared_gate`,
  embeddingScale: 'embedding_scale',
  lnFinal: 'ln_final',
  lmHead: 'lm_head',
  finalSoftcap: 'final_softcap',
  loss: 'loss',
} as const;

/**
 * Components for FLOP breakdowns. Matmul work falls in the first four; everything else
 * (norms, softmax, RoPE, SiLU, residual adds, reshapes) is `non_matmul` and is reported apart.
 */
export const FLOP_COMPONENTS = [
  'attention_projections',
  'latent_projections',
  'attention_core',
  'ffn',
  'router',
  'routed_experts',
  'shared_experts',
  'lm_head',
  'non_matmul',
] as const;
export type FlopComponent = (typeof FLOP_COMPONENTS)[number];

/** Components for parameter breakdowns. */
export const PARAMETER_COMPONENTS = [
  'token_embeddings',
  'position_embeddings',
  'attention',
  'latent_projections',
  'ffn',
  'router',
  'routed_experts',
  'shared_experts',
  'norms',
  'lm_head',
] as const;
export type ParameterComponent = (typeof PARAMETER_COMPONENTS)[number];

/**
 * Blocked attention's blocks, a leaf under the module that computes them: "q2_k0" is query block
 * 2 against key block 0 (layers.{i}.attn.scores.q2_k0, weighted_sum.q2_k0), "q2" all of query
 * block 2 (softmax.q2, and weighted_sum.q2 for the sum over its key blocks).
 */
export function blockLeaf(queryBlock: number, keyBlock?: number): string {
  return keyBlock === undefined ? `q${queryBlock}` : `q${queryBlock}_k${keyBlock}`;
}

const LAYER_PATH = /^layers\.(\d+)(?:\.(.*))?$/;

/** The layer index a path belongs to, or undefined outside the layers (embeddings, ln_final, lm_head, loss). */
export function layerIndexOf(modulePath: string): number | undefined {
  const match = LAYER_PATH.exec(modulePath);
  return match ? Number(match[1]) : undefined;
}

/** The path with its `layers.{i}.` prefix removed ("attn.q_proj"), or the path itself outside layers. */
export function withinLayer(modulePath: string): string {
  const match = LAYER_PATH.exec(modulePath);
  return match ? (match[2] ?? '') : modulePath;
}

/** The FLOP component of a matmul at `modulePath`; undefined when the path names no matmul. */
export function matmulComponentOf(modulePath: string): Exclude<FlopComponent, 'non_matmul'> | undefined {
  const local = withinLayer(modulePath);
  if (modulePath === path.lmHead) return 'lm_head';
  if (layerIndexOf(modulePath) === undefined) return undefined;
  if (/^attn\.(q_proj|k_proj|v_proj|qkv_proj|output_proj)$/.test(local)) return 'attention_projections';
  if (/^attn\.(q_down|q_up|kv_down|kv_up|absorb_k|absorb_v)$/.test(local)) return 'latent_projections';
  if (/^attn\.(scores|weighted_sum)(\.q\d+_k\d+)?$/.test(local)) return 'attention_core';
  if (/^ffn\.(w1|w2|w3|gate_up_proj)$/.test(local)) return 'ffn';
  return moeComponentOf(local, /^(w1|w2|w3)$/);
}

/** router, routed_experts or shared_experts for a path within a MoE layer whose leaf matches `leaf`. */
function moeComponentOf(local: string, leaf: RegExp): 'router' | 'routed_experts' | 'shared_experts' | undefined {
  if (local === 'moe.router') return 'router';
  const expert = /^moe\.experts\.\d+\.(.+)$/.exec(local);
  if (expert !== null) return leaf.test(expert[1] ?? '') ? 'routed_experts' : undefined;
  const shared = /^moe\.shared\.(.+)$/.exec(local);
  if (shared !== null) return leaf.test(shared[1] ?? '') ? 'shared_experts' : undefined;
  if (local === 'moe.shared_gate') return 'shared_experts';
  return undefined;
}

/** The expert index of a path within a routed expert ("layers.3.moe.experts.5.w1" -> 5), else undefined. */
export function expertIndexOf(modulePath: string): number | undefined {
  const match = /^layers\.\d+\.moe\.experts\.(\d+)(?:\.|$)/.exec(modulePath);
  return match ? Number(match[1]) : undefined;
}

/** The parameter component of a weight at `modulePath`. */
export function parameterComponentOf(modulePath: string): ParameterComponent | undefined {
  if (modulePath === path.tokenEmbeddings) return 'token_embeddings';
  if (modulePath === path.positionEmbeddings) return 'position_embeddings';
  if (modulePath === path.lmHead) return 'lm_head';
  if (modulePath === path.lnFinal) return 'norms';
  const local = withinLayer(modulePath);
  if (layerIndexOf(modulePath) === undefined) return undefined;
  if (/^(ln1|ln2|post_attn_norm|post_ffn_norm|attn\.(q_norm|k_norm|q_latent_norm|kv_latent_norm))$/.test(local)) {
    return 'norms';
  }
  if (/^attn\.(q_down|q_up|kv_down|kv_up)$/.test(local)) return 'latent_projections';
  if (local.startsWith('attn.')) return 'attention';
  if (local.startsWith('ffn.')) return 'ffn';
  return moeComponentOf(local, /^(w1|w2|w3)$/);
}

/**
 * The path rolled up to `depth` segments of meaning: depth 0 is the whole model (""),
 * depth 1 a top-level module ("layers", "lm_head"), depth 2 one layer ("layers.3"), depth 3
 * a block part ("layers.3.attn"), and deeper the leaf. Top-level modules are their own roll-up.
 */
export function rollUp(modulePath: string, depth: number): string {
  if (depth <= 0) return '';
  const parts = modulePath.split('.');
  return parts.slice(0, Math.min(depth, parts.length)).join('.');
}

/**
 * The kind of module a path is across layers: "layers.3.attn.q_proj" -> "layers.*.attn.q_proj",
 * "layers.3" (the residual adds) -> "layers.*"; deeper paths are cut to the block part's leaf
 * ("layers.3.attn.scores.q0_k1" -> "layers.*.attn.scores"). Paths outside the layers are their
 * own kind. Per-layer tables would repeat every row L times; this sums a kind over the layers.
 */
export function moduleKindOf(modulePath: string): string {
  if (layerIndexOf(modulePath) === undefined) return modulePath;
  const local = withinLayer(modulePath);
  return local === '' ? 'layers.*' : `layers.*.${rollUp(local, 2)}`;
}
