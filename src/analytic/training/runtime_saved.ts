import { architectureOf, type ModelConfig, type RunShape } from '../../config/model_config.js';
import { path } from '../../core/module_paths.js';
import { savedActivationBytes, savedActivations } from './saved_activations.js';

/**
 * What TensorFlow.js itself keeps for the backward pass of this project's training step with full
 * checkpointing (src/model/checkpoint.ts), tensor by tensor, beside the textbook's saved
 * activations (saved_activations.ts with checkpoint 'full'): the storage the forward pass still
 * holds when the backward pass starts.
 *
 * The rules, from tfjs-core 4.22 (engine.ts) and this model's gradients:
 * - A kernel on the tape saves clones of the inputs and outputs its gradient config names; a
 *   customGrad what it passes to save(). Inside a checkpointed block the tape is off, so a block
 *   saves nothing but its input. The model's other gradients keep what autodiff needs and no
 *   more (src/model/lean_gradients.ts): the embedding scale and the position add keep nothing,
 *   the final norm keeps its input, gain and statistics, the final soft-cap its input z, the loss
 *   the logits (it recomputes their softmax: the same bytes, counted as the textbook's softmax).
 * - A clone shares its source's storage (cpu, meta, and wasm as src/runtime/wasm_shared_clones.ts
 *   sets it up): a tensor kept by several gradients, or under several views, is one buffer, and a
 *   weight kept for a gradient costs nothing new. So a kept buffer is named by the module that
 *   made it.
 *
 * The differences from the textbook are each named: the loss is the step's own output, and a
 * zero-centred gain's 1 + g is kept by the final norm (keptBeyondSavedActivations says why).
 */
export type CloneStorage = 'shared';

/**
 * How a backend's clones hold storage: shared on cpu and meta, and on wasm (and native, which runs
 * wasm's kernels) as this project's runtime sets it up (src/runtime/wasm_shared_clones.ts; tfjs's
 * stock wasm Identity copies); undefined where not established.
 */
export function cloneStorageOf(backend: string): CloneStorage | undefined {
  return backend === 'cpu' || backend === 'meta' || backend === 'wasm' || backend === 'native' ? 'shared' : undefined;
}

export interface RuntimeSavedTensor {
  /** The module path of the kernel that made the kept buffer, as the trace names it. */
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
  /** The sum of kept. */
  readonly runtimeBytes: bigint;
  /** The textbook's saved activations with full checkpointing at this run (the RoPE tables included). */
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
  const kept: RuntimeSavedTensor[] = [];
  const keep = (module: string, tensor: string, keptBy: string, bytes: bigint, textbook?: string) =>
    kept.push({ module, tensor, keptBy, bytes, textbook });

  // Block 0's input is the last of the embedding lookup, scale and position add.
  const embedded = [
    path.tokenEmbeddings,
    ...(architecture.scale_embeddings ? [path.embeddingScale] : []),
    ...(architecture.positions === 'learned' ? [path.positionEmbeddings] : []),
  ].at(-1)!;
  // Every block keeps its input and nothing else; block i's input is block i-1's output.
  for (let i = 0; i < config.num_layers; i += 1) {
    const maker = i === 0 ? embedded : path.layer(i - 1);
    keep(maker, `block ${i} input`, 'the checkpoint saves it', residual, 'block input');
  }
  if (architecture.positions === 'rope') {
    // Latent attention rotates only the qk_rope_head_dim features of each head, so its tables are that wide.
    const rotated = architecture.mla?.qk_rope_head_dim ?? architecture.head_dim;
    const width = architecture.mla === undefined ? 'dh' : 'dr';
    const why = "RoPE's gradient and the blocks' reruns read them";
    for (const table of ['cos', 'sin']) {
      const name = `RoPE ${table} table [T, ${width}], once per run`;
      keep(`${path.layer(0)}.attn.rope`, name, why, T * BigInt(rotated) * FLOAT_BYTES, name);
    }
  }

  // The final norm keeps its input, its gain and its statistics.
  const lastBlock = path.layer(config.num_layers - 1);
  keep(lastBlock, 'ln_final input', 'the final norm', residual, 'ln_final input');
  const statistics = architecture.norm === 'layernorm' ? ['mean', 'rstd'] : ['rstd'];
  for (const statistic of statistics) {
    keep(path.lnFinal, `ln_final ${statistic}`, 'the final norm', tokens * FLOAT_BYTES, `ln_final ${statistic}`);
  }
  if (architecture.zero_centered_gain) {
    keep(path.lnFinal, 'the gain 1 + g', "the final norm's gradient reads its gain", d * FLOAT_BYTES);
  }
  keep(path.lnFinal, 'ln_final output', "lm_head's matmul", residual, 'ln_final output');
  const loss = 'the loss keeps the logits and recomputes their softmax';
  if (architecture.final_softcap === undefined) {
    keep(path.lmHead, 'logits', loss, logits, 'softmax over the vocabulary');
  } else {
    // The cap keeps z and recomputes tanh (src/model/transformer.ts): the textbook's tanh, the same bytes.
    keep(path.lmHead, 'the uncapped logits z', 'the cap recomputes tanh from z', logits, 'tanh of the capped logits');
    keep(path.finalSoftcap, 'capped logits', loss, logits, 'softmax over the vocabulary');
  }
  keep(path.loss, 'the loss', "the step's output, alive until the step returns it", SCALAR_BYTES);

  const byModule = new Map<string, bigint>();
  for (const entry of kept) byModule.set(entry.module, (byModule.get(entry.module) ?? 0n) + entry.bytes);
  return {
    storage,
    kept,
    runtimeBytes: kept.reduce((total, entry) => total + entry.bytes, 0n),
    textbookBytes: savedActivationBytes(savedActivations(config, { checkpoint: 'full' }), run.batch, run.seq),
    byModule,
  };
}

/** A buffer a training step keeps beyond the saved-activation formula, named. */
export interface KeptBeyondFormula {
  /** The module path (within a block, as the trace's kept buffers are folded) it is kept at. */
  readonly module: string;
  readonly tensor: string;
  readonly keptBy: string;
  /** Its bytes, all blocks together. */
  readonly bytes: bigint;
}

/**
 * What this project's training step keeps for the backward pass beyond savedActivations with
 * `checkpoint`, where a clone shares its source's storage (cpu, meta, and wasm as this project
 * sets it up). The model's gradients keep what autodiff needs (src/model/lean_gradients.ts and the
 * custom gradients of the norms, RoPE, SiLU, GELU, the soft-caps and the mask), so the rest is
 * two kinds of small buffers:
 * - the loss, a scalar the step returns, alive from the forward pass to the caller;
 * - with a zero-centred gain (Gemma), each norm's applied gain 1 + g ([n], n the normed width:
 *   d, or dh for the q/k norms), made in the forward pass and kept by the norm's gradient, which
 *   reads the gain. A framework that stores 1 + g, or multiplies by g and adds x, keeps nothing.
 */
export function keptBeyondSavedActivations(
  config: ModelConfig,
  checkpoint: 'none' | 'selective' | 'full' = 'none',
): readonly KeptBeyondFormula[] {
  const architecture = architectureOf(config);
  const beyond: KeptBeyondFormula[] = [
    { module: path.loss, tensor: 'the loss', keptBy: "the step's output", bytes: SCALAR_BYTES },
  ];
  if (architecture.zero_centered_gain && checkpoint === 'full') {
    // A checkpointed block keeps only its input: of the norms, only ln_final keeps its gain.
    const why = "the norm's gradient reads its gain 1 + g";
    const bytes = BigInt(config.d_model) * FLOAT_BYTES;
    beyond.push({ module: path.lnFinal, tensor: 'the gain 1 + g', keptBy: why, bytes });
  } else if (architecture.zero_centered_gain) {
    const L = BigInt(config.num_layers);
    const d = BigInt(config.d_model) * FLOAT_BYTES;
    const dh = BigInt(architecture.head_dim) * FLOAT_BYTES;
    const why = "the norm's gradient reads its gain 1 + g";
    const gains: [string, bigint][] = [
      ['ln1', L * d],
      ['ln2', L * d],
      ...(architecture.post_norms
        ? ([
            ['post_attn_norm', L * d],
            ['post_ffn_norm', L * d],
          ] as [string, bigint][])
        : []),
      ...(architecture.qk_norm
        ? ([
            ['attn.q_norm', L * dh],
            ['attn.k_norm', L * dh],
          ] as [string, bigint][])
        : []),
      // Latent attention normalises its latents: [rq] and [r] gains.
      ...(architecture.mla?.q_lora_rank === undefined
        ? []
        : ([['attn.q_latent_norm', L * BigInt(architecture.mla.q_lora_rank) * FLOAT_BYTES]] as [string, bigint][])),
      ...(architecture.mla === undefined
        ? []
        : ([['attn.kv_latent_norm', L * BigInt(architecture.mla.kv_lora_rank) * FLOAT_BYTES]] as [string, bigint][])),
      [path.lnFinal, d],
    ];
    for (const [module, bytes] of gains) beyond.push({ module, tensor: 'the gain 1 + g', keptBy: why, bytes });
  }
  return beyond;
}
