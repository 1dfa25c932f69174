import { architectureOf, type MlaArchitecture, type ModelConfig } from '../../config/model_config.js';
import { parameterInventory } from '../parameters.js';
import { InputError } from '../../core/errors.js';
import { ATTENTION_PROJECTIONS, path } from '../../core/module_paths.js';

/**
 * Which forward values a backward pass differentiates. tf.grads (like any reverse-mode autodiff
 * that prunes its tape) computes the gradient of a value only when the value lies on a path from
 * a trained weight to the loss. Every value here reaches the loss, so what decides it is whether
 * the value depends on at least one trained weight.
 *
 * With every weight trained nothing is pruned: even layer 0's input depends on token_embeddings.
 * Freezing the embedding alone still prunes no matmul gradient, because layer 0's ln1 gain is
 * trained and its output feeds q, k, v. The ids are integers and never get a gradient.
 *
 * Variants: a bias lives at its layer's path, so freezing a path freezes weight and bias
 * together, and a trained bias makes its layer's output depend on a trained weight as its matrix
 * does. Learned positions are added to the embeddings, so the residual stream starts trained when
 * either table is. The GELU MLP's hidden value depends on w1 alone (there is no w3). Tied
 * embeddings: lm_head has no weight of its own; its weight gradient lands on token_embeddings
 * and exists when that table is trained. A fused qkv_proj (gate_up_proj) is one weight for q, k
 * and v (w1 and w3). A q or k norm's gain makes q or k depend on a trained weight; a post-norm's
 * gain does the same for the sub-block output it normalises. The embedding scale and the
 * soft-caps have no parameters.
 */
export interface GradientFlowOptions {
  /** Module paths of parameters left out of training, e.g. ["token_embeddings", "layers.0.ln1"]. */
  readonly frozen?: readonly string[];
}

/** For each matmul operand of one layer: does it depend on a trained weight? */
export interface LayerFlow {
  /** Input of q_proj, k_proj and v_proj: ln1's output. */
  readonly attentionInput: boolean;
  readonly q: boolean;
  readonly k: boolean;
  readonly v: boolean;
  /** softmax(q k^T / sqrt(dk)). */
  readonly probabilities: boolean;
  /** Input of q_up with latent attention: the query latent after its norm (false without one). */
  readonly queryLatent: boolean;
  /** Input of kv_up with latent attention: the key/value latent after its norm (false without latent attention). */
  readonly keyValueLatent: boolean;
  /** Input of output_proj: the merged heads of P v. */
  readonly attentionOutput: boolean;
  /** Input of w1 and w3: ln2's output. */
  readonly ffnInput: boolean;
  /** Input of w2: SiLU(x W1) * (x W3), or GELU(x W1) for the GELU MLP. */
  readonly ffnHidden: boolean;
}

export interface GradientFlow {
  /** Parameter paths that are trained (all but the frozen ones). */
  readonly trained: ReadonlySet<string>;
  readonly frozen: readonly string[];
  readonly layers: readonly LayerFlow[];
  /** Input of lm_head: ln_final's output. */
  readonly lmHeadInput: boolean;
  /** The parameter path lm_head multiplies by: lm_head, or token_embeddings when tied. */
  readonly lmHeadWeight: string;
}

/** Follows the architecture of design.md section 1 value by value, as written on paper. */
export function gradientFlow(config: ModelConfig, options: GradientFlowOptions = {}): GradientFlow {
  const architecture = architectureOf(config);
  const parameterPaths = [...new Set(parameterInventory(config).map((row) => row.path))];
  const frozen = [...new Set(options.frozen ?? [])];
  const unknown = frozen.filter((name) => !parameterPaths.includes(name));
  if (unknown.length > 0) {
    throw new InputError(
      unknown.map(
        (name) =>
          `frozen: "${name}" names no parameter of ${config.name}; ` +
          `use a weight's module path, e.g. ${path.tokenEmbeddings} or ${path.ln1(0)}`,
      ),
    );
  }
  const trained = new Set(parameterPaths.filter((name) => !frozen.includes(name)));
  const isTrained = (name: string) => trained.has(name);

  // The residual stream starts as the embedding lookup E[ids] (+ P[0..T-1] with learned positions).
  let residual =
    isTrained(path.tokenEmbeddings) || (architecture.positions === 'learned' && isTrained(path.positionEmbeddings));
  const layers: LayerFlow[] = [];
  for (let i = 0; i < config.num_layers; i++) {
    const projected = (name: (typeof ATTENTION_PROJECTIONS)[number], input: boolean) =>
      input ||
      isTrained(architecture.fused_qkv && name !== 'output_proj' ? path.qkvProj(i) : path.attnProjection(i, name));
    const normed = (value: boolean, normPath: string, present: boolean) => value || (present && isTrained(normPath));
    const attentionInput = residual || isTrained(path.ln1(i));
    // RoPE has no parameters, so rotated q and k depend on what q and k (after their norms) depend on.
    const latent = latentFlow(architecture.mla, i, attentionInput, isTrained);
    const q = latent?.q ?? normed(projected('q_proj', attentionInput), path.qNorm(i), architecture.qk_norm);
    const k = latent?.k ?? normed(projected('k_proj', attentionInput), path.kNorm(i), architecture.qk_norm);
    const v = latent?.v ?? projected('v_proj', attentionInput);
    const probabilities = q || k;
    const attentionOutput = probabilities || v;
    const attended = normed(projected('output_proj', attentionOutput), path.postAttnNorm(i), architecture.post_norms);
    residual = residual || attended;

    const ffnInput = residual || isTrained(path.ln2(i));
    const fusedOutput = architecture.fused_gate_up && (ffnInput || isTrained(path.gateUpProj(i)));
    const w1Output = fusedOutput || ffnInput || isTrained(path.ffnMatrix(i, 'w1'));
    const w3Output = architecture.gated_ffn && (fusedOutput || ffnInput || isTrained(path.ffnMatrix(i, 'w3')));
    const ffnHidden = w1Output || w3Output;
    const transformed = normed(
      ffnHidden || isTrained(path.ffnMatrix(i, 'w2')),
      path.postFfnNorm(i),
      architecture.post_norms,
    );
    residual = residual || transformed;
    layers.push({
      attentionInput,
      queryLatent: latent?.queryLatent ?? false,
      keyValueLatent: latent?.keyValueLatent ?? false,
      q,
      k,
      v,
      probabilities,
      attentionOutput,
      ffnInput,
      ffnHidden,
    });
  }
  const lmHeadInput = residual || isTrained(path.lnFinal);
  const lmHeadWeight = architecture.tie_embeddings ? path.tokenEmbeddings : path.lmHead;
  return { trained, frozen, layers, lmHeadInput, lmHeadWeight };
}

/**
 * What a latent-attention layer's operands depend on (config/latent_attention.ts): the query
 * through q_down, its norm and q_up (or q_proj); every key through kv_down (the rope key comes
 * straight from it), the latent's norm and kv_up; the values through the same latent and kv_up.
 */
function latentFlow(
  mla: MlaArchitecture | undefined,
  i: number,
  attentionInput: boolean,
  isTrained: (name: string) => boolean,
): { queryLatent: boolean; keyValueLatent: boolean; q: boolean; k: boolean; v: boolean } | undefined {
  if (mla === undefined) return undefined;
  const queryLatent =
    mla.q_lora_rank !== undefined &&
    (attentionInput || isTrained(path.latentProjection(i, 'q_down')) || isTrained(path.qLatentNorm(i)));
  const q =
    mla.q_lora_rank === undefined
      ? attentionInput || isTrained(path.attnProjection(i, 'q_proj'))
      : queryLatent || isTrained(path.latentProjection(i, 'q_up'));
  const compressed = attentionInput || isTrained(path.latentProjection(i, 'kv_down'));
  const keyValueLatent = compressed || isTrained(path.kvLatentNorm(i));
  const v = keyValueLatent || isTrained(path.latentProjection(i, 'kv_up'));
  return { queryLatent, keyValueLatent, q, k: v || compressed, v };
}
