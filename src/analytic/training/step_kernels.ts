/**
 * The kernels of one training step, with their bytes (src/analytic/bytes.ts conventions), and its
 * roofline: the forward pass, every backward matmul that runs and the AdamW update.
 */
import type { ModelConfig, RunShape } from '../../config/model_config.js';
import {
  bytesHolding,
  forwardKernelCosts,
  matmulRowCost,
  ELEMENT_BYTES,
  type KernelCost,
  type KernelList,
} from '../bytes.js';
import type { Device, DeviceDtype } from '../devices.js';
import { summarizeParameters } from '../parameters.js';
import { predictRoofline, tokensOf, type RooflineOptions, type RooflinePrediction } from '../roofline.js';
import { adamwUpdateFlops } from './adamw.js';
import { backwardMatmulInventory } from './backward_matmuls.js';

/** AdamW keeps its master weights and both moments in fp32 whatever the compute dtype. */
const OPTIMIZER_STATE_BYTES = 4n;

/**
 * One AdamW update as a single fused pass over every parameter (as a multi-tensor AdamW runs it):
 * it reads the gradient (at the compute width) and the fp32 master weight and moments, and writes
 * the three fp32 states back, plus the compute-width copy of the weight when that is narrower.
 * All of it is weight-sized state, counted as weights.
 */
function adamwCost(config: ModelConfig, dtype: DeviceDtype): KernelCost {
  const parameters = summarizeParameters(config).total;
  const width = ELEMENT_BYTES[dtype];
  const copy = width < OPTIMIZER_STATE_BYTES ? width : 0n;
  return {
    path: 'optimizer',
    kernel: 'AdamW',
    matmul: false,
    computes: 'AdamW update of every parameter (m, v, p), fused',
    flops: adamwUpdateFlops(parameters).total,
    read: bytesHolding('weights', parameters * (width + 3n * OPTIMIZER_STATE_BYTES)),
    written: bytesHolding('weights', parameters * (3n * OPTIMIZER_STATE_BYTES + copy)),
  };
}

/**
 * Every backward matmul that runs (skipped rows are not kernels), with its bytes: both operands
 * and the output at `dtype`, the way matmulRowCost reads a gradient row. The list a traced step's
 * backward matmuls are checked against (src/verify/verify_training.ts), and the roofline's.
 */
export function backwardMatmulKernelCosts(config: ModelConfig, run: RunShape, dtype: DeviceDtype): KernelList {
  const kernels = backwardMatmulInventory(config, run)
    .filter((row) => row.skipped === undefined)
    .map((row) => matmulRowCost(row, config, dtype));
  return {
    kernels,
    omitted: [
      "the backward pass's non-matmul kernels (norm, softmax and activation gradients, residual adds, the " +
        'embedding scatter-add): no analytic inventory of them exists yet',
    ],
  };
}

/**
 * The kernels of one training step: the forward pass, every backward matmul that runs (skipped
 * rows are not kernels) and the AdamW update. The backward pass's non-matmul kernels and the loss
 * have no analytic inventory yet; they are left out, and `omitted` says so.
 */
export function trainingStepKernelCosts(config: ModelConfig, run: RunShape, dtype: DeviceDtype): KernelList {
  const forward = forwardKernelCosts(config, run, dtype);
  const backward = backwardMatmulKernelCosts(config, run, dtype);
  return {
    kernels: [...forward.kernels, ...backward.kernels, adamwCost(config, dtype)],
    omitted: [...backward.omitted, 'the loss (log-softmax and its gradient over the logits)'],
  };
}

/**
 * One training step (forward, backward matmuls, AdamW) of `config` at `run` on `device`; tokens
 * per second counts B x T tokens. What the step's kernel list leaves out is in `omitted`.
 */
export function rooflineTrainingStep(
  config: ModelConfig,
  run: RunShape,
  device: Device,
  options: RooflineOptions = {},
): RooflinePrediction {
  const list = trainingStepKernelCosts(config, run, options.dtype ?? 'bf16');
  return predictRoofline(list, device, options, tokensOf(run));
}
