/**
 * The non-matmul work of each module, traced against the estimate's (analytic
 * non_matmul_estimate.ts), module path by module path: how many counted kernels ran there and
 * their FLOPs under the one rule table.
 *
 * Why this is needed beside the matmul check: most components of the newer architectures do no
 * matmul at all. A q or k norm, a post-norm, the (1 + gain) of Gemma's norms, the embedding scale,
 * GeGLU's GELU and a soft-cap are elementwise kernels, so a model that applies the k norm twice,
 * or forgets the cap, runs every matmul the formulas expect. The estimate is written from the
 * math, apart from the model's code, and for the modules checked here it lists exactly the
 * kernels the model runs; a difference in a module's count or FLOPs is a mismatch with a line of
 * its own, as a matmul's is.
 *
 * Left out: the attention core (attn.scores, attn.softmax, attn.weighted_sum, and the soft-cap's
 * blocks in a blocked run), whose matmuls the matmul check proves and whose mask the mask check
 * reads; a training step's loss, which follows the forward pass the estimate lists; and kernels
 * without FLOPs (data movement), which the estimate does not list.
 */
import type { NonMatmulEstimate } from '../analytic/non_matmul_estimate.js';
import type { KernelPhase, KernelRecord } from '../core/kernel_record.js';
import { groupDigits } from '../core/format.js';
import { path as modulePaths } from '../core/module_paths.js';

/** Counted kernels at one module and their non-matmul FLOPs. */
export interface ModuleWork {
  readonly kernels: number;
  readonly flops: bigint;
}

export type WorkMismatchKind = 'missing' | 'extra' | 'work';

export interface WorkCheck {
  readonly path: string;
  readonly mismatch: WorkMismatchKind | undefined;
  readonly expected: ModuleWork | undefined;
  readonly traced: ModuleWork | undefined;
}

export interface WorkComparison {
  readonly checks: readonly WorkCheck[];
  readonly mismatches: readonly WorkCheck[];
  /** Modules with counted work on the estimate's side. */
  readonly expectedCount: number;
  readonly ok: boolean;
}

/** The core's modules: dense, or one block of a blocked run ("scores.q2_k0"). */
const CORE = /^layers\.\d+\.attn\.(?:scores|softmax|weighted_sum)(?:\.q\d+_k\d+)?$/;
const BLOCK = /^layers\.(\d+)\.attn\.\w+\.q\d+_k\d+$/;
const SOFTCAP = /^layers\.(\d+)\.attn\.softcap$/;
const LOSS = modulePaths.loss;
/** Every module of a layer's attention core, dense or one block of a blocked run ("softmax.q1", "scores.q2_k0"). */
const ATTENTION_CORE = /^layers\.\d+\.attn\.(?:scores|softcap|softmax|weighted_sum)(?:\.q\d+(?:_k\d+)?)?$/;

function addTo(work: Map<string, ModuleWork>, path: string, flops: bigint): void {
  const entry = work.get(path);
  work.set(path, { kernels: (entry?.kernels ?? 0) + 1, flops: (entry?.flops ?? 0n) + flops });
}

/**
 * Every module with counted non-matmul work on either side, in the estimate's order and then the
 * trace's, compared. `records` are the forward pass's (a training step's forward phase).
 */
export function compareModuleWork(estimate: NonMatmulEstimate, records: readonly KernelRecord[]): WorkComparison {
  // A layer whose core ran block by block caps its scores per block, which the estimate does not list.
  const blockedLayers = new Set<string>();
  for (const record of records) {
    const block = BLOCK.exec(record.path);
    if (block !== null) blockedLayers.add(block[1]!);
  }
  const checked = (path: string): boolean => {
    if (path === LOSS || CORE.test(path) || BLOCK.test(path)) return false;
    const softcap = SOFTCAP.exec(path);
    return softcap === null || !blockedLayers.has(softcap[1]!);
  };

  return compareWorkAt(estimate, records, 'forward', checked);
}

/**
 * The non-matmul work of `phase`'s records (records without a phase count as forward ones)
 * against the estimate's, at every module path `checked` accepts, module by module.
 */
export function compareWorkAt(
  estimate: NonMatmulEstimate,
  records: readonly KernelRecord[],
  phase: KernelPhase,
  checked: (path: string) => boolean,
): WorkComparison {
  const expected = new Map<string, ModuleWork>();
  for (const kernel of estimate.kernels) {
    if (kernel.flops > 0n && checked(kernel.path)) addTo(expected, kernel.path, kernel.flops);
  }
  const traced = new Map<string, ModuleWork>();
  for (const record of records) {
    if (record.nested || record.matmul !== undefined || record.flops === null || record.flops === 0n) continue;
    if ((record.phase ?? 'forward') !== phase) continue;
    if (checked(record.path)) addTo(traced, record.path, record.flops);
  }

  const checks: WorkCheck[] = [];
  for (const path of new Set([...expected.keys(), ...traced.keys()])) {
    const [want, got] = [expected.get(path), traced.get(path)];
    const mismatch =
      want === undefined
        ? 'extra'
        : got === undefined
          ? 'missing'
          : want.kernels === got.kernels && want.flops === got.flops
            ? undefined
            : 'work';
    checks.push({ path, mismatch, expected: want, traced: got });
  }
  const mismatches = checks.filter((check) => check.mismatch !== undefined);
  return { checks, mismatches, expectedCount: expected.size, ok: mismatches.length === 0 };
}

/** Whether `path` is a module of a layer's attention core (a block of it in a blocked run, the soft-cap included). */
export function inAttentionCore(path: string): boolean {
  return ATTENTION_CORE.test(path);
}

function workText(work: ModuleWork): string {
  return `${work.kernels} kernel${work.kernels === 1 ? '' : 's'}, ${groupDigits(work.flops)} FLOPs`;
}

/**
 * One line per module whose work differs:
 *   layers.0.attn.k_norm: work: expected 6 kernels, 480 FLOPs; traced 12 kernels, 960 FLOPs
 */
export function describeWorkMismatch(check: WorkCheck): string {
  const expected =
    check.expected === undefined ? 'expected no non-matmul work' : `expected ${workText(check.expected)}`;
  const traced = check.traced === undefined ? 'traced none' : `traced ${workText(check.traced)}`;
  return `${check.path}: ${check.mismatch ?? 'match'}: ${expected}; ${traced}`;
}
