/** Checking a traced forward pass against the analytic formulas, exactly: what the commands use. */
export { describeMismatch } from './matmul_check.js';
export type {
  ComponentComparison,
  ExpectedMatmul,
  FoldedShape,
  MatmulCheck,
  MatmulComparison,
  MismatchKind,
  TracedMatmulView,
} from './matmul_check.js';
export type { NonMatmulComparison, NonMatmulKernelComparison, UncountedKernel } from './non_matmul_check.js';
export { verifyModel } from './verify_model.js';
export type { VerifyOptions, VerifyReport } from './verify_model.js';
export { verificationExitCode } from './verdict.js';
export { describeWorkMismatch } from './work_check.js';
export type { ModuleWork, WorkCheck, WorkComparison, WorkMismatchKind } from './work_check.js';
