/** The kernel tracer and its FLOP formulas: knows tfjs kernels, not transformers. */
export { traceKernels } from './tracer.js';
export type { Trace, TraceOptions } from './tracer.js';
export { einsumContraction, isMatmulKernel, matmulFromKernel, tracedMatmul } from '../core/matmul_shapes.js';
export type { MatmulKernel } from '../core/matmul_shapes.js';
export { FLOP_RULES, nonMatmulFlops, ruleFor } from '../core/flop_rules.js';
export type { FlopFormula, FlopRule, FlopRuleCategory } from '../core/flop_rules.js';
export {
  matmulKernelCount,
  outermostRecords,
  totalMatmulFlops,
  totalNonMatmulFlops,
  totalTimeMs,
  totalsByKernel,
  totalsByPath,
  traceTotals,
  uncountedKernels,
} from './summary.js';
export type { KernelTotals } from './summary.js';
export type { KernelPhase, KernelRecord, Shaped, TensorSignature, TracedMatmul } from '../core/kernel_record.js';
