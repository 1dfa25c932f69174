import { GreaterEqual } from '@tensorflow/tfjs';

import { binaryKernelFunc } from '../binary_kernel.js';
import { metaKernel } from '../meta_kernel.js';

export const greaterEqualConfig = metaKernel(GreaterEqual, binaryKernelFunc('bool'));
