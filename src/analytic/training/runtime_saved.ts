import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { path } from '../../core/module_paths.js';
import { evaluatePolynomial } from './batch_seq_polynomial.js';
import { savedActivations } from './saved_activations.js';

/**
 * What TensorFlow.js itself keeps for the backward pass of this project's training step with full
 * checkpointing (src/model/checkpoint.ts), tensor by tensor, beside the textbook's saved
 * activations (saved_activations.ts with checkpoint 'full'): the storage the forward pass still
 * holds when the backward pass starts.
 *
 * The rules, from tfjs-core 4.22 (engine.ts and the gradient configs in dist/gradients):
 * - A kernel on the tape saves clones of the inputs and outputs its gradient config names:
 *   Multiply and Add both inputs (Add only for their shapes), Reshape and Slice their input (only
 *   for its shape), BatchMatMul both operands, Tanh its output; a customGrad what it passes to
 *   save(). Inside a checkpointed block the tape is off, so a block saves nothing but its input.
 * - A clone shares its source's storage on cpu (and meta): a tensor kept by several gradients, or
 *   under several views, is one buffer, and a weight kept for a gradient costs nothing new. On
 *   wasm a clone is a copy (its Identity kernel copies): every save is a buffer of its own, at the
 *   path of the kernel that saved it, weights included, while the forward pass frees the original.
 * - A number passed to an op becomes a scalar tensor (4 bytes) made outside any kernel.
 * So on cpu a kept buffer is named by the module that made it, on wasm by the one that saved it.
 *
 * The differences from the textbook are each named: the final norm recomputes its statistics in
 * its gradient (src/model/rms_norm.ts, layer_norm.ts say why), the RoPE tables are held for the
 * reruns, the loss is the step's own output, the loss keeps the logits and recomputes their
 * softmax (the same bytes, counted as the textbook's softmax), and tfjs's gradients of the
 * embedding scale, the position add, the zero-centred gain, the final soft-cap and, on wasm, of
 * every reshape and weight keep what the textbook does not.
 */
export type CloneStorage = 'shared' | 'copied';

/** How a backend's clones hold storage: shared on cpu and meta, copied on wasm (and native, wasm's kernels); undefined where not established. */
export function cloneStorageOf(backend: string): CloneStorage | undefined {
  if (backend === 'cpu' || backend === 'meta') return 'shared';
  return backend === 'wasm' || backend === 'native' ? 'copied' : undefined;
}

export interface RuntimeSavedTensor {
  /** The module path the trace names the kept buffer by (its maker on cpu, its saver on wasm). */
  readonly module: string;
  readonly tensor: string;
  /** Which gradient keeps it and why. */
  readonly keptBy: string;
  readonly bytes: bigint;
  /** The textbook tensor it is, or undefined when the runtime keeps it beyond the textbook. */
  readonly textbook: string | undefined;
}

export interface RuntimeSavedComparison {
  readonly storage: CloneStorage;
  /** Everything the forward pass leaves for the backward pass, tensor by tensor. */
  readonly kept: readonly RuntimeSavedTensor[];
  /** Textbook tensors the runtime does not keep (it recomputes them), with their bytes. */
  readonly recomputed: readonly { readonly module: string; readonly tensor: string; readonly bytes: bigint }[];
  /** The sum of kept. */
  readonly runtimeBytes: bigint;
  /** The textbook's saved activations with full checkpointing at this run. */
  readonly textbookBytes: bigint;
  /** runtimeBytes by module path, in the order first kept. */
  readonly byModule: ReadonlyMap<string, bigint>;
}

const FLOAT_BYTES = 4n;
const SCALAR_BYTES = 4n;

/** The kept tensors of a training step with full checkpointing at `run`, and the textbook's figure. */
export function runtimeSavedWithFullCheckpointing(
  config: ModelConfig,
  run: RunShape,
  storage: CloneStorage,
): RuntimeSavedComparison {
  const architecture = architectureOf(config);
  const B = BigInt(run.batch);
  const T = BigInt(run.seq);
  const d = BigInt(config.d_model);
  const Vp = BigInt(architecture.padded_vocab_size);
  const tokens = B * T;
  const residual = tokens * d * FLOAT_BYTES; // one (B, T, d) fp32 tensor
  const logits = tokens * Vp * FLOAT_BYTES; // one (B, T, Vp) fp32 tensor
  const copied = storage === 'copied';
  const kept: RuntimeSavedTensor[] = [];
  const keep = (module: string, tensor: string, keptBy: string, bytes: bigint, textbook?: string) =>
    kept.push({ module, tensor, keptBy, bytes, textbook });
  /** The module a kept buffer is named by: its maker where clones share, its saver where they copy. */
  const holder = (maker: string, saver: string) => (copied ? saver : maker);

  // The embeddings: block 0's input is the last of lookup, scale and position add.
  let embedded: string = path.tokenEmbeddings;
  if (architecture.scale_embeddings) {
    const why = "the scale's Multiply gradient keeps both inputs";
    keep(holder(embedded, path.embeddingScale), 'token embeddings (the scale input)', why, residual);
    keep(path.embeddingScale, 'the scale sqrt(d), a scalar', why, SCALAR_BYTES);
    embedded = path.embeddingScale;
  }
  if (architecture.positions === 'learned') {
    const why = "the position Add's gradient keeps both inputs, for their shapes";
    keep(holder(embedded, path.positionEmbeddings), 'embeddings before the position add', why, residual);
    keep(path.positionEmbeddings, 'position rows 0..T-1 [T, d]', why, T * d * FLOAT_BYTES);
    if (copied) {
      const table = BigInt(config.context_length) * d * FLOAT_BYTES;
      keep(path.positionEmbeddings, 'a copy of the position table', "the Slice's gradient keeps its input", table);
    }
    embedded = path.positionEmbeddings;
  }

  // Every block keeps its input and nothing else; block i's input is block i-1's output.
  for (let i = 0; i < config.num_layers; i += 1) {
    const maker = i === 0 ? embedded : path.layer(i - 1);
    keep(holder(maker, path.layer(i)), `block ${i} input`, 'the checkpoint saves it', residual, 'block input');
  }
  if (architecture.positions === 'rope') {
    // Latent attention rotates only the qk_rope_head_dim features of each head, so its tables are that wide.
    const rotated = architecture.mla?.qk_rope_head_dim ?? architecture.head_dim;
    const tables = 2n * T * BigInt(rotated) * FLOAT_BYTES;
    keep(
      `${path.layer(0)}.attn.rope`,
      `RoPE cos and sin tables [T, ${architecture.mla === undefined ? 'dh' : 'dr'}]`,
      'held for the blocks to rerun',
      tables,
    );
  }

  // The final norm keeps its input and gain and recomputes its statistics.
  const lastBlock = path.layer(config.num_layers - 1);
  const norm = 'the final norm keeps its input and gain';
  keep(holder(lastBlock, path.lnFinal), 'ln_final input', norm, residual, 'ln_final input');
  if (architecture.zero_centered_gain) {
    const why = 'the gain 1 + g: its Add keeps g and the scalar, the norm keeps 1 + g';
    if (copied) keep(path.lnFinal, 'a copy of the gain g', why, d * FLOAT_BYTES);
    keep(path.lnFinal, 'the scalar 1', why, SCALAR_BYTES);
    keep(path.lnFinal, 'the gain 1 + g', why, d * FLOAT_BYTES);
  } else if (copied) {
    keep(path.lnFinal, 'a copy of the gain', norm, d * FLOAT_BYTES);
  }
  // lm_head: Reshape keeps its input, BatchMatMul both operands, the second Reshape its input.
  keep(
    holder(path.lnFinal, path.lmHead),
    'ln_final output',
    "lm_head's Reshape and BatchMatMul",
    residual,
    'ln_final output',
  );
  if (copied) {
    keep(path.lmHead, 'a second copy of ln_final output', "BatchMatMul's own copy of its reshaped input", residual);
    const weight = d * Vp * FLOAT_BYTES;
    keep(path.lmHead, 'a copy of the lm_head weight (the table when tied)', "BatchMatMul's gradient", weight);
  }
  const loss = 'the loss keeps the logits and recomputes their softmax';
  const cap = architecture.final_softcap;
  if (cap === undefined) {
    if (copied) keep(path.lmHead, 'a copy of the logits', "the Reshape's gradient, for the shape", logits);
    keep(holder(path.lmHead, path.loss), 'logits', loss, logits, 'softmax over the vocabulary');
  } else {
    const capping = 'cap * tanh(z / cap): Multiply keeps both inputs, Tanh its output';
    if (copied) keep(path.lmHead, 'a copy of the logits', "the Reshape's gradient, for the shape", logits);
    keep(holder(path.lmHead, path.finalSoftcap), 'the uncapped logits z', capping, logits);
    keep(path.finalSoftcap, 'the scalar 1 / cap', capping, SCALAR_BYTES);
    keep(path.finalSoftcap, 'tanh(z / cap)', capping, logits, 'tanh of the capped logits');
    if (copied) keep(path.finalSoftcap, 'a second copy of tanh(z / cap)', capping, logits);
    keep(path.finalSoftcap, 'the scalar cap', capping, SCALAR_BYTES);
    keep(holder(path.finalSoftcap, path.loss), 'capped logits', loss, logits, 'softmax over the vocabulary');
  }
  keep(path.loss, 'the loss', "the step's output, alive until the step returns it", SCALAR_BYTES);

  const statistics = architecture.norm === 'layernorm' ? ['mean', 'rstd'] : ['rstd'];
  const recomputed = statistics.map((statistic) => ({
    module: path.lnFinal,
    tensor: `ln_final ${statistic}`,
    bytes: tokens * FLOAT_BYTES,
  }));
  const byModule = new Map<string, bigint>();
  for (const entry of kept) byModule.set(entry.module, (byModule.get(entry.module) ?? 0n) + entry.bytes);
  return {
    storage,
    kept,
    recomputed,
    runtimeBytes: kept.reduce((total, entry) => total + entry.bytes, 0n),
    textbookBytes: evaluatePolynomial(savedActivations(config, { checkpoint: 'full' }).total, run.batch, run.seq),
    byModule,
  };
}
