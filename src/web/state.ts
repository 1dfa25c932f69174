/**
 * What the page shows, as it lives in the URL's hash: the model (a preset name, or a pasted
 * config's text) and every option, so a link opens the same result. Unknown or malformed values
 * fall back to their defaults; the page shows the problem rather than a wrong number.
 */
import type { Depth } from '../render/table.js';

export const RUN_BACKENDS = ['webgl', 'webgpu', 'wasm', 'cpu', 'meta'] as const;
export type RunBackend = (typeof RUN_BACKENDS)[number];

export interface PageState {
  /** A preset name, when no config text is given. */
  readonly preset: string;
  /** A pasted or dropped config.json, which takes the place of the preset. */
  readonly configText: string | undefined;
  /** Tokens per sequence; undefined for the model's context length. */
  readonly seq: number | undefined;
  readonly batch: number;
  readonly depth: Depth;
  readonly prompt: number | undefined;
  readonly generate: number | undefined;
  readonly backend: RunBackend;
  /** Also trace and verify a training step. */
  readonly train: boolean;
}

const DEFAULT_STATE: PageState = {
  preset: 'gpt2-small',
  configText: undefined,
  seq: undefined,
  batch: 1,
  depth: 1,
  prompt: undefined,
  generate: undefined,
  backend: 'webgl',
  train: false,
};

function positive(raw: string | null): number | undefined {
  if (raw === null || !/^[1-9]\d*$/.test(raw)) return undefined;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

export function stateFromHash(hash: string): PageState {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const depth = Number(params.get('depth') ?? DEFAULT_STATE.depth);
  const backend = RUN_BACKENDS.find((name) => name === params.get('backend'));
  return {
    preset: params.get('model') ?? DEFAULT_STATE.preset,
    configText: params.get('config') ?? undefined,
    seq: positive(params.get('seq')),
    batch: positive(params.get('batch')) ?? DEFAULT_STATE.batch,
    depth: depth === 0 || depth === 1 || depth === 2 || depth === 3 ? depth : DEFAULT_STATE.depth,
    prompt: positive(params.get('prompt')),
    generate: positive(params.get('generate')),
    backend: backend ?? DEFAULT_STATE.backend,
    train: params.get('train') === '1',
  };
}

/** The hash for `state`, defaults left out so a link stays short. */
export function hashOf(state: PageState): string {
  const params = new URLSearchParams();
  if (state.configText !== undefined) params.set('config', state.configText);
  else params.set('model', state.preset);
  if (state.seq !== undefined) params.set('seq', String(state.seq));
  if (state.batch !== DEFAULT_STATE.batch) params.set('batch', String(state.batch));
  if (state.depth !== DEFAULT_STATE.depth) params.set('depth', String(state.depth));
  if (state.prompt !== undefined) params.set('prompt', String(state.prompt));
  if (state.generate !== undefined) params.set('generate', String(state.generate));
  if (state.backend !== DEFAULT_STATE.backend) params.set('backend', state.backend);
  if (state.train) params.set('train', '1');
  return `#${params.toString()}`;
}
