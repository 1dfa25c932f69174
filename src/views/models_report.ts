import type { ModelConfig } from '../config/model_config.js';
import { formatCountSi } from '../core/format.js';
import { configJson } from './labels.js';
import { heading, paragraph, tableBlock, type Report } from '../render/table.js';

export interface ModelListing {
  readonly config: ModelConfig;
  readonly parameters: bigint;
}

/** The bundled presets with their dimensions and parameter counts. */
export function modelsReport(models: readonly ModelListing[]): Report<ModelsData> {
  return {
    blocks: [
      heading('Model presets'),
      tableBlock({
        columns: [
          { header: 'model' },
          { header: 'vocab', align: 'right' },
          { header: 'ctx', align: 'right' },
          { header: 'layers', align: 'right' },
          { header: 'd_model', align: 'right' },
          { header: 'heads', align: 'right' },
          { header: 'd_ff', align: 'right' },
          { header: 'parameters', align: 'right' },
          { header: 'approx', align: 'right' },
        ],
        rows: models.map(({ config, parameters }) => [
          config.name,
          BigInt(config.vocab_size),
          BigInt(config.context_length),
          BigInt(config.num_layers),
          BigInt(config.d_model),
          BigInt(config.num_heads),
          BigInt(config.d_ff),
          parameters,
          formatCountSi(parameters),
        ]),
      }),
      paragraph('Any command also takes a path to a JSON file with the same six keys, e.g. models/gpt2-small.json.'),
    ],
    json: modelsData(models),
  };
}

/** What `models --format json` writes: each preset's dimensions and parameter count. */
function modelsData(models: readonly ModelListing[]) {
  return { models: models.map(({ config, parameters }) => ({ ...configJson(config), parameters })) };
}

export type ModelsData = ReturnType<typeof modelsData>;
