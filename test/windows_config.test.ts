/**
 * Sliding windows in config files and Hugging Face config.json files: what each form means per
 * layer, every validation message word for word, and the window keys of each model type read as
 * transformers reads them (test/fixtures/hf holds the published configs).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { applyOverrides, parseHuggingFaceConfig, parseModelConfig } from '../src/config/index.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { layerWindows } from '../src/config/windows.js';
import { inputError } from './helpers/input_error.js';

const base = { vocab_size: 10, context_length: 64, num_layers: 4, d_model: 8, num_heads: 2, d_ff: 16 };
const parse = (extra: Record<string, unknown>): ModelConfig => parseModelConfig({ ...base, ...extra }, 'x.json', 'x');
const problems = (extra: Record<string, unknown>) => inputError(() => parse(extra)).problems;

describe('window and window_layers in a flopledger config', () => {
  it('give each layer its window: every layer, a pattern from layer 0, or a list of layers', () => {
    expect(layerWindows(parse({}))).toEqual([undefined, undefined, undefined, undefined]);
    expect(layerWindows(parse({ window: 8 }))).toEqual([8, 8, 8, 8]);
    expect(layerWindows(parse({ window: 8, window_layers: 'LG' }))).toEqual([8, undefined, 8, undefined]);
    expect(layerWindows(parse({ window: 8, window_layers: 'LLLLLG' }))).toEqual([8, 8, 8, 8]);
    expect(layerWindows(parse({ window: 8, window_layers: 'GLL' }))).toEqual([undefined, 8, 8, undefined]);
    expect(layerWindows(parse({ window: 8, window_layers: [1, 3] }))).toEqual([undefined, 8, undefined, 8]);
  });

  it('are carried as given', () => {
    expect(parse({ window: 8, window_layers: [1, 3] })).toMatchObject({ window: 8, window_layers: [1, 3] });
  });

  it('refuse each bad form with one line naming the key, the value and a fix', () => {
    expect(problems({ window: 0 })).toEqual([
      'x.json: window (0) must be a positive integer; fix: use a value of at least 1, e.g. 4096',
    ]);
    expect(problems({ window_layers: 'LG' })).toEqual([
      'x.json: window_layers says which layers use the sliding window, but there is no window; ' +
        'fix: add e.g. "window": 4096, or remove window_layers',
    ]);
    expect(problems({ window: 8, window_layers: 'lg' })).toEqual([
      'x.json: window_layers ("lg") must be a pattern of L (a layer with the window) and G (a layer with full ' +
        'attention), repeated from layer 0; fix: write it in capitals: "LG"',
    ]);
    expect(problems({ window: 8, window_layers: 'LGX' })).toEqual([
      'x.json: window_layers ("LGX") must be a pattern of L (a layer with the window) and G (a layer with full ' +
        'attention), repeated from layer 0; fix: use only L and G, e.g. "LG" (Gemma 2: even layers slide) or ' +
        '"LLLLLG" (Gemma 3: five of every six)',
    ]);
    expect(problems({ window: 8, window_layers: 'GG' })).toEqual([
      'x.json: window_layers ("GG") has no L, so no layer uses the window; fix: remove window and window_layers ' +
        'for full attention everywhere, or put an L where a layer slides',
    ]);
    expect(problems({ window: 8, window_layers: [] })).toEqual([
      'x.json: window_layers ([]) lists no layer, so none uses the window; fix: remove window and window_layers ' +
        'for full attention everywhere, or list the sliding layers',
    ]);
    expect(problems({ window: 8, window_layers: [3, 1, 7] })).toEqual([
      'x.json: window_layers ([3, 1, 7]) must name each layer once, in increasing order; fix: [1, 3, 7]',
      'x.json: window_layers ([3, 1, 7]) names layer 7, but the model has 4 layers (num_layers), numbered 0 to 3; fix: [1, 3]',
    ]);
    expect(problems({ window: 8, window_layers: 2 })).toEqual([
      'x.json: window_layers (2) must be a pattern of L (sliding) and G (full attention) such as "LG", or a list of ' +
        'layer indices such as [0, 2]; fix: e.g. "window_layers": "LG"',
    ]);
    expect(problems({ window: 8, window_layers: [-1] })[0]).toMatch(
      /^x\.json: window_layers \(\[-1\]\) must be a pattern/,
    );
    expect(problems({ sliding_window: 8 })).toEqual(['x.json: unknown key "sliding_window": did you mean "window"?']);
  });

  it('follow a change of layers: a pattern repeats, a list must still name layers the model has', () => {
    const pattern = parse({ window: 8, window_layers: 'LG' });
    expect(layerWindows(applyOverrides(pattern, { num_layers: 6 }))).toEqual([
      8,
      undefined,
      8,
      undefined,
      8,
      undefined,
    ]);
    const list = parse({ window: 8, window_layers: [1, 3] });
    expect(inputError(() => applyOverrides(list, { num_layers: 2 })).problems).toEqual([
      'x with num_layers=2: window_layers ([1, 3]) names layer 3, but the model has 2 layers (num_layers), ' +
        'numbered 0 to 1; fix: [1]',
    ]);
  });
});

/** The hub config with some keys changed; undefined removes a key, as a file without it. */
function hub(name: string, changes: Record<string, unknown> = {}): ModelConfig {
  const raw = JSON.parse(readFileSync(`test/fixtures/hf/${name}.json`, 'utf8')) as Record<string, unknown>;
  const changed: Record<string, unknown> = { ...raw, ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete changed[key];
  return parseHuggingFaceConfig(changed, `${name}.json`, name);
}

function windowsOf(config: ModelConfig): string {
  return layerWindows(config)
    .map((window) => window ?? '-')
    .join(' ');
}

describe('the window keys of Hugging Face configs, read as transformers reads them', () => {
  it("Mistral-7B-v0.1: sliding_window 4096 on every layer; null means none; absent, MistralConfig's 4096", () => {
    const mistral = hub('Mistral-7B-v0.1');
    expect(mistral).toMatchObject({ window: 4096 });
    expect(mistral.window_layers).toBeUndefined();
    expect(layerWindows(mistral).every((window) => window === 4096)).toBe(true);
    expect(hub('Mistral-7B-v0.1', { sliding_window: null }).window).toBeUndefined();
    const absent = hub('Mistral-7B-v0.1', { sliding_window: undefined });
    expect(absent.window).toBe(4096);
    expect(absent.notes?.[0]).toContain('sliding_window 4096');
  });

  it('Phi-3-mini-4k: sliding_window 2047 on every layer', () => {
    expect(hub('Phi-3-mini-4k-instruct')).toMatchObject({ window: 2047 });
    expect(hub('Phi-3-mini-4k-instruct').window_layers).toBeUndefined();
  });

  it('Gemma 2: the even layers slide ((i + 1) % 2), window 4096', () => {
    const gemma = hub('Gemma-2-2B');
    expect(gemma).toMatchObject({ window: 4096, window_layers: 'LG' });
    expect(windowsOf(gemma).split(' ').slice(0, 4)).toEqual(['4096', '-', '4096', '-']);
  });

  it('Qwen2.5 and Qwen3: use_sliding_window false, so no layer slides whatever sliding_window says', () => {
    for (const name of ['Qwen2.5-0.5B', 'Qwen2.5-7B', 'Qwen3-8B']) {
      expect(hub(name).window).toBeUndefined();
      expect(hub(name).notes?.join('\n') ?? '').not.toMatch(/not understood: .*window/);
    }
  });

  it('Qwen2 with use_sliding_window: the layers from max_window_layers on slide', () => {
    const qwen = hub('Qwen2.5-0.5B', { use_sliding_window: true, sliding_window: 4096, max_window_layers: 20 });
    expect(qwen).toMatchObject({ window: 4096, window_layers: [20, 21, 22, 23] });
    expect(hub('Qwen2.5-0.5B', { use_sliding_window: true, max_window_layers: 0 }).window_layers).toBeUndefined();
    expect(hub('Qwen2.5-0.5B', { use_sliding_window: true, max_window_layers: 24 }).window).toBeUndefined();
  });

  it('Gemma 3 text: five sliding layers of every six (sliding_window_pattern 6), or the layer_types given', () => {
    const gemma3 = { model_type: 'gemma3_text', num_hidden_layers: 12 };
    const config = parseHuggingFaceConfig(gemma3, 'g3.json', 'g3');
    expect(config).toMatchObject({ window: 4096, window_layers: 'LLLLLG' });
    expect(windowsOf(config)).toBe('4096 4096 4096 4096 4096 - 4096 4096 4096 4096 4096 -');
    expect(
      parseHuggingFaceConfig({ ...gemma3, sliding_window: 512, sliding_window_pattern: 2 }, 'g3.json', 'g3'),
    ).toMatchObject({
      window: 512,
      window_layers: 'LG',
    });
    const types = ['full_attention', 'sliding_attention', 'sliding_attention'];
    expect(
      parseHuggingFaceConfig({ model_type: 'gemma3_text', num_hidden_layers: 3, layer_types: types }, 'g3.json', 'g3'),
    ).toMatchObject({ window: 4096, window_layers: [1, 2] });
  });

  it('refuse a layer type flopledger does not model, and a layer_types of the wrong length', () => {
    const chunked = {
      model_type: 'gemma3_text',
      num_hidden_layers: 2,
      layer_types: ['sliding_attention', 'chunked_attention'],
    };
    expect(inputError(() => parseHuggingFaceConfig(chunked, 'g3.json', 'g3')).problems).toEqual([
      'g3.json: layer_types holds "chunked_attention", which flopledger does not model (it models "sliding_attention" ' +
        'and "full_attention"); counting the rest would describe another model',
    ]);
    const short = { model_type: 'gemma2', num_hidden_layers: 3, layer_types: ['sliding_attention'] };
    expect(inputError(() => parseHuggingFaceConfig(short, 'g2.json', 'g2')).problems).toEqual([
      'g2.json: layer_types lists 1 layers but num_hidden_layers is 3; transformers refuses this too; ' +
        'fix: one "sliding_attention" or "full_attention" per layer',
    ]);
    expect(
      inputError(() => parseHuggingFaceConfig({ model_type: 'mistral', sliding_window: 0 }, 'm.json', 'm')).problems,
    ).toEqual(['m.json: sliding_window (0) must be a positive integer; fix: use a value of at least 1, e.g. 4096']);
  });
});
