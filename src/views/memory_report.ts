import { ratio, type MemoryRow } from '../analytic/index.js';
import { type ModelConfig, modelLabel } from '../config/model_config.js';
import { formatCountSi } from '../core/format.js';
import { configJson, dimensionsLabel } from './labels.js';
import { fixed, heading, paragraph, tableBlock, type Report } from '../render/table.js';

const GIGABYTE = 10n ** 9n;
const GIBIBYTE = 2n ** 30n;

export interface MemoryReportInput {
  readonly config: ModelConfig;
  readonly parameters: bigint;
  readonly memory: readonly MemoryRow[];
}

/** Bytes to hold the weights in each storage dtype, exact and in GB (10^9) and GiB (2^30). */
export function memoryReport({ config, parameters, memory }: MemoryReportInput): Report<MemoryData> {
  return {
    blocks: [
      heading(`Weight memory of ${modelLabel(config)}`),
      paragraph(
        `${dimensionsLabel(config)}; ${formatCountSi(parameters)} parameters. ` +
          'Weights only: activations, gradients and optimizer state come on top.',
      ),
      tableBlock({
        columns: [
          { header: 'dtype' },
          { header: 'bytes/param', align: 'right' },
          { header: 'bytes', align: 'right' },
          { header: 'GB (10^9)', align: 'right' },
          { header: 'GiB (2^30)', align: 'right' },
        ],
        rows: memory.map((row) => [
          row.dtype,
          row.bytesPerParameter,
          row.bytes,
          fixed(row.bytes, GIGABYTE, 3),
          fixed(row.bytes, GIBIBYTE, 2),
        ]),
      }),
    ],
    json: memoryData({ config, parameters, memory }),
  };
}

/** What `memory --format json` writes: each dtype's exact bytes, and GB and GiB as numbers. */
function memoryData({ config, parameters, memory }: MemoryReportInput) {
  return {
    model: configJson(config),
    parameters,
    dtypes: memory.map((row) => ({
      ...row,
      gigabytes: ratio(row.bytes, GIGABYTE),
      gibibytes: ratio(row.bytes, GIBIBYTE),
    })),
  };
}

export type MemoryData = ReturnType<typeof memoryData>;
