export { initWeights, weightEntries, disposeWeights } from './weights.js';
export type {
  LayerWeights,
  TransformerWeights,
  WeightEntry,
  WeightInit,
  WeightName,
  InitOptions,
  TruncatedNormalFiller,
  TruncatedNormalJob,
} from './weights.js';
export { truncatedNormalLoop, ZIGGURAT_TABLES } from './truncated_normal.js';
export { tokenIds } from './token_ids.js';
export { forward, embedding, defaultModelParts, softcap } from './transformer.js';
export type { BlockCheckpointing, ForwardOptions, ModelParts, Projection } from './transformer.js';
export { linear } from './linear.js';
export { rmsNorm } from './rms_norm.js';
export { layerNorm } from './layer_norm.js';
export { applyRope, ropeTables } from './rope.js';
export type { RopeTables } from './rope.js';
export { bandMask, causalScores, causalSoftmax, softmaxOverKeys } from './causal_softmax.js';
export type { CausalSoftmaxParts, ScoreBlock } from './causal_softmax.js';
export { attention, attentionCore, cachedPositions, defaultAttentionParts } from './attention.js';
export { latentAttention } from './latent_attention.js';
export type { LatentAttentionWeights, LatentHeads } from './latent_attention.js';
export type { AttentionWeights, AttentionParts, AttentionHeads, AttentionCoreSpec, HeadNorm } from './attention.js';
export { swiglu } from './swiglu.js';
export { silu, fusedGatedFfn } from './gated_ffn.js';
export type { GateActivation } from './gated_ffn.js';
export { gelu } from './gelu_mlp.js';
export { addLearnedPositions } from './learned_positions.js';
export { tiedLogits } from './tied_logits.js';
export { prefill, decodeStep, disposeCache, cacheTensorBytes } from './generation.js';
export type { KvCache, CachedLogits } from './generation.js';
export type { CachedKeys, CachedLatent, LayerCache } from './attention.js';
