/**
 * The kernels of a prefill and of a generation's decode steps with the bytes they move, for the
 * roofline (src/analytic/roofline.ts), under the conventions of src/analytic/bytes.ts.
 *
 * - Prefill: the forward pass over the P prompt tokens of each sequence (logits at every
 *   position, as the forward inventory counts them; prefill.ts gives the last-position count
 *   beside it), then one kernel per layer that writes the prompt's keys and values into the cache.
 * - Decode step: the forward pass at seq = N (N = 1 new token per sequence) outside the attention
 *   core; the core's matmuls over the keys each layer attends (decode.ts), reading the keys and
 *   values from the KV cache; its scale (and soft-cap) and softmax over [B, H, N, keys]; and one
 *   kernel per layer that appends the new keys and values to the cache. With one new token per
 *   sequence nothing is masked, so the mask's kernels are not in a step (N > 1, drafted tokens
 *   checked together, is refused here for that reason).
 * - A generation of G tokens is G such steps at cached = P, P + 1, ..., P + G - 1. Every kernel
 *   outside the core has the same shape at every step and is listed once with `runs: G`; the
 *   core's kernels, whose key length grows, are listed per step.
 */
import { architectureOf, type ModelConfig } from '../../config/model_config.js';
import { product, matmulFlops } from '../../core/counting.js';
import { InputError } from '../../core/errors.js';
import { layerIndexOf, path } from '../../core/module_paths.js';
import {
  bytesHolding,
  ELEMENT_BYTES,
  forwardKernelCosts,
  matmulRowCost,
  nonMatmulKernelCost,
  type KernelCost,
  type KernelList,
} from '../bytes.js';
import type { DeviceDtype } from '../devices.js';
import { kernelEstimate, nonMatmulEstimate, type NonMatmulKernelEstimate } from '../non_matmul_estimate.js';
import { attendedKeys, decodeMatmulInventory, type DecodeStep, type GenerationRequest } from './decode.js';
import { cacheWindows } from './kv_cache.js';

/** The module the cache writes belong to: the layer's attention, a leaf of its own. */
function cachePath(layer: number): string {
  return `${path.layer(layer)}.attn.kv_cache`;
}

/** Writing `positions` new positions of k and v [B, Hkv, positions, dh] per sequence into layer `layer`'s cache. */
function cacheWrite(
  config: ModelConfig,
  layer: number,
  batch: number,
  positions: number,
  dtype: DeviceDtype,
): KernelCost {
  // k and v, each [B, Hkv, positions, dh] = B x positions x kv_dim values; or the latent and the rope key, r + dr
  const { kv_dim: kvDim, mla } = architectureOf(config);
  const perPosition = mla === undefined ? 2 * kvDim : mla.kv_lora_rank + mla.qk_rope_head_dim;
  const bytes = BigInt(batch) * BigInt(positions) * BigInt(perPosition) * ELEMENT_BYTES[dtype];
  return {
    path: cachePath(layer),
    kernel: 'CacheWrite',
    matmul: false,
    computes: `write ${mla === undefined ? 'k and v' : 'the latent and the rope key'} of ${positions} position${positions === 1 ? '' : 's'} into the cache`,
    flops: 0n,
    read: bytesHolding('activations', bytes),
    written: bytesHolding('kvCache', bytes),
  };
}

/** A prefill of `prompt` tokens for `batch` sequences: the forward pass, then the cache writes. */
export function prefillKernelCosts(config: ModelConfig, batch: number, prompt: number, dtype: DeviceDtype): KernelList {
  const forward = forwardKernelCosts(config, { batch, seq: prompt }, dtype);
  const writes = Array.from({ length: config.num_layers }, (_, layer) =>
    cacheWrite(config, layer, batch, prompt, dtype),
  );
  return { kernels: [...forward.kernels, ...writes], omitted: forward.omitted };
}

/** Whether a path is inside a layer's attention core (scores, their scale, cap, mask, softmax, weighted sum). */
function inCore(modulePath: string): boolean {
  const layer = layerIndexOf(modulePath);
  if (layer === undefined) return false;
  return [path.scores(layer), path.softmax(layer), path.attnSoftcap(layer), path.weightedSum(layer)].some(
    (core) => modulePath === core || modulePath.startsWith(`${core}.`),
  );
}

/** The core's non-matmul kernels of layer `layer` for N = 1 query over `keys` keys: scale, cap, softmax. */
function decodeCoreKernels(config: ModelConfig, layer: number, batch: number, keys: number): NonMatmulKernelEstimate[] {
  const cap = architectureOf(config).attn_softcap;
  const scores = [batch, config.num_heads, 1, keys]; // (B, H, 1, keys)
  const at = path.scores(layer);
  return [
    kernelEstimate(at, 'Multiply', 'scores / sqrt(dk)', [scores, []], scores),
    ...(cap === undefined
      ? []
      : [
          kernelEstimate(path.attnSoftcap(layer), 'Multiply', 'scores / cap', [scores, []], scores),
          kernelEstimate(path.attnSoftcap(layer), 'Tanh', 'tanh(scores / cap)', [scores], scores),
          kernelEstimate(path.attnSoftcap(layer), 'Multiply', 'cap * tanh(scores / cap)', [scores, []], scores),
        ]),
    kernelEstimate(path.softmax(layer), 'Softmax', 'softmax over the cached keys', [scores], scores),
  ];
}

function checkOneToken(step: DecodeStep): void {
  if (step.newTokens !== 1) {
    throw new InputError(
      `decode: the roofline models steps of one new token per sequence, not ${step.newTokens}; use newTokens 1`,
    );
  }
}

/** The kernels of one decode step whose shapes do not depend on the context: everything outside the core, and the cache writes. */
function contextFreeKernels(config: ModelConfig, batch: number, dtype: DeviceDtype): KernelCost[] {
  const matmuls = decodeMatmulInventory(config, { batch, cached: 0, newTokens: 1 })
    .filter((row) => row.component !== 'attention_core')
    .map((row) => matmulRowCost(row, config, dtype));
  const others = nonMatmulEstimate(config, { batch, seq: 1 })
    .kernels.filter((kernel) => !inCore(kernel.path))
    .map((kernel) => nonMatmulKernelCost(kernel, dtype, architectureOf(config).zero_centered_gain));
  const writes = Array.from({ length: config.num_layers }, (_, layer) => cacheWrite(config, layer, batch, 1, dtype));
  return [...matmuls, ...others, ...writes];
}

/**
 * The attention core of the decode steps at `cached` = P, P + 1, ..., P + G - 1, every layer: its
 * two matmuls (reading the cache), scale, cap and softmax. The core's rows are taken from the
 * inventory once, at the first step, and re-sized per step: only the key length changes, the
 * scores row's n and the weighted sum's k (decode.ts).
 */
function coreKernels(
  config: ModelConfig,
  request: GenerationRequest,
  windows: readonly (number | undefined)[],
  dtype: DeviceDtype,
): KernelCost[] {
  const { batch, prompt, generate } = request;
  const first = decodeMatmulInventory(config, { batch, cached: prompt, newTokens: 1 }, windows).filter(
    (row) => row.component === 'attention_core',
  );
  const kernels: KernelCost[] = [];
  for (let j = 0; j < generate; j++) {
    const keysOf = (layer: number) => attendedKeys(windows[layer], prompt + j, 1);
    for (const row of first) {
      const layer = layerIndexOf(row.path) ?? -1;
      const keys = keysOf(layer);
      const sized = row.path === path.scores(layer) ? { ...row, n: keys } : { ...row, k: keys };
      const flops = matmulFlops(product(row.batch), BigInt(sized.m), BigInt(sized.k), BigInt(sized.n));
      const macs = flops / 2n;
      kernels.push(matmulRowCost({ ...sized, flops, macs }, config, dtype, 'kvCache'));
    }
    for (let layer = 0; layer < windows.length; layer++) {
      for (const kernel of decodeCoreKernels(config, layer, batch, keysOf(layer))) {
        kernels.push(nonMatmulKernelCost(kernel, dtype));
      }
    }
  }
  return kernels;
}

/** Every kernel of one decode step of one new token per sequence. */
export function decodeStepKernelCosts(config: ModelConfig, step: DecodeStep, dtype: DeviceDtype): KernelList {
  checkOneToken(step);
  const request = { batch: step.batch, prompt: step.cached, generate: 1 };
  return {
    kernels: [
      ...contextFreeKernels(config, step.batch, dtype),
      ...coreKernels(config, request, cacheWindows(config), dtype),
    ],
    omitted: ['sampling the next token from the logits'],
  };
}

/** Every kernel of the G decode steps of a generation after a P-token prompt (see the file comment). */
export function decodeGenerationKernelCosts(
  config: ModelConfig,
  request: GenerationRequest,
  dtype: DeviceDtype,
): KernelList {
  const { batch, prompt, generate } = request;
  if (prompt + generate > config.context_length) {
    throw new InputError(
      `${config.source}: a prompt of ${prompt} and ${generate} generated tokens need ${prompt + generate} positions, ` +
        `past context_length (${config.context_length}); raise context_length or shorten them`,
    );
  }
  const windows = cacheWindows(config);
  const runs = BigInt(generate);
  const constant = contextFreeKernels(config, batch, dtype).map((kernel) => ({ ...kernel, runs }));
  const perStep = coreKernels(config, request, windows, dtype);
  return { kernels: [...constant, ...perStep], omitted: ['sampling the next token from the logits'] };
}
