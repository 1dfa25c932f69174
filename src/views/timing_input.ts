/**
 * The timing data `report --timing FILE` reads: what the timing command writes as JSON,
 *   { "backend": string, "points": [{ "label": string, "flops": "<decimal string>", "median_ms": number }] }
 * FLOPs travel as decimal strings because JSON numbers lose digits past 2^53.
 */
import { readFileSync } from 'node:fs';
import { zod } from '../config/zod.js';
import { InputError } from '../core/errors.js';
import type { TimingPoint } from './charts.js';

export interface TimingData {
  /** The file the data came from, as the user named it. */
  readonly source: string;
  readonly backend: string;
  readonly points: readonly TimingPoint[];
}

/** Built when a file is read (zod loads then: config/zod.ts). */
function timingSchema() {
  const z = zod();
  return z.object({
    backend: z.string().min(1, 'must name the backend the times were measured on'),
    points: z
      .array(
        z.object({
          label: z.string().min(1, 'must not be empty'),
          flops: z.string().regex(/^[0-9]+$/, 'must be a decimal string of digits, e.g. "4513336524800"'),
          median_ms: z.number().positive('must be a positive number of milliseconds'),
        }),
      )
      .min(1, 'must hold at least one measured point'),
  });
}

/**
 * Parsed and validated; every problem is one line starting with `label` (how messages name the
 * input, e.g. "--timing t.json") and naming the field.
 */
export function parseTimingData(text: string, source: string, label: string = source): TimingData {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`${label}: not valid JSON (${reason}); write it with the timing command's JSON output`);
  }
  const parsed = timingSchema().safeParse(json);
  if (!parsed.success) {
    throw new InputError(
      parsed.error.issues.map((issue) => {
        const where = issue.path.length === 0 ? 'the file' : fieldPath(issue.path);
        return `${label}: ${where} ${issue.message}`;
      }),
    );
  }
  return {
    source,
    backend: parsed.data.backend,
    points: parsed.data.points.map((point) => ({
      label: point.label,
      flops: BigInt(point.flops),
      medianMs: point.median_ms,
    })),
  };
}

export function readTimingData(path: string): TimingData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? String(error));
    throw new InputError(`--timing ${path}: cannot read it (${reason}); pass the JSON file the timing command wrote`);
  }
  return parseTimingData(text, path, `--timing ${path}`);
}

/** ["points", 2, "flops"] -> "points[2].flops". */
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}
