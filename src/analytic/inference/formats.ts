/**
 * How many bytes a stored value takes, for the KV cache and for the weights at inference: the
 * dtypes, their scales, and which weights a quantised format quantises. Each convention is
 * written here once, with the document it follows.
 *
 * - fp32, fp16, bf16: 4, 2, 2 bytes per value; no scales.
 * - fp8 (E4M3): 1 byte per value and one fp32 scale per tensor. For the KV cache that is vLLM's
 *   per-tensor scheme, one k_scale and one v_scale per attention layer ("Quantized KV Cache",
 *   https://docs.vllm.ai/en/latest/features/quantization/quantized_kvcache/); for the weights,
 *   vLLM's fp8 W8A8: "all Linear modules (except for the final lm_head) have their weights
 *   quantized down to FP8_E4M3 precision with a per-tensor scale"
 *   (https://docs.vllm.ai/en/v0.5.4/quantization/fp8.html).
 * - int8 and int4: symmetric integers in groups of 32 consecutive values along a row, one fp16
 *   scale per group: ggml's Q8_0 (block_q8_0: a ggml_half scale and 32 int8, 34 bytes for 32
 *   values, 8.5 bits each) and Q4_0 (block_q4_0: a ggml_half scale and 16 bytes of nibbles, 18
 *   bytes for 32 values, 4.5 bits each), llama.cpp's ggml/src/ggml-common.h
 *   (https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-common.h). llama.cpp stores
 *   the weights and the KV cache in these same blocks (`--cache-type-k q8_0`, `--cache-type-v
 *   q4_0`; the quantised V cache needs flash attention, which keeps V rows along head_dim).
 *   A row is what the groups run along: head_dim for one head's key or value at one position
 *   (kv_lora_rank and qk_rope_head_dim for latent attention); d_in for a weight matrix (the
 *   reduction axis, as ggml's rows and AWQ/GPTQ's groups run). A row whose length is not a
 *   multiple of the group ends in a shorter group with a scale of its own, and a row is padded
 *   to a whole byte. Another group size (AWQ and GPTQ use 128) is an option; AWQ's and GPTQ's
 *   4-bit zero points are not counted.
 * - Which weights are quantised (fp8, int8, int4): the linear layers inside the blocks (q, k, v
 *   or the fused qkv, output, and the FFN matrices). The token and position embeddings, lm_head
 *   (tied or not), the norms and every bias stay in 16-bit (bf16), as vLLM's fp8 and AWQ/GPTQ
 *   checkpoints keep them.
 */
import { InputError } from '../../core/errors.js';

export const INFERENCE_DTYPES = ['fp32', 'fp16', 'bf16', 'fp8', 'int8', 'int4'] as const;
export type InferenceDtype = (typeof INFERENCE_DTYPES)[number];

/** Scales shared by `size` consecutive values along a row. */
export interface GroupScales {
  readonly size: number;
  readonly scaleBits: bigint;
}

/** One way of storing values: their width, and the scales that come with them. */
export interface StorageFormat {
  readonly dtype: InferenceDtype;
  /** Bits of one stored value. */
  readonly valueBits: bigint;
  /** Scales per group of values along a row (int8, int4); absent for floats and fp8. */
  readonly groups?: GroupScales;
  /** Bits of the one scale each stored tensor carries (fp8: an fp32 scale); 0 when there is none. */
  readonly tensorScaleBits: bigint;
  /** The convention in words: "int4: 4-bit values, one fp16 scale per 32 (ggml Q4_0)". */
  readonly convention: string;
}

/** ggml's block size for Q8_0 and Q4_0 (QK8_0 = QK4_0 = 32). */
const DEFAULT_GROUP_SIZE = 32;
const FP16_BITS = 16n;
const FP32_BITS = 32n;

export interface FormatOptions {
  /** Values per scale for int8 and int4 (default 32, ggml's blocks); refused for the other dtypes. */
  readonly groupSize?: number;
}

/** The format of `dtype` (see the file comment); an InputError for a group size that is not a positive integer. */
export function storageFormat(dtype: InferenceDtype, options: FormatOptions = {}): StorageFormat {
  const { groupSize } = options;
  if (groupSize !== undefined && (!Number.isSafeInteger(groupSize) || groupSize < 1)) {
    throw new InputError(`group size (${groupSize}) must be a positive integer, e.g. 32 or 128`);
  }
  const grouped = (bits: bigint, ggml: string): StorageFormat => {
    const size = groupSize ?? DEFAULT_GROUP_SIZE;
    const named = size === DEFAULT_GROUP_SIZE ? ` (ggml ${ggml})` : '';
    return {
      dtype,
      valueBits: bits,
      groups: { size, scaleBits: FP16_BITS },
      tensorScaleBits: 0n,
      convention: `${dtype}: ${bits}-bit values, one fp16 scale per group of ${size} along a row${named}`,
    };
  };
  const plain = (bits: bigint, words: string): StorageFormat => {
    if (groupSize !== undefined) {
      throw new InputError(`${dtype} has no group scales; a group size applies to int8 and int4 only`);
    }
    return { dtype, valueBits: bits, tensorScaleBits: 0n, convention: `${dtype}: ${words}` };
  };
  switch (dtype) {
    case 'fp32':
      return plain(32n, '4 bytes per value');
    case 'fp16':
    case 'bf16':
      return plain(16n, '2 bytes per value');
    case 'fp8':
      return {
        ...plain(8n, '1 byte per value (E4M3), one fp32 scale per tensor'),
        tensorScaleBits: FP32_BITS,
      };
    case 'int8':
      return grouped(8n, 'Q8_0');
    case 'int4':
      return grouped(4n, 'Q4_0');
  }
}

/** Whether a format stores fewer bits than the 16-bit dtype the unquantised weights stay in. */
export function isQuantized(format: StorageFormat): boolean {
  return format.valueBits < FP16_BITS;
}

/**
 * Bytes of one row of `values` values: the values, one scale per group (the last group may be
 * shorter), padded to a whole byte. A row of 128 int4 values in groups of 32 is 64 + 4 x 2 = 72.
 */
export function rowBytes(values: number | bigint, format: StorageFormat): bigint {
  const count = BigInt(values);
  const groups = format.groups === undefined ? 0n : ceilDiv(count, BigInt(format.groups.size));
  const bits = count * format.valueBits + groups * (format.groups?.scaleBits ?? 0n);
  return ceilDiv(bits, 8n);
}

/** Bytes of the scale one tensor carries (fp8's fp32 scale), 0 for the other formats. */
export function tensorScaleBytes(format: StorageFormat): bigint {
  return format.tensorScaleBits / 8n;
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}
