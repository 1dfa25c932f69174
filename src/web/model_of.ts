/** The model a page state names; shared by the page and its run worker. */
import { configFromText } from '../config/config_file.js';
import type { ModelConfig } from '../config/model_config.js';
import { InputError } from '../core/errors.js';
import { presetNamed, PRESETS } from './presets.js';
import type { PageState } from './state.js';

/** The model the state names: a pasted config.json (named by its _name_or_path when it has one) or a preset. */
export function modelOf(state: PageState): ModelConfig {
  if (state.configText !== undefined) {
    const named = /"_name_or_path"\s*:\s*"([^"]+)"/.exec(state.configText)?.[1];
    const name = named?.split('/').at(-1) ?? 'config';
    return configFromText(state.configText, 'the pasted config.json', name);
  }
  const preset = presetNamed(state.preset);
  if (preset === undefined) {
    throw new InputError(
      `unknown model "${state.preset}"; choose one of ${PRESETS.map((config) => config.name).join(', ')}`,
    );
  }
  return preset;
}
