/**
 * The sliding windows of a Hugging Face config.json, read as each model class reads them, into
 * flopledger's `window` and `window_layers` (windows.ts; a window w keeps the keys q - w < k <= q,
 * transformers' masking_utils.py). Per model type, from transformers' configuration_*.py and
 * modeling_*.py (quoted in the project's notes on Hugging Face semantics):
 *
 *   mistral      sliding_window, default 4096, on every layer (MistralAttention passes
 *                config.sliding_window to the attention of each layer); null: no window.
 *   phi3         sliding_window, default None, on every layer (Phi3Attention passes
 *                getattr(config, "sliding_window", None)); mixtral the same (MixtralConfig's
 *                sliding_window defaults to None).
 *   qwen2, qwen3, qwen2_moe, qwen3_moe
 *                use_sliding_window (default False), sliding_window (default 4096, set to None
 *                unless use_sliding_window), max_window_layers (default 28): Qwen2Config derives
 *                layer_types "sliding_attention" for i >= max_window_layers when the window is on,
 *                and the attention of a "full_attention" layer has no window.
 *   gemma2       sliding_window (default 4096); layer_types derived as sliding when (i + 1) % 2,
 *                i.e. the even layers 0, 2, 4, ... (v4: `not bool(layer_idx % 2)`).
 *   gemma3_text  sliding_window (default 4096); sliding_window_pattern (default 6): layer_types
 *                sliding when (i + 1) % pattern, so layers 5, 11, 17, ... are full attention.
 * A layer_types list in the file, where the class reads one (qwen2, qwen3, gemma2, gemma3_text),
 * decides per layer instead; it must name every layer, as transformers' layer_type_validation
 * requires, and only "sliding_attention" or "full_attention".
 */
import { showField, showValue } from './config_fields.js';
import type { HuggingFaceFamily } from './hf_ignored_keys.js';
import type { WindowLayers } from './model_config.js';

/** What the file says about windows, in flopledger's fields, and how it was read. */
export interface WindowReading {
  /** The window's value as the file has it (validated as a count by the config rules), or absent. */
  readonly window?: unknown;
  readonly windowLayers?: WindowLayers;
  /** The keys the values came from, for messages: window from sliding_window, window_layers from ... */
  readonly names: { readonly window?: string; readonly window_layers?: string };
  /** Every window key read (not to be listed as ignored). */
  readonly used: readonly string[];
  /** "sliding_window 4096": the class defaults taken for keys the file leaves out. */
  readonly defaults: readonly string[];
  readonly problems: readonly string[];
}

const SLIDING = 'sliding_attention';
const FULL = 'full_attention';

/** The window keys of `family`; the families that have no window (llama, gpt2) read none. */
export function readHuggingFaceWindows(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  family: HuggingFaceFamily,
  numLayers: number | undefined,
): WindowReading {
  switch (family) {
    case 'mistral':
      return everyLayer(raw, 4096);
    case 'phi3':
    case 'mixtral':
      return everyLayer(raw, null);
    case 'qwen2':
    case 'qwen3':
    case 'qwen2_moe':
    case 'qwen3_moe':
      return qwen(raw, source, numLayers);
    case 'gemma2':
      return gemma(raw, source, numLayers, 2, undefined);
    case 'gemma3_text':
      return gemma(raw, source, numLayers, 6, 'sliding_window_pattern');
    default:
      return { names: {}, used: [], defaults: [], problems: [] };
  }
}

/** sliding_window on every layer, `fallback` when the key is absent; null means no window. */
function everyLayer(raw: Readonly<Record<string, unknown>>, fallback: number | null): WindowReading {
  const names = { window: 'sliding_window' };
  if (!Object.hasOwn(raw, 'sliding_window')) {
    const defaults = [`sliding_window ${fallback ?? 'None'}`];
    return { ...(fallback === null ? {} : { window: fallback }), names, used: [], defaults, problems: [] };
  }
  const value = raw['sliding_window'];
  return { ...(value === null ? {} : { window: value }), names, used: ['sliding_window'], defaults: [], problems: [] };
}

/**
 * Qwen2Config (and Qwen3Config, the same rule): the window only when use_sliding_window, and then
 * on the layers i >= max_window_layers, or on the layer_types the file lists.
 */
function qwen(raw: Readonly<Record<string, unknown>>, source: string, numLayers: number | undefined): WindowReading {
  const used = ['use_sliding_window', 'sliding_window', 'max_window_layers', 'layer_types'].filter((key) =>
    Object.hasOwn(raw, key),
  );
  const defaults: string[] = [];
  const problems: string[] = [];
  const on = raw['use_sliding_window'] ?? false;
  if (!Object.hasOwn(raw, 'use_sliding_window')) defaults.push('use_sliding_window false');
  if (typeof on !== 'boolean') {
    problems.push(`${source}: use_sliding_window (${showField(raw, 'use_sliding_window')}) must be true or false`);
    return { names: {}, used, defaults, problems };
  }
  // Qwen2Config: `self.sliding_window = self.sliding_window if self.use_sliding_window else None`.
  if (!on) return { names: {}, used, defaults, problems };
  const fromTypes = layerTypes(raw, source, numLayers, problems);
  const window = Object.hasOwn(raw, 'sliding_window') ? raw['sliding_window'] : 4096;
  if (!Object.hasOwn(raw, 'sliding_window')) defaults.push('sliding_window 4096');
  if (window === null) return { names: {}, used, defaults, problems };
  const names = {
    window: 'sliding_window',
    window_layers: fromTypes !== undefined ? 'layer_types' : 'max_window_layers',
  };
  if (fromTypes !== undefined) return withLayers(window, fromTypes, names, used, defaults, problems);
  if (problems.length > 0) return { names, used, defaults, problems };
  const first = Object.hasOwn(raw, 'max_window_layers') ? raw['max_window_layers'] : 28;
  if (!Object.hasOwn(raw, 'max_window_layers')) defaults.push('max_window_layers 28');
  if (typeof first !== 'number' || !Number.isSafeInteger(first) || first < 0) {
    problems.push(
      `${source}: max_window_layers (${showField(raw, 'max_window_layers')}) must be a whole number of layers; ` +
        'fix: e.g. 28 (layers 28 and up use the sliding window)',
    );
    return { names, used, defaults, problems };
  }
  if (numLayers === undefined) return { names, used, defaults, problems };
  if (first === 0) return { window, names, used, defaults, problems };
  const sliding = Array.from({ length: Math.max(0, numLayers - first) }, (_, i) => first + i);
  // No layer at or past max_window_layers: Qwen2Model slides none, whatever the window says.
  if (sliding.length === 0) return { names: {}, used, defaults, problems };
  return { window, windowLayers: sliding, names, used, defaults, problems };
}

/**
 * Gemma2Config and Gemma3TextConfig: the file's layer_types, else the class's rule, layer i
 * sliding when (i + 1) % period (Gemma 2: period 2; Gemma 3: sliding_window_pattern, default 6).
 */
function gemma(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  numLayers: number | undefined,
  period: number,
  periodKey: string | undefined,
): WindowReading {
  const keys = ['sliding_window', 'layer_types', ...(periodKey === undefined ? [] : [periodKey])];
  const used = keys.filter((key) => Object.hasOwn(raw, key));
  const defaults: string[] = [];
  const problems: string[] = [];
  const window = Object.hasOwn(raw, 'sliding_window') ? raw['sliding_window'] : 4096;
  if (!Object.hasOwn(raw, 'sliding_window')) defaults.push('sliding_window 4096');
  const fromTypes = layerTypes(raw, source, numLayers, problems);
  if (window === null) return { names: {}, used, defaults, problems };
  if (fromTypes !== undefined) {
    return withLayers(
      window,
      fromTypes,
      { window: 'sliding_window', window_layers: 'layer_types' },
      used,
      defaults,
      problems,
    );
  }
  let every = period;
  if (periodKey !== undefined) {
    const given = raw[periodKey];
    if (given === undefined) defaults.push(`${periodKey} ${period}`);
    else if (typeof given !== 'number' || !Number.isSafeInteger(given) || given < 1) {
      problems.push(
        `${source}: ${periodKey} (${showField(raw, periodKey)}) must be a positive whole number; ` +
          `fix: e.g. ${period} (five sliding layers, then one with full attention)`,
      );
      return { names: {}, used, defaults, problems };
    } else every = given;
  }
  const names = { window: 'sliding_window', window_layers: periodKey ?? 'layer_types' };
  // (i + 1) % every is 0 only for the last layer of each period: a period of 1 slides no layer.
  if (every === 1) return { names: {}, used, defaults, problems };
  return { window, windowLayers: 'L'.repeat(every - 1) + 'G', names, used, defaults, problems };
}

/** The sliding layers of the file's layer_types, or undefined when it has none (or it is wrong: a problem). */
function layerTypes(
  raw: Readonly<Record<string, unknown>>,
  source: string,
  numLayers: number | undefined,
  problems: string[],
): LayerTypes | undefined {
  const types = raw['layer_types'];
  if (types === undefined || types === null) return undefined;
  const fix = `fix: one "${SLIDING}" or "${FULL}" per layer`;
  if (!Array.isArray(types)) {
    problems.push(`${source}: layer_types (${showValue(types)}) must be a list of layer types; ${fix}`);
    return undefined;
  }
  const others = [...new Set(types.filter((type) => type !== SLIDING && type !== FULL))];
  if (others.length > 0) {
    problems.push(
      `${source}: layer_types holds ${others.map((type) => showValue(type)).join(', ')}, which flopledger does not ` +
        `model (it models "${SLIDING}" and "${FULL}"); counting the rest would describe another model`,
    );
    return undefined;
  }
  if (numLayers !== undefined && types.length !== numLayers) {
    problems.push(
      `${source}: layer_types lists ${types.length} layers but num_hidden_layers is ${numLayers}; ` +
        `transformers refuses this too; ${fix}`,
    );
    return undefined;
  }
  return { sliding: types.flatMap((type, i) => (type === SLIDING ? [i] : [])), layers: types.length };
}

/** The layers a layer_types list makes slide, out of how many it lists. */
interface LayerTypes {
  readonly sliding: readonly number[];
  readonly layers: number;
}

function withLayers(
  window: unknown,
  { sliding, layers: listed }: LayerTypes,
  names: WindowReading['names'],
  used: readonly string[],
  defaults: readonly string[],
  problems: readonly string[],
): WindowReading {
  if (sliding.length === 0) return { names: {}, used, defaults, problems };
  // Every layer listed as sliding is the plain window on every layer.
  const layers = sliding.length === listed ? undefined : sliding;
  return { window, ...(layers === undefined ? {} : { windowLayers: layers }), names, used, defaults, problems };
}
