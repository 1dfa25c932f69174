import { InputError } from '../../core/errors.js';
import { sum } from '../../core/counting.js';
import { modelStateBytes, type ModelStateItemBytes, type ModelStateKind, type Precision } from './precision.js';

/**
 * ZeRO (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
 * Models", section 5 and Figure 1) partitions the model states over the N_d devices of the
 * data-parallel group instead of replicating them:
 *
 *   stage 0 (plain data parallelism)   (2 + 2 + K) Ψ           every state replicated
 *   stage 1, P_os                      (2 + 2) Ψ + K Ψ / N_d   optimizer states partitioned
 *   stage 2, P_os+g                    2 Ψ + (2 + K) Ψ / N_d   gradients too
 *   stage 3, P_os+g+p (= FSDP)         (2 + 2 + K) Ψ / N_d     parameters too
 *
 * Convention: the states are flattened into one buffer and padded to a multiple of N_d, so each
 * device holds a partition of ceil(Ψ / N_d) elements (DeepSpeed pads its flat groups; PyTorch FSDP
 * pads each flat parameter); the padding is stated. The optimizer sees that flat partition as
 * one tensor, which only matters to 8-bit states (their blocks run over the partition). Not
 * counted here: DeepSpeed's reduce and all-gather buckets, FSDP's unsharded parameters of the
 * module being computed (trainingAtScale lists those as gathered parameters), fragmentation.
 */
export const ZERO_STAGES = [0, 1, 2, 3] as const;
export type ZeroStage = (typeof ZERO_STAGES)[number];

/** The kinds of model state each stage partitions over the data-parallel group. */
const ZERO_PARTITIONED: Readonly<Record<ZeroStage, readonly ModelStateKind[]>> = {
  0: [],
  1: ['optimizer'],
  2: ['optimizer', 'gradients'],
  3: ['optimizer', 'gradients', 'parameters'],
};

export interface ZeroStateItem extends ModelStateItemBytes {
  /** Partitioned over the data-parallel group (true) or replicated on every device. */
  readonly partitioned: boolean;
}

/** One device's model states under a ZeRO stage. */
export interface ZeroModelStates {
  readonly stage: ZeroStage;
  readonly dataParallel: number;
  /** Parameters of the model replica this device belongs to (Ψ, or this device's tensor/pipeline slice of it). */
  readonly parameters: bigint;
  /** Elements of each device's partition: ceil(parameters / dataParallel). */
  readonly partition: bigint;
  /** partition * dataParallel - parameters: padding elements across the group. */
  readonly padding: bigint;
  readonly items: readonly ZeroStateItem[];
  readonly byKind: Readonly<Record<ModelStateKind, bigint>>;
  readonly total: bigint;
}

export function assertZeroStage(stage: number): asserts stage is ZeroStage {
  if (!(ZERO_STAGES as readonly number[]).includes(stage)) {
    throw new InputError(`zero: stage (${stage}) must be 0, 1, 2 or 3 (3 is FSDP's full sharding)`);
  }
}

/**
 * One device's model-state bytes for `tensors` (the element counts of the parameters one model
 * replica keeps on this device) under ZeRO `stage` over `dataParallel` devices.
 */
export function zeroModelStates(
  precision: Precision,
  stage: ZeroStage,
  dataParallel: number,
  tensors: readonly bigint[],
): ZeroModelStates {
  assertZeroStage(stage);
  if (!Number.isSafeInteger(dataParallel) || dataParallel < 1) {
    throw new InputError(`zero: data-parallel devices (${dataParallel}) must be a positive integer`);
  }
  const parameters = sum(tensors);
  const n = BigInt(dataParallel);
  const partition = (parameters + n - 1n) / n;
  const replicated = modelStateBytes(precision, tensors);
  const partitioned = stage === 0 ? replicated : modelStateBytes(precision, [partition]);
  const sharded = ZERO_PARTITIONED[stage];
  // Both lists come from the same precision, so their lines correspond one to one.
  const items: ZeroStateItem[] = replicated.items.map((item, i) => {
    const shardItem = partitioned.items[i];
    if (shardItem?.name !== item.name) throw new Error(`zero: line ${item.name} has no partitioned counterpart`);
    const isPartitioned = sharded.includes(item.kind);
    return { ...(isPartitioned ? shardItem : item), partitioned: isPartitioned };
  });
  const byKind: Record<ModelStateKind, bigint> = { parameters: 0n, gradients: 0n, optimizer: 0n };
  for (const item of items) byKind[item.kind] += item.bytes;
  return {
    stage,
    dataParallel,
    parameters,
    partition,
    padding: stage === 0 ? 0n : partition * n - parameters,
    items,
    byKind,
    total: sum(items.map((item) => item.bytes)),
  };
}
