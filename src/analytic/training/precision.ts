import { sum } from '../../core/counting.js';
import { rational, type Rational } from '../../core/exact.js';

/**
 * Training precisions as stated bytes per parameter: what each device keeps for every trained
 * parameter (weights, their gradients, AdamW's state), one line per buffer, and the published
 * total those lines must add up to. The total is checked against the sum when this module loads,
 * so an edited line that breaks the sum fails every import rather than printing a wrong figure.
 *
 * Three weight layouts:
 * - fp32: fp32 weights (4) + fp32 gradients (4) + AdamW m and v in fp32 (4 + 4) = 16 bytes.
 * - bf16-mixed and fp16-mixed, as the ZeRO paper counts mixed-precision Adam (Rajbhandari et al.
 *   2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", section 3.1):
 *   16-bit weights (2) + 16-bit gradients (2) + K = 12 bytes of optimizer state: an fp32 master
 *   copy of the weights (4) and fp32 m and v (4 + 4); "2Ψ + 2Ψ + KΨ" = 16Ψ. fp16 adds a loss
 *   scale (Micikevicius et al. 2018, "Mixed Precision Training"): one scalar, not per parameter.
 *   PyTorch autocast (AMP) keeps fp32 weights and gradients instead (4 + 4 + 8 = 16, the same
 *   total split differently, which matters to ZeRO stage 2): an alternative, not modelled.
 *   Megatron-LM reduces bf16 gradients in fp32 (accumulate_allreduce_grads_in_fp32): also not
 *   modelled; the figures follow the ZeRO paper's 2 bytes.
 * - each of those with 8-bit AdamW states (`-adam8bit`), blockwise as bitsandbytes keeps them
 *   (Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization", section 2: blocks of
 *   2048 elements; bitsandbytes/optim/optimizer.py, Optimizer2State.init_state): m and v one byte
 *   each, plus one fp32 absmax per 2048-element block per state (blocks = ceil(n / 2048), so a
 *   tensor's last partial block has a scale of its own); a tensor of fewer than min_8bit_size =
 *   4096 elements keeps both states in fp32 (8 bytes); the two 256-entry fp32 quantisation maps
 *   ("dynamic" for m, "udynamic" for v) are shared by every tensor: 2 KiB per optimizer.
 *   The stated figure, 10 + 1/256 bytes per parameter, holds for a tensor of at least 4096
 *   elements that 2048 divides; modelStateBytes counts any tensor exactly.
 *
 * Activations are held in the compute dtype (4 bytes in fp32, 2 in the mixed layouts), except the
 * cross-entropy's softmax, which Megatron-LM computes in fp32 (it casts the logits to float before
 * its vocab-parallel cross-entropy unless --fp16-lm-cross-entropy is set).
 */

export const WEIGHT_LAYOUTS = ['fp32', 'bf16-mixed', 'fp16-mixed'] as const;
export type WeightLayout = (typeof WEIGHT_LAYOUTS)[number];

export const PRECISIONS = [
  'fp32',
  'bf16-mixed',
  'fp16-mixed',
  'fp32-adam8bit',
  'bf16-mixed-adam8bit',
  'fp16-mixed-adam8bit',
] as const;
export type PrecisionName = (typeof PRECISIONS)[number];

/** ZeRO's three kinds of model state: stage 1 shards the optimizer's, 2 also the gradients, 3 also the parameters. */
export type ModelStateKind = 'parameters' | 'gradients' | 'optimizer';

/** One buffer kept per trained parameter. */
export interface PrecisionItem {
  readonly name: string;
  readonly kind: ModelStateKind;
  readonly dtype: 'fp32' | 'bf16' | 'fp16' | 'uint8';
  /** Bytes per parameter; a fraction for block scales (4 bytes per 2048 elements = 1/512). */
  readonly bytesPerParameter: Rational;
}

/** bitsandbytes' blockwise 8-bit state (see the module comment for the source of each number). */
const BLOCKWISE_8BIT = {
  /** Elements quantised together, sharing one absmax. */
  blockSize: 2048n,
  /** The absmax of a block, fp32. */
  scaleBytes: 4n,
  /** Tensors with fewer elements keep fp32 states (min_8bit_size). */
  minElements: 4096n,
  /** The "dynamic" and "udynamic" maps: 256 fp32 values each, one pair per optimizer. */
  quantisationMapBytes: 2n * 256n * 4n,
} as const;

export interface Precision {
  readonly name: PrecisionName;
  readonly weights: WeightLayout;
  readonly optimizerStates: 'fp32' | 'blockwise-8bit';
  readonly description: string;
  /** Per-parameter buffers; for 8-bit states, the lines of a tensor of at least 4096 elements. */
  readonly items: readonly PrecisionItem[];
  /** The published total the items add up to (checked when the module loads). */
  readonly statedBytesPerParameter: Rational;
  readonly source: string;
  /** Bytes per element of the working weights: what ZeRO all-gathers. */
  readonly weightBytes: bigint;
  /** Bytes per element of a gradient: what data parallelism reduces. */
  readonly gradientBytes: bigint;
  /** Bytes per element of an activation: what is saved for backward and what tensor and pipeline parallelism send. */
  readonly activationBytes: bigint;
  /** Bytes per element of the cross-entropy's softmax and its tensor-parallel reductions. */
  readonly lossBytes: bigint;
}

const whole = (bytes: bigint) => rational(bytes);
const SCALE_PER_PARAMETER = rational(BLOCKWISE_8BIT.scaleBytes, BLOCKWISE_8BIT.blockSize);

function weightItems(layout: WeightLayout): PrecisionItem[] {
  if (layout === 'fp32') {
    return [
      { name: 'weights (fp32)', kind: 'parameters', dtype: 'fp32', bytesPerParameter: whole(4n) },
      { name: 'gradients (fp32)', kind: 'gradients', dtype: 'fp32', bytesPerParameter: whole(4n) },
    ];
  }
  const half = layout === 'bf16-mixed' ? 'bf16' : 'fp16';
  return [
    { name: `weights (${half})`, kind: 'parameters', dtype: half, bytesPerParameter: whole(2n) },
    { name: `gradients (${half})`, kind: 'gradients', dtype: half, bytesPerParameter: whole(2n) },
    { name: 'master weights (fp32)', kind: 'optimizer', dtype: 'fp32', bytesPerParameter: whole(4n) },
  ];
}

const FP32_MOMENTS: PrecisionItem[] = [
  { name: 'AdamW m (fp32)', kind: 'optimizer', dtype: 'fp32', bytesPerParameter: whole(4n) },
  { name: 'AdamW v (fp32)', kind: 'optimizer', dtype: 'fp32', bytesPerParameter: whole(4n) },
];

const BLOCKWISE_MOMENTS: PrecisionItem[] = [
  { name: 'AdamW m (8-bit)', kind: 'optimizer', dtype: 'uint8', bytesPerParameter: whole(1n) },
  { name: 'AdamW v (8-bit)', kind: 'optimizer', dtype: 'uint8', bytesPerParameter: whole(1n) },
  {
    name: 'absmax of m per 2048-block (fp32)',
    kind: 'optimizer',
    dtype: 'fp32',
    bytesPerParameter: SCALE_PER_PARAMETER,
  },
  {
    name: 'absmax of v per 2048-block (fp32)',
    kind: 'optimizer',
    dtype: 'fp32',
    bytesPerParameter: SCALE_PER_PARAMETER,
  },
];

const SOURCES: Record<WeightLayout, string> = {
  fp32: 'fp32 weights, gradients and AdamW moments: 4 + 4 + 8 = 16 bytes per parameter',
  'bf16-mixed':
    'Rajbhandari et al. 2020 (ZeRO), section 3.1: 2Ψ + 2Ψ + KΨ with K = 12 (fp32 master weights, m and v) = 16 bytes per parameter',
  'fp16-mixed':
    'Rajbhandari et al. 2020 (ZeRO), section 3.1: 2Ψ + 2Ψ + KΨ with K = 12 = 16 bytes per parameter; ' +
    'the fp16 loss scale (Micikevicius et al. 2018) is one scalar',
};

const BLOCKWISE_SOURCE =
  'Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization", section 2, and bitsandbytes ' +
  'Optimizer2State.init_state: uint8 m and v, one fp32 absmax per 2048 elements per state, fp32 states ' +
  'for tensors under 4096 elements, two shared 256-entry fp32 quantisation maps';

/** What each layout's items add up to, written as the sources state it (not summed from the items). */
const STATED: Record<PrecisionName, Rational> = {
  fp32: whole(16n),
  'bf16-mixed': whole(16n),
  'fp16-mixed': whole(16n),
  // 4 + 4 + 1 + 1 + 2 * 4/2048
  'fp32-adam8bit': rational(10n * 256n + 1n, 256n),
  // 2 + 2 + 4 + 1 + 1 + 2 * 4/2048
  'bf16-mixed-adam8bit': rational(10n * 256n + 1n, 256n),
  'fp16-mixed-adam8bit': rational(10n * 256n + 1n, 256n),
};

function addRationals(values: readonly Rational[]): Rational {
  return values.reduce(
    (total, value) =>
      rational(
        total.numerator * value.denominator + value.numerator * total.denominator,
        total.denominator * value.denominator,
      ),
    rational(0n),
  );
}

function makePrecision(name: PrecisionName): Precision {
  const blockwise = name.endsWith('-adam8bit');
  const weights = (blockwise ? name.slice(0, -'-adam8bit'.length) : name) as WeightLayout;
  const items = [...weightItems(weights), ...(blockwise ? BLOCKWISE_MOMENTS : FP32_MOMENTS)];
  const stated = STATED[name];
  const itemSum = addRationals(items.map((item) => item.bytesPerParameter));
  if (itemSum.numerator !== stated.numerator || itemSum.denominator !== stated.denominator) {
    throw new Error(
      `precision ${name}: its lines add up to ${itemSum.numerator}/${itemSum.denominator} bytes per parameter, ` +
        `not the stated ${stated.numerator}/${stated.denominator}`,
    );
  }
  const half = weights === 'fp32' ? 4n : 2n;
  return {
    name,
    weights,
    optimizerStates: blockwise ? 'blockwise-8bit' : 'fp32',
    description: items.map((item) => item.name).join(' + '),
    items,
    statedBytesPerParameter: stated,
    source: blockwise ? `${SOURCES[weights]}; states: ${BLOCKWISE_SOURCE}` : SOURCES[weights],
    weightBytes: half,
    gradientBytes: half,
    activationBytes: half,
    lossBytes: 4n,
  };
}

const PRECISION_TABLE: Record<PrecisionName, Precision> = Object.fromEntries(
  PRECISIONS.map((name) => [name, makePrecision(name)]),
) as Record<PrecisionName, Precision>;

/** The precision named `name`; every name of PRECISIONS has one. */
export function precisionOf(name: PrecisionName): Precision {
  return PRECISION_TABLE[name];
}

/** One line of a device's model state, in bytes. */
export interface ModelStateItemBytes {
  readonly name: string;
  readonly kind: ModelStateKind;
  readonly bytes: bigint;
}

export interface ModelStateBytes {
  readonly precision: PrecisionName;
  /** Parameters the state is kept for. */
  readonly parameters: bigint;
  readonly items: readonly ModelStateItemBytes[];
  readonly byKind: Readonly<Record<ModelStateKind, bigint>>;
  /** The sum of the items (checked against byKind's sum). */
  readonly total: bigint;
}

/** bytesPerParameter * count, which must be whole (a per-element line over whole elements). */
function wholeBytes(item: PrecisionItem, count: bigint): bigint {
  const { numerator, denominator } = item.bytesPerParameter;
  if ((numerator * count) % denominator !== 0n) {
    throw new Error(`precision: ${item.name} over ${count} elements is not a whole number of bytes`);
  }
  return (numerator * count) / denominator;
}

/**
 * Bytes of the model state kept for `tensors` (element counts, one per tensor as the optimizer
 * sees it: the model's parameter tensors, a tensor-parallel shard's, or one flat ZeRO partition).
 * The tensors matter only to 8-bit states, whose block scales and fp32 fallback are per tensor.
 * An empty list is no state at all (a pipeline stage with no parameters has none).
 */
export function modelStateBytes(precision: Precision, tensors: readonly bigint[]): ModelStateBytes {
  for (const count of tensors) {
    if (count < 0n) throw new RangeError(`precision: a tensor of ${count} elements`);
  }
  const parameters = sum(tensors);
  const items: ModelStateItemBytes[] = [];
  const perElement = precision.items.filter((item) => item.bytesPerParameter.denominator === 1n);
  if (precision.optimizerStates === 'fp32') {
    for (const item of perElement)
      items.push({ name: item.name, kind: item.kind, bytes: wholeBytes(item, parameters) });
  } else {
    const { blockSize, scaleBytes, minElements, quantisationMapBytes } = BLOCKWISE_8BIT;
    const quantised = tensors.filter((count) => count >= minElements);
    const small = sum(tensors.filter((count) => count < minElements));
    const quantisedElements = sum(quantised);
    const blocks = sum(quantised.map((count) => (count + blockSize - 1n) / blockSize));
    for (const item of perElement) {
      const count = item.dtype === 'uint8' ? quantisedElements : parameters;
      items.push({ name: item.name, kind: item.kind, bytes: wholeBytes(item, count) });
    }
    items.push(
      { name: 'absmax of m per 2048-block (fp32)', kind: 'optimizer', bytes: scaleBytes * blocks },
      { name: 'absmax of v per 2048-block (fp32)', kind: 'optimizer', bytes: scaleBytes * blocks },
      { name: 'AdamW m and v (fp32) of tensors under 4096 elements', kind: 'optimizer', bytes: 8n * small },
      {
        name: 'quantisation maps (2 x 256 fp32)',
        kind: 'optimizer',
        bytes: quantised.length > 0 ? quantisationMapBytes : 0n,
      },
    );
  }
  const byKind: Record<ModelStateKind, bigint> = { parameters: 0n, gradients: 0n, optimizer: 0n };
  for (const item of items) byKind[item.kind] += item.bytes;
  const total = sum(items.map((item) => item.bytes));
  // With fp32 states every line is per element, so the lines must add up to the stated figure.
  const stated = precision.statedBytesPerParameter;
  if (precision.optimizerStates === 'fp32' && total * stated.denominator !== stated.numerator * parameters) {
    throw new Error(
      `precision ${precision.name}: ${total} bytes for ${parameters} parameters is not the stated figure`,
    );
  }
  return { precision: precision.name, parameters, items, byKind, total };
}
