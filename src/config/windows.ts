/**
 * Sliding-window attention: which layers have a window, and how wide it is.
 *
 * A window w keeps, for the query at position q, the keys at positions k with
 *
 *     q - w < k <= q        (w keys, the query's own position included)
 *
 * which is how Hugging Face transformers masks a sliding layer: masking_utils.py
 * (huggingface/transformers @ 00c4411cbe15d4c56d54d3b56d4d171e9c289dac) builds the mask as
 * `and_masks(sliding_window_overlay(w), causal_mask_function)` with
 * `sliding_window_overlay`'s `kv_idx > q_idx - sliding_window` and the causal `kv_idx <= q_idx`.
 * Older flash-attention paths in transformers passed `window_size=(w, w)` to flash-attn, which
 * keeps w + 1 keys (modeling_flash_attention_utils.py @ 005f48213bd74c6773e7f52b4b24427b5eb06fe0);
 * vLLM and later transformers pass `(w - 1, 0)`, the w keys above. flopledger follows the mask.
 *
 * In a flopledger config, `window` is w and `window_layers` says which layers slide (the others
 * attend to every earlier position):
 *   absent                 every layer (Mistral, Phi-3)
 *   "LG", "LLLLLG"         a pattern of L (local: the window) and G (global: full causal),
 *                          repeated from layer 0 (Gemma 2: even layers slide; Gemma 3: five of six)
 *   [28, 29, 30, 31]       the 0-based indices of the sliding layers, increasing (Qwen2's
 *                          max_window_layers, or any list of layer types)
 * A pattern follows a change of num_layers (--layers); a list must name layers the model has.
 */
import type { KeyNames } from './config_fields.js';
import type { ModelConfig, WindowLayers } from './model_config.js';
import { printable } from './printable.js';

const LOCAL = 'L';
const PATTERN = /^[LG]+$/;

/** Whether layer `i` of a model with this window_layers (absent: every layer) has the window. */
function slides(windowLayers: WindowLayers | undefined, i: number): boolean {
  if (windowLayers === undefined) return true;
  if (typeof windowLayers === 'string') return windowLayers[i % windowLayers.length] === LOCAL;
  return windowLayers.includes(i);
}

/**
 * The window of every layer, in order: w for a sliding layer, undefined for a layer with full
 * causal attention (every layer when the config has no window).
 */
export function layerWindows(config: ModelConfig): readonly (number | undefined)[] {
  const { window, window_layers } = config;
  return Array.from({ length: config.num_layers }, (_, i) =>
    window !== undefined && slides(window_layers, i) ? window : undefined,
  );
}

/** The window of layer `i`, or undefined for full causal attention. */
export function layerWindow(config: ModelConfig, i: number): number | undefined {
  return config.window !== undefined && slides(config.window_layers, i) ? config.window : undefined;
}

/**
 * The window rules across fields, for fields that are each valid on their own: window_layers
 * needs a window; a pattern holds only L and G and slides some layer; a list names each layer
 * the model has once, in increasing order.
 */
export function windowProblems(
  source: string,
  raw: Readonly<Record<string, unknown>>,
  invalid: ReadonlySet<string>,
  names: KeyNames,
): string[] {
  const layers = raw['window_layers'];
  if (layers === undefined || invalid.has('window_layers')) return [];
  const key = names('window_layers');
  if (raw['window'] === undefined) {
    return [
      `${source}: ${key} says which layers use the sliding window, but there is no ${names('window')}; ` +
        `fix: add e.g. "${names('window')}": 4096, or remove ${key}`,
    ];
  }
  if (typeof layers === 'string') return patternProblems(source, key, layers, names);
  if (!Array.isArray(layers)) return [];
  const numLayers = raw['num_layers'];
  return listProblems(
    source,
    key,
    layers as readonly number[],
    invalid.has('num_layers') ? undefined : (numLayers as number),
    names,
  );
}

function patternProblems(source: string, key: string, pattern: string, names: KeyNames): string[] {
  const shown = `${source}: ${key} ("${printable(pattern)}")`;
  if (!PATTERN.test(pattern)) {
    const upper = pattern.toUpperCase();
    const fix = PATTERN.test(upper)
      ? `write it in capitals: "${upper}"`
      : `use only L and G, e.g. "LG" (Gemma 2: even layers slide) or "LLLLLG" (Gemma 3: five of every six)`;
    return [
      `${shown} must be a pattern of L (a layer with the window) and G (a layer with full attention), ` +
        `repeated from layer 0; fix: ${fix}`,
    ];
  }
  if (!pattern.includes(LOCAL)) {
    return [
      `${shown} has no L, so no layer uses the ${names('window')}; fix: remove ${names('window')} and ${key} ` +
        'for full attention everywhere, or put an L where a layer slides',
    ];
  }
  return [];
}

function listProblems(
  source: string,
  key: string,
  layers: readonly number[],
  numLayers: number | undefined,
  names: KeyNames,
): string[] {
  const shown = `${source}: ${key} (${shortJson(layers)})`;
  if (layers.length === 0) {
    return [
      `${shown} lists no layer, so none uses the ${names('window')}; fix: remove ${names('window')} and ${key} ` +
        'for full attention everywhere, or list the sliding layers',
    ];
  }
  const problems: string[] = [];
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  if (sorted.length !== layers.length || sorted.some((layer, i) => layer !== layers[i])) {
    problems.push(`${shown} must name each layer once, in increasing order; fix: ${shortJson(sorted)}`);
  }
  if (numLayers !== undefined) {
    const beyond = sorted.filter((layer) => layer >= numLayers);
    if (beyond.length > 0) {
      const kept = sorted.filter((layer) => layer < numLayers);
      problems.push(
        `${shown} names layer ${beyond.join(', ')}, but the model has ${numLayers} ${numLayers === 1 ? 'layer' : 'layers'} ` +
          `(${names('num_layers')}), numbered 0 to ${numLayers - 1}; fix: ` +
          (kept.length > 0 ? shortJson(kept) : `list layers below ${numLayers}`),
      );
    }
  }
  return problems;
}

/** A list for a message, cut after 12 items: a 62-layer model's list needs no 62 numbers to be recognised. */
function shortJson(values: readonly number[]): string {
  const shown = values.slice(0, 12).join(', ');
  return values.length > 12 ? `[${shown}, ... ${values.length - 12} more]` : `[${shown}]`;
}
