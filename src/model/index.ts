export { initWeights, weightEntries, disposeWeights, assertWeightsMatch, INIT_TRUNCATION_STD } from './weights.js';
export type { LayerWeights, TransformerWeights, WeightEntry, WeightInit, WeightName, InitOptions } from './weights.js';
export { tokenIds } from './token_ids.js';
export { forward, embedding, assertIdsMatch, defaultModelParts, softcap } from './transformer.js';
export type { ForwardOptions, ModelParts, Projection } from './transformer.js';
export { linear } from './linear.js';
export { rmsNorm, RMS_NORM_EPS } from './rms_norm.js';
export { layerNorm, LAYER_NORM_EPS } from './layer_norm.js';
export { applyRope, ropeTables, ROPE_THETA } from './rope.js';
export type { RopeTables } from './rope.js';
export {
  bandMask,
  causalMask,
  causalScores,
  causalSoftmax,
  maskScores,
  softcapScores,
  softmaxOverKeys,
} from './causal_softmax.js';
export type { CausalSoftmaxParts, ScoreBlock } from './causal_softmax.js';
export { blockedAttentionCore } from './blocked_attention.js';
export {
  attention,
  attentionCore,
  splitHeads,
  mergeHeads,
  defaultAttentionParts,
  DENSE_CAUSAL_CORE,
} from './attention.js';
export type { AttentionWeights, AttentionParts, AttentionHeads, AttentionCoreSpec, HeadNorm } from './attention.js';
export { swiglu } from './swiglu.js';
export { silu, fusedGatedFfn } from './gated_ffn.js';
export type { GateActivation } from './gated_ffn.js';
export { gelu, geluMlp } from './gelu_mlp.js';
export { addLearnedPositions } from './learned_positions.js';
export { tiedLogits } from './tied_logits.js';
