/** Checking a traced forward pass against the analytic formulas, exactly. */
export { compareMatmuls, countedMatmuls, describeMismatch, foldedShapeText } from './matmul_check.js';
export type {
  ComponentComparison,
  ExpectedMatmul,
  FoldedShape,
  MatmulCheck,
  MatmulComparison,
  MismatchKind,
  TracedMatmulView,
} from './matmul_check.js';
export { compareNonMatmul } from './non_matmul_check.js';
export type { NonMatmulComparison, NonMatmulKernelComparison, UncountedKernel } from './non_matmul_check.js';
export { verifyModel } from './verify_model.js';
export type { VerifyOptions, VerifyReport } from './verify_model.js';
export { mismatchKindCounts, verificationExitCode } from './verdict.js';
