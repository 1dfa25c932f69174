import { forwardMatmulInventory } from '../forward_matmuls.js';
import type { MatmulRow } from '../types.js';
import { dimensionSymbols, queryGroupSize } from '../dimension_symbols.js';
import { architectureOf, headDim, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { matmulFlops, matmulMacs, product } from '../../core/counting.js';
import { InputError } from '../../core/errors.js';
import { layerIndexOf, path, withinLayer } from '../../core/module_paths.js';
import { gradientFlow, type GradientFlow, type GradientFlowOptions, type LayerFlow } from './gradient_flow.js';

/**
 * One matmul of the backward pass. `path` is the FORWARD matmul's module path (backward kernels
 * are attributed to the module they differentiate) and `component` the forward row's component.
 */
export interface BackwardMatmulRow extends MatmulRow {
  readonly gradient: 'input' | 'weight';
  /** The forward operand this is the gradient of: 'x' or 'W' for a linear layer, 'q', 'k', 'P', 'v' in attention. */
  readonly operand: string;
  /** The forward matmul's own description, e.g. "x @ Wq". */
  readonly forwardDescription: string;
  /** Why a real backward pass does not run this matmul; absent when it runs. */
  readonly skipped?: string;
}

export type BackwardOptions = GradientFlowOptions;

/**
 * A linear layer y = x W as calculus sees it, with the activations flattened to x [N, d_in]
 * (N = B*T tokens) and the weight [d_in, d_out]. Whatever layout the model stores its weight in,
 * the two gradient products have these sizes.
 */
interface LinearShape {
  readonly weight: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly inSymbol: string;
  readonly outSymbol: string;
}

interface LinearLayer extends LinearShape {
  /** Does the layer's input depend on a trained weight? */
  readonly inputFlows: (flow: LayerFlow) => boolean;
}

function linearLayers(config: ModelConfig): Readonly<Record<string, LinearLayer>> {
  const { d_model: d, d_ff: F } = config;
  const architecture = architectureOf(config);
  const { q_dim: dq, kv_dim: dkv } = architecture;
  const { q: qSymbol, kv } = dimensionSymbols(config);
  const layer = (
    weight: string,
    [dIn, inSymbol]: readonly [number, string],
    [dOut, outSymbol]: readonly [number, string],
    inputFlows: LinearLayer['inputFlows'],
  ): LinearLayer => ({ weight, dIn, dOut, inSymbol, outSymbol, inputFlows });
  const model: readonly [number, string] = [d, 'd'];
  const hidden: readonly [number, string] = [F, 'F'];
  const query: readonly [number, string] = [dq, qSymbol];
  const keyValue: readonly [number, string] = [dkv, kv];
  const layers: Record<string, LinearLayer> = {
    'attn.output_proj': layer('Wo', query, model, (flow) => flow.attentionOutput),
    'ffn.w2': layer('W2', hidden, model, (flow) => flow.ffnHidden),
  };
  const mla = architecture.mla;
  if (mla !== undefined) {
    // Latent attention (config/latent_attention.ts): its projections are linear layers like any other.
    const H = config.num_heads;
    const heads: readonly [number, string] = [H * mla.qk_head_dim, 'H*dqk'];
    const latent: readonly [number, string] = [mla.kv_lora_rank, 'r'];
    layers['attn.output_proj'] = layer('Wo', [H * mla.v_head_dim, 'H*dv'], model, (flow) => flow.attentionOutput);
    if (mla.q_lora_rank === undefined) layers['attn.q_proj'] = layer('Wq', model, heads, (flow) => flow.attentionInput);
    else {
      const rank: readonly [number, string] = [mla.q_lora_rank, 'rq'];
      layers['attn.q_down'] = layer('W_DQ', model, rank, (flow) => flow.attentionInput);
      layers['attn.q_up'] = layer('W_UQ', rank, heads, (flow) => flow.queryLatent);
    }
    layers['attn.kv_down'] = layer(
      'W_DKV',
      model,
      [mla.kv_lora_rank + mla.qk_rope_head_dim, 'r+dr'],
      (flow) => flow.attentionInput,
    );
    layers['attn.kv_up'] = layer(
      'W_UKV',
      latent,
      [H * (mla.qk_nope_head_dim + mla.v_head_dim), 'H*(dn+dv)'],
      (flow) => flow.keyValueLatent,
    );
  } else if (architecture.fused_qkv) {
    const joined: readonly [number, string] = [dq + 2 * dkv, `${qSymbol}+2*${kv}`];
    layers['attn.qkv_proj'] = layer('Wqkv', model, joined, (flow) => flow.attentionInput);
  } else {
    layers['attn.q_proj'] = layer('Wq', model, query, (flow) => flow.attentionInput);
    layers['attn.k_proj'] = layer('Wk', model, keyValue, (flow) => flow.attentionInput);
    layers['attn.v_proj'] = layer('Wv', model, keyValue, (flow) => flow.attentionInput);
  }
  if (architecture.fused_gate_up) {
    layers['ffn.gate_up_proj'] = layer('W13', model, [2 * F, '2*F'], (flow) => flow.ffnInput);
  } else {
    layers['ffn.w1'] = layer('W1', model, hidden, (flow) => flow.ffnInput);
    if (architecture.gated_ffn) layers['ffn.w3'] = layer('W3', model, hidden, (flow) => flow.ffnInput);
  }
  return layers;
}

/**
 * The linear layers of a MoE layer (forward_matmuls.ts, moeMatmuls), by their path within the
 * layer: the router d -> E, each routed expert's w1, w3 (d -> Fe) and w2 (Fe -> d) on its gathered
 * rows, the shared expert's (Fs) and its gate d -> 1 on every token. The router's input and the
 * experts' are ln2's output; w2's is the expert's hidden activation.
 */
function moeLinearOf(config: ModelConfig, local: string): LinearLayer | undefined {
  const moe = architectureOf(config).moe;
  if (moe === undefined || !local.startsWith('moe.')) return undefined;
  const d = config.d_model;
  const toInput = (flow: LayerFlow) => flow.ffnInput;
  const toHidden = (flow: LayerFlow) => flow.ffnHidden;
  if (local === 'moe.router') {
    return { weight: 'Wr', dIn: d, dOut: moe.num_experts, inSymbol: 'd', outSymbol: 'E', inputFlows: toInput };
  }
  if (local === 'moe.shared_gate') {
    return { weight: 'ws', dIn: d, dOut: 1, inSymbol: 'd', outSymbol: '1', inputFlows: toInput };
  }
  const matrix = /^moe\.(?:experts\.\d+|shared)\.(w1|w2|w3)$/.exec(local)?.[1];
  if (matrix === undefined) return undefined;
  const shared = local.startsWith('moe.shared.');
  const width = shared ? moe.shared_d_ff : moe.expert_d_ff;
  if (width === undefined) return undefined;
  const hidden = shared ? 'Fs' : 'Fe';
  const weight = matrix.toUpperCase();
  return matrix === 'w2'
    ? { weight, dIn: width, dOut: d, inSymbol: hidden, outSymbol: 'd', inputFlows: toHidden }
    : { weight, dIn: d, dOut: width, inSymbol: 'd', outSymbol: hidden, inputFlows: toInput };
}

interface GradientShape {
  readonly gradient: BackwardMatmulRow['gradient'];
  readonly operand: string;
  readonly description: string;
  readonly symbolicShapes: string;
  readonly batch: readonly number[];
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly skipped: string | undefined;
}

function backwardRow(forward: MatmulRow, shape: GradientShape): BackwardMatmulRow {
  const batchElements = product(shape.batch);
  const [m, k, n] = [BigInt(shape.m), BigInt(shape.k), BigInt(shape.n)];
  return {
    path: forward.path,
    component: forward.component,
    description: shape.description,
    symbolicShapes: shape.symbolicShapes,
    batch: shape.batch,
    m: shape.m,
    k: shape.k,
    n: shape.n,
    flops: matmulFlops(batchElements, m, k, n),
    macs: matmulMacs(batchElements, m, k, n),
    gradient: shape.gradient,
    operand: shape.operand,
    forwardDescription: forward.description,
    ...(shape.skipped === undefined ? {} : { skipped: shape.skipped }),
  };
}

/**
 * For every forward matmul, in forwardMatmulInventory's order, its gradient matmuls, derived by
 * calculus on paper:
 *
 * - linear y = x W, x [N, d_in], W [d_in, d_out], N = B*T:
 *     dx = dy W^T: [N, d_out] x [d_out, d_in]   (batch [], m = N, k = d_out, n = d_in)
 *     dW = x^T dy: [d_in, N] x [N, d_out]       (batch [], m = d_in, k = N, n = d_out)
 *   The weight is shared by all B*T tokens, so dW sums over them: one matmul with k = N.
 * - scores S = q k^T per (b, h), q and k [T, dk] (the 1/sqrt(dk) scale is elementwise):
 *     dq = dS k:   [T, T] x [T, dk]             (batch [B, H])
 *     dk = dS^T q: [T, T] x [T, dk]             (batch [B, H])
 * - weighted sum O = P v per (b, h), P [T, T], v [T, dk]:
 *     dP = dO v^T: [T, dk] x [dk, T]            (batch [B, H])
 *     dv = P^T dO: [T, T] x [T, dk]             (batch [B, H])
 * - lm_head is a linear layer from d to Vp (the padded vocabulary).
 *
 * Variants:
 * - grouped-query / multi-query attention (Hkv key/value heads, G = H / Hkv query heads each):
 *   k_proj and v_proj are linear layers from d to dkv = Hkv * dk. In the core a key/value head
 *   is broadcast over its G query heads, so its gradient sums over them. Stacking the group's
 *   query rows, q_group [G*T, dk] and S_group [G*T, T] per (b, j), that sum is the contraction
 *   of one matmul:
 *     dk = dS_group^T q_group: [T, G*T] x [G*T, dk]   (batch [B, Hkv])
 *     dv = P_group^T dO_group: [T, G*T] x [G*T, dk]   (batch [B, Hkv])
 *   dq and dP stay one per query head. With G = 1 these are the multi-head rows above.
 * - GELU MLP: w1 and w2 only; biases add no matmul (a bias's gradient sums dy over the tokens).
 * - head_dim of its own: q_proj is a linear layer from d to dq = H * dh, output_proj from dq to d.
 * - fused qkv_proj (d to dq + 2 dkv) and gate_up_proj (d to 2F) are linear layers like any
 *   other: one dx and one dW each, where the unfused layers have three and two. The split after
 *   them is data movement; its gradient concatenates the three (two) gradients into one.
 * - q/k norms, post-norms, the embedding scale and the soft-caps are elementwise: no matmul.
 * - latent attention: q_down, q_up (or q_proj), kv_down, kv_up and output_proj (from H dv) are
 *   linear layers; in the core dk = dn + dr and the value gradients are dv wide:
 *     dP = dO v^T: [T, dv] x [dv, T];  dv = P^T dO: [T, T] x [T, dv]   (batch [B, H])
 *   The rope key shared by the heads gets the sum of their gradients, one reduction, no matmul.
 * - tied embeddings: lm_head multiplies by E^T with E = token_embeddings [Vp, d], so its input
 *   gradient is dx = dy E: [N, Vp] x [Vp, d], and its weight gradient lands on the table in
 *   the table's own layout: dE = dy^T x: [Vp, N] x [N, d] (batch [], m = Vp, k = N, n = d),
 *   added to the embedding lookup's scatter-add into the same table.
 *
 * Each gradient matmul has the same m*k*n as its forward matmul, so the backward matmuls cost
 * exactly twice the forward ones whenever none is skipped. The token embedding (and a learned
 * position table) is a gather: its gradient is a scatter-add of dy into the rows of the table
 * (no matmul), and the integer ids get none.
 *
 * A real backward pass skips a row only when its operand depends on no trained weight (see
 * gradientFlow). With every weight trained, which is what training does here, no row is skipped;
 * `options.frozen` describes variants. Skipped rows stay in the inventory with `skipped` set.
 */
export function backwardMatmulInventory(
  config: ModelConfig,
  run: RunShape,
  options: BackwardOptions = {},
): BackwardMatmulRow[] {
  if (config.num_experts !== undefined && (options.frozen ?? []).length > 0) {
    // Which gradients flow past a frozen router or expert is not derived; the step trains every weight.
    throw new InputError(
      `${config.source}: num_experts (${config.num_experts}): frozen weights in a mixture of experts are not ` +
        'modelled; fix: train every weight (leave frozen out)',
    );
  }
  const forwardRows = forwardMatmulInventory(config, run);
  const flow = gradientFlow(config, options);
  const tokens = run.batch * run.seq;
  if (!Number.isSafeInteger(tokens)) {
    throw new InputError(
      `run: batch x seq (${run.batch} x ${run.seq}) is more than ${Number.MAX_SAFE_INTEGER} tokens; use a smaller batch`,
    );
  }
  const linears = linearLayers(config);
  const rows: BackwardMatmulRow[] = [];
  for (const forward of forwardRows) {
    for (const shape of gradientShapes(config, run, tokens, forward, flow, linears)) {
      rows.push(backwardRow(forward, shape));
    }
  }
  return rows;
}

function gradientShapes(
  config: ModelConfig,
  run: RunShape,
  tokens: number,
  forward: MatmulRow,
  flow: GradientFlow,
  linears: Readonly<Record<string, LinearLayer>>,
): GradientShape[] {
  if (forward.path === path.lmHead) return lmHeadGradients(config, tokens, flow);
  const layer = layerIndexOf(forward.path);
  const layerFlow = layer === undefined ? undefined : flow.layers[layer];
  if (layerFlow === undefined) throw new Error(`backward: ${forward.path} is outside the model's layers`);
  const local = withinLayer(forward.path);
  const moeLinear = moeLinearOf(config, local);
  if (moeLinear !== undefined) {
    // A routed expert's gradients run on the rows it got (its forward row's m), the rest on every token.
    const rows = /^moe\.experts\.(\d+)\./.exec(local) === null ? 'B*T' : `n_${/\d+/.exec(local)![0]}`;
    return linearGradients(moeLinear, forward.path, forward.m, moeLinear.inputFlows(layerFlow), flow, rows);
  }
  const linear = linears[local];
  if (linear !== undefined) {
    return linearGradients(linear, forward.path, tokens, linear.inputFlows(layerFlow), flow);
  }
  const { batch: B, seq: T } = run;
  const H = config.num_heads;
  const Hkv = architectureOf(config).num_kv_heads;
  const G = queryGroupSize(config);
  const grouped = G !== 1;
  const dk = headDim(config);
  // Latent attention's values are v_head_dim wide; the scores' depth stays dk = dn + dr.
  const dv = architectureOf(config).mla?.v_head_dim ?? dk;
  const noFlow = (operand: string) => noGradientReason(operand, flow);
  const block = /^attn\.(scores|weighted_sum)\.q\d+_k\d+$/.exec(local);
  if (block !== null) {
    // A block of blocked attention: its R queries against its C keys, read off the forward row
    // (scores [R,dk] x [dk,C]; weighted sum [R,C] x [C,dk]); the same calculus with T -> R, C.
    const R = forward.m;
    const C = block[1] === 'scores' ? forward.n : forward.k;
    const kv = grouped ? 'Hkv' : 'H';
    if (block[1] === 'scores') {
      return [
        {
          gradient: 'input',
          operand: 'q',
          description: 'dq_a += dS_ab @ k_b',
          symbolicShapes: `[B,H,${R},${C}] x [B,${kv},${C},dk]`,
          batch: [B, H],
          m: R,
          k: C,
          n: dk,
          skipped: layerFlow.q ? undefined : noFlow('q'),
        },
        {
          gradient: 'input',
          operand: 'k',
          description: grouped
            ? `dk_b += dS_ab^T @ q_a, summed over the ${G} query heads sharing each k`
            : 'dk_b += dS_ab^T @ q_a',
          symbolicShapes: `[B,${kv},${C},${grouped ? 'G*' : ''}${R}] x [B,${kv},${grouped ? 'G*' : ''}${R},dk]`,
          batch: [B, Hkv],
          m: C,
          k: G * R,
          n: dk,
          skipped: layerFlow.k ? undefined : noFlow('k'),
        },
      ];
    }
    return [
      {
        gradient: 'input',
        operand: 'P',
        description: 'dP_ab = dO_a @ v_b^T',
        symbolicShapes: `[B,H,${R},dk] x [B,${kv},dk,${C}]`,
        batch: [B, H],
        m: R,
        k: dv,
        n: C,
        skipped: layerFlow.probabilities ? undefined : noFlow('P'),
      },
      {
        gradient: 'input',
        operand: 'v',
        description: grouped
          ? `dv_b += P_ab^T @ dO_a, summed over the ${G} query heads sharing each v`
          : 'dv_b += P_ab^T @ dO_a',
        symbolicShapes: `[B,${kv},${C},${grouped ? 'G*' : ''}${R}] x [B,${kv},${grouped ? 'G*' : ''}${R},dk]`,
        batch: [B, Hkv],
        m: C,
        k: G * R,
        n: dv,
        skipped: layerFlow.v ? undefined : noFlow('v'),
      },
    ];
  }
  if (local === 'attn.scores') {
    return [
      {
        gradient: 'input',
        operand: 'q',
        description: 'dq = dS @ k',
        symbolicShapes: grouped ? '[B,H,T,T] x [B,Hkv,T,dk]' : '[B,H,T,T] x [B,H,T,dk]',
        batch: [B, H],
        m: T,
        k: T,
        n: dk,
        skipped: layerFlow.q ? undefined : noFlow('q'),
      },
      {
        gradient: 'input',
        operand: 'k',
        description: grouped ? `dk = dS^T @ q, summed over the ${G} query heads sharing each k` : 'dk = dS^T @ q',
        symbolicShapes: grouped ? '[B,Hkv,T,G*T] x [B,Hkv,G*T,dk]' : '[B,H,T,T] x [B,H,T,dk]',
        batch: [B, Hkv],
        m: T,
        k: G * T,
        n: dk,
        skipped: layerFlow.k ? undefined : noFlow('k'),
      },
    ];
  }
  if (local === 'attn.weighted_sum') {
    return [
      {
        gradient: 'input',
        operand: 'P',
        description: 'dP = dO @ v^T',
        symbolicShapes: grouped ? '[B,H,T,dk] x [B,Hkv,dk,T]' : '[B,H,T,dk] x [B,H,dk,T]',
        batch: [B, H],
        m: T,
        k: dv,
        n: T,
        skipped: layerFlow.probabilities ? undefined : noFlow('P'),
      },
      {
        gradient: 'input',
        operand: 'v',
        description: grouped ? `dv = P^T @ dO, summed over the ${G} query heads sharing each v` : 'dv = P^T @ dO',
        symbolicShapes: grouped ? '[B,Hkv,T,G*T] x [B,Hkv,G*T,dk]' : '[B,H,T,T] x [B,H,T,dk]',
        batch: [B, Hkv],
        m: T,
        k: G * T,
        n: dv,
        skipped: layerFlow.v ? undefined : noFlow('v'),
      },
    ];
  }
  throw new Error(`backward: no gradient rule for the matmul at ${forward.path}`);
}

/**
 * lm_head's two gradients: an untied [d, Vp] weight is any linear layer; a tied one is E^T, whose
 * weight gradient is formed in the table's [Vp, d] layout and belongs to token_embeddings.
 */
function lmHeadGradients(config: ModelConfig, tokens: number, flow: GradientFlow): GradientShape[] {
  const { padded_vocab_size: Vp, tie_embeddings } = architectureOf(config);
  const d = config.d_model;
  const vocab = dimensionSymbols(config).vocab;
  if (!tie_embeddings) {
    const lmHead: LinearShape = { weight: 'Wlm', dIn: d, dOut: Vp, inSymbol: 'd', outSymbol: vocab };
    return linearGradients(lmHead, path.lmHead, tokens, flow.lmHeadInput, flow);
  }
  return [
    {
      gradient: 'input',
      operand: 'x',
      description: 'dx = dy @ E (tied: E = token_embeddings)',
      symbolicShapes: `[B*T,${vocab}] x [${vocab},d]`,
      batch: [],
      m: tokens,
      k: Vp,
      n: d,
      skipped: flow.lmHeadInput ? undefined : noGradientReason('x', flow),
    },
    {
      gradient: 'weight',
      operand: 'E',
      description: "dE += dy^T @ x (tied: lands on token_embeddings, beside the lookup's scatter-add)",
      symbolicShapes: `[${vocab},B*T] x [B*T,d]`,
      batch: [],
      m: Vp,
      k: tokens,
      n: d,
      skipped: flow.trained.has(flow.lmHeadWeight)
        ? undefined
        : `${flow.lmHeadWeight} is frozen, so the tied lm_head weight gets no gradient`,
    },
  ];
}

function linearGradients(
  layer: LinearShape,
  modulePath: string,
  tokens: number,
  inputFlows: boolean,
  flow: GradientFlow,
  rowsSymbol = 'B*T',
): GradientShape[] {
  const { weight, dIn, dOut, inSymbol, outSymbol } = layer;
  return [
    {
      gradient: 'input',
      operand: 'x',
      description: `dx = dy @ ${weight}^T`,
      symbolicShapes: `[${rowsSymbol},${outSymbol}] x [${outSymbol},${inSymbol}]`,
      batch: [],
      m: tokens,
      k: dOut,
      n: dIn,
      skipped: inputFlows ? undefined : noGradientReason('x', flow),
    },
    {
      gradient: 'weight',
      operand: 'W',
      description: `d${weight} = x^T @ dy`,
      symbolicShapes: `[${inSymbol},${rowsSymbol}] x [${rowsSymbol},${outSymbol}]`,
      batch: [],
      m: dIn,
      k: tokens,
      n: dOut,
      skipped: flow.trained.has(modulePath) ? undefined : `${modulePath} is frozen, so its weight gets no gradient`,
    },
  ];
}

function noGradientReason(operand: string, flow: GradientFlow): string {
  return `${operand} depends on no trained weight (frozen: ${flow.frozen.join(', ')}), so no gradient flows into it`;
}
