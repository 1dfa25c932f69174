import { ExitCode } from '../core/errors.js';
import type { MatmulComparison, MismatchKind } from './matmul_check.js';

/** The exit code of a verification: 0 when everything matched, 1 when anything differs (design.md section 4). */
export function verificationExitCode(verification: { readonly ok: boolean }): ExitCode {
  return verification.ok ? ExitCode.ok : ExitCode.mismatch;
}

/** How many mismatches of each kind, in the order missing, extra, shape, count; kinds with none are left out. */
export function mismatchKindCounts(matmuls: MatmulComparison): { kind: MismatchKind; count: number }[] {
  const kinds: readonly MismatchKind[] = ['missing', 'extra', 'shape', 'count'];
  return kinds
    .map((kind) => ({ kind, count: matmuls.mismatches.filter((check) => check.mismatch === kind).length }))
    .filter((entry) => entry.count > 0);
}
