import { Log } from '@tensorflow/tfjs';

import { metaKernel } from '../meta_kernel.js';
import { unaryKernelFunc } from '../unary_kernel.js';

// Same shape and dtype (the op takes float32 only). Logsumexp in the training loss uses it.
export const logConfig = metaKernel(Log, unaryKernelFunc());
