/**
 * Named accelerators as data: dense peak matmul FLOP/s per dtype, memory bandwidth and memory
 * size, each figure with the document it comes from and where in it.
 *
 * Conventions, each written here once:
 * - Peaks are DENSE. NVIDIA datasheets print Tensor Core figures "with sparsity" (2:4 structured
 *   sparsity, marked with an asterisk) at twice the dense rate; AMD prints both. A sparse figure
 *   is never stored: where a source prints only the sparse one, the table stores half of it and
 *   says so (`from: 'halved sparse'`, with the printed sparse value kept and checked to be
 *   exactly twice the stored one). Where a source prints the dense figure, that is stored as is.
 * - fp32 is the non-tensor (vector) rate; tf32, bf16, fp16, fp8 and int8 are matrix-unit rates.
 *   On GeForce parts, whose fp16 and fp8 Tensor Core rate with FP32 accumulation is half the
 *   rate with FP16 accumulation, the FP32-accumulate figure is stored: it is what training and
 *   most inference kernels use (bf16 always accumulates in FP32).
 * - Units: FLOP/s and bytes are exact bigints. Rates and bandwidths are decimal, as every vendor
 *   prints them: TFLOP/s = 10^12 FLOP/s, GB/s = 10^9 bytes/s, TB/s = 10^12 bytes/s. Memory sizes
 *   are stored as printed: "GB" is read as 10^9 bytes (NVIDIA, AMD and Apple print GB for
 *   memories built in binary sizes, so the SI reading can understate the capacity by up to
 *   7.4%), "GiB" as 2^30 bytes.
 * - A figure no source gives is left out, never guessed. Apple publishes no GPU FLOP/s for the
 *   M3 Max or M4 Max, so those entries carry bandwidth and memory only; the RTX 5090's fp32 rate
 *   is derived from its published core count and boost clock and is marked `from: 'derived'`.
 *
 * The defaults of the roofline (efficiencies, launch cost) live here too, per device, with where
 * they come from; see ROOFLINE_DEFAULTS.
 */
import { rational, type Rational } from '../core/exact.js';
import { InputError } from '../core/errors.js';

export const DEVICE_DTYPES = ['fp32', 'tf32', 'bf16', 'fp16', 'fp8', 'int8'] as const;
export type DeviceDtype = (typeof DEVICE_DTYPES)[number];

export interface DeviceSource {
  readonly title: string;
  readonly publisher: string;
  readonly url: string;
}

/** Every document the table cites, by key. */
export const DEVICE_SOURCES = {
  'nvidia-ampere-whitepaper': {
    title: 'NVIDIA A100 Tensor Core GPU Architecture (whitepaper, v1.0)',
    publisher: 'NVIDIA',
    url: 'https://images.nvidia.com/aem-dam/en-zz/Solutions/data-center/nvidia-ampere-architecture-whitepaper.pdf',
  },
  'nvidia-a100-datasheet': {
    title: 'NVIDIA A100 Tensor Core GPU datasheet (1758950-r4)',
    publisher: 'NVIDIA',
    url: 'https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf',
  },
  'nvidia-hopper-whitepaper': {
    title: 'NVIDIA H100 Tensor Core GPU Architecture (whitepaper)',
    publisher: 'NVIDIA',
    url: 'https://resources.nvidia.com/en-us-tensor-core/gtc22-whitepaper-hopper',
  },
  'nvidia-h100-datasheet': {
    title: 'NVIDIA H100 Tensor Core GPU datasheet (2022 edition, H100 SXM and H100 PCIe columns)',
    publisher: 'NVIDIA',
    url: 'https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet',
  },
  'nvidia-h200-page': {
    title: 'NVIDIA H200 Tensor Core GPU, technical specifications',
    publisher: 'NVIDIA',
    url: 'https://www.nvidia.com/en-us/data-center/h200/',
  },
  'nvidia-hgx-page': {
    title: 'NVIDIA HGX platform, technical specifications (HGX B200, 8 GPUs)',
    publisher: 'NVIDIA',
    url: 'https://www.nvidia.com/en-us/data-center/hgx/',
  },
  'nvidia-dgx-b200-datasheet': {
    title: 'NVIDIA DGX B200 datasheet',
    publisher: 'NVIDIA',
    url: 'https://resources.nvidia.com/en-us-dgx-systems/dgx-b200-datasheet',
  },
  'amd-mi300x-datasheet': {
    title: 'AMD Instinct MI300X Accelerator data sheet',
    publisher: 'AMD',
    url: 'https://www.amd.com/content/dam/amd/en/documents/instinct-tech-docs/data-sheets/amd-instinct-mi300x-data-sheet.pdf',
  },
  'nvidia-l4-datasheet': {
    title: 'NVIDIA L4 Tensor Core GPU datasheet',
    publisher: 'NVIDIA',
    url: 'https://resources.nvidia.com/en-us-data-center-overview/l4-gpu-datasheet',
  },
  'nvidia-l40s-datasheet': {
    title: 'NVIDIA L40S datasheet',
    publisher: 'NVIDIA',
    url: 'https://resources.nvidia.com/en-us-l40s/l40s-datasheet-28413',
  },
  'nvidia-ada-whitepaper': {
    title: 'NVIDIA Ada GPU Architecture (whitepaper)',
    publisher: 'NVIDIA',
    url: 'https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf',
  },
  'nvidia-rtx-blackwell-whitepaper': {
    title: 'NVIDIA RTX Blackwell GPU Architecture (whitepaper)',
    publisher: 'NVIDIA',
    url: 'https://images.nvidia.com/aem-dam/Solutions/geforce/blackwell/nvidia-rtx-blackwell-gpu-architecture.pdf',
  },
  'nvidia-rtx-5090-page': {
    title: 'GeForce RTX 5090, specifications',
    publisher: 'NVIDIA',
    url: 'https://www.nvidia.com/en-us/geforce/graphics-cards/50-series/rtx-5090/',
  },
  'apple-macbook-pro-16-nov-2023-specs': {
    title: 'MacBook Pro (16-inch, Nov 2023) - Tech Specs',
    publisher: 'Apple',
    url: 'https://support.apple.com/en-us/117737',
  },
  'apple-m4-pro-m4-max-newsroom': {
    title: 'Apple introduces M4 Pro and M4 Max (Newsroom, 30 October 2024)',
    publisher: 'Apple',
    url: 'https://www.apple.com/newsroom/2024/10/apple-introduces-m4-pro-and-m4-max/',
  },
  'google-tpu-v5e-docs': {
    title: 'Cloud TPU documentation: TPU v5e, system architecture',
    publisher: 'Google Cloud',
    url: 'https://cloud.google.com/tpu/docs/v5e',
  },
  'calculon-a100-system': {
    title: 'Calculon (Isaev et al., SC 2023) system file systems/a100_80g.json',
    publisher: 'calculon-ai/calculon on GitHub',
    url: 'https://github.com/calculon-ai/calculon/blob/main/systems/a100_80g.json',
  },
} as const satisfies Readonly<Record<string, DeviceSource>>;
export type DeviceSourceKey = keyof typeof DEVICE_SOURCES;

/** One number of the table, exact, as its source prints it and where. */
export interface SourcedFigure {
  readonly value: bigint;
  /** The figure as the source prints it: "1,979 TFLOPS*", "3.35TB/s". */
  readonly printed: string;
  readonly source: DeviceSourceKey;
  /** Where in the source: a table, a column, a page. */
  readonly where: string;
}

export interface PeakFigure extends SourcedFigure {
  /** Always true: the table holds dense peaks only. */
  readonly dense: true;
  /**
   * How `value` follows from `printed`: printed as a dense figure; half a printed sparse figure;
   * a system figure divided by its GPU count (and halved when sparse); derived from other
   * published figures (with `derivation`).
   */
  readonly from: 'printed dense' | 'halved sparse' | 'per GPU of a system' | 'derived';
  /** The printed sparse rate when the dense one was halved from it: exactly 2 x value. */
  readonly sparse?: bigint;
  readonly derivation?: string;
}

export interface MemoryFigure extends SourcedFigure {
  /** How `printed` was read into bytes. */
  readonly unit: 'GB = 10^9 bytes' | 'GiB = 2^30 bytes';
}

/** The roofline's defaults for a device, with where they come from (see ROOFLINE_DEFAULTS). */
export interface RooflineDefaults {
  /** Fraction of the peak FLOP/s a kernel reaches, in (0, 1]. */
  readonly computeEfficiency: Rational;
  /** Fraction of the peak bandwidth a kernel reaches, in (0, 1]. */
  readonly memoryEfficiency: Rational;
  /** Seconds added to every kernel for launching it. */
  readonly launchSeconds: Rational;
  readonly why: string;
}

export interface Device {
  /** The name --device takes: "h100-sxm". */
  readonly id: string;
  readonly name: string;
  readonly vendor: string;
  /** Dense peaks by dtype; a dtype the sources give no figure for is absent. */
  readonly peaks: Partial<Readonly<Record<DeviceDtype, PeakFigure>>>;
  /** Peak memory bandwidth in bytes/s. */
  readonly bandwidth: SourcedFigure;
  readonly memory: MemoryFigure;
  readonly defaults: RooflineDefaults;
  /** What the sources leave out, or anything else a reader of the numbers should know. */
  readonly notes: readonly string[];
}

const UNIT: Readonly<Record<'G' | 'T' | 'P', bigint>> = { G: 10n ** 9n, T: 10n ** 12n, P: 10n ** 15n };

/** A printed decimal ("1,979", "362.05") times a power of ten, refused unless the result is whole. */
function scaled(number: string, unit: bigint, label: string): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(number.replace(/,/g, ''));
  const [whole, fraction = ''] = match === null ? [] : match.slice(1);
  const places = 10n ** BigInt(fraction.length);
  const units = whole === undefined ? undefined : BigInt(whole + fraction) * unit;
  if (units === undefined || units % places !== 0n) {
    throw new Error(`devices: ${label} ("${number}") is not a whole number of units`);
  }
  return units / places;
}

interface Citation {
  readonly source: DeviceSourceKey;
  readonly where: string;
}

/** A dense figure the source prints as such. */
function dense(number: string, unit: keyof typeof UNIT, printed: string, cite: Citation): PeakFigure {
  return { value: scaled(number, UNIT[unit], printed), printed, dense: true, from: 'printed dense', ...cite };
}

/** Half of a figure the source prints "with sparsity". */
function halvedSparse(number: string, unit: keyof typeof UNIT, printed: string, cite: Citation): PeakFigure {
  const sparse = scaled(number, UNIT[unit], printed);
  if (sparse % 2n !== 0n) throw new Error(`devices: the sparse figure ${printed} does not halve exactly`);
  return { value: sparse / 2n, sparse, printed, dense: true, from: 'halved sparse', ...cite };
}

/** A figure printed for an 8-GPU system, divided per GPU and halved when printed with sparsity. */
function perGpu(
  number: string,
  unit: keyof typeof UNIT,
  printed: string,
  gpus: bigint,
  withSparsity: boolean,
  cite: Citation,
): PeakFigure {
  const system = scaled(number, UNIT[unit], printed);
  const divisor = gpus * (withSparsity ? 2n : 1n);
  if (system % divisor !== 0n) throw new Error(`devices: ${printed} does not divide exactly per GPU`);
  const perGpuSparse = withSparsity ? system / gpus : undefined;
  return {
    value: system / divisor,
    ...(perGpuSparse === undefined ? {} : { sparse: perGpuSparse }),
    printed,
    dense: true,
    from: 'per GPU of a system',
    derivation: `${printed} for ${gpus} GPUs${withSparsity ? ', with sparsity, halved' : ''}`,
    ...cite,
  };
}

function bandwidth(number: string, unit: 'G' | 'T', printed: string, cite: Citation): SourcedFigure {
  return { value: scaled(number, UNIT[unit], printed), printed, ...cite };
}

function memoryGB(number: string, printed: string, cite: Citation): MemoryFigure {
  return { value: scaled(number, UNIT.G, printed), printed, unit: 'GB = 10^9 bytes', ...cite };
}

/**
 * The defaults every device carries today. No per-device measurement is in the table, so the
 * values are one stated assumption, applied alike:
 * - efficiencies: the top tier of Calculon's A100 tables (matrix operations of at least 128
 *   GFLOP reach 0.95 of peak; memory transfers of at least 100 MB reach 0.90 of bandwidth).
 *   Smaller kernels reach less, which a roofline with one efficiency per device does not model.
 * - launch cost: 5 microseconds per kernel, an assumed figure of the order of a CUDA kernel
 *   launch (a few microseconds); not measured for any device here.
 * Every one of them can be overridden per call.
 */
export const ROOFLINE_DEFAULTS: RooflineDefaults = {
  computeEfficiency: rational(95n, 100n),
  memoryEfficiency: rational(90n, 100n),
  launchSeconds: rational(5n, 1_000_000n),
  why:
    'efficiencies 0.95 (compute) and 0.90 (memory): the top tiers of Calculon systems/a100_80g.json ' +
    '(matrix >= 128 GFLOP, memory >= 100 MB), applied to every device; launch 5 us per kernel: an ' +
    'assumption of the order of a CUDA kernel launch, not measured',
};

const A100_WP: Citation = { source: 'nvidia-ampere-whitepaper', where: 'Table 1, NVIDIA A100 Tensor Core GPU column' };
const A100_DS: Citation = { source: 'nvidia-a100-datasheet', where: 'Technical Specifications, A100 80GB SXM column' };
const H100_WP_SXM: Citation = {
  source: 'nvidia-hopper-whitepaper',
  where: 'Table 3 (A100 vs H100), H100 SXM5 column: dense/sparse pairs, dense taken',
};
const H100_WP_PCIE: Citation = {
  source: 'nvidia-hopper-whitepaper',
  where: 'Table 3 (A100 vs H100), H100 PCIe column: dense/sparse pairs, dense taken',
};
const H100_DS_SXM: Citation = { source: 'nvidia-h100-datasheet', where: 'Technical Specifications, H100 SXM column' };
const H100_DS_PCIE: Citation = { source: 'nvidia-h100-datasheet', where: 'Technical Specifications, H100 PCIe column' };
const H200: Citation = {
  source: 'nvidia-h200-page',
  where: 'Technical Specifications, H200 SXM column ("* With sparsity")',
};
const HGX_B200: Citation = {
  source: 'nvidia-hgx-page',
  where: 'Technical Specifications, HGX B200 column (8 GPUs; "* With sparsity")',
};
const DGX_B200: Citation = { source: 'nvidia-dgx-b200-datasheet', where: 'System specifications (8 GPUs)' };
const MI300X: Citation = {
  source: 'amd-mi300x-datasheet',
  where: 'AI and HPC performance table (dense; sparse apart)',
};
const L4: Citation = {
  source: 'nvidia-l4-datasheet',
  where: 'Specifications ("* Shown with sparsity. Specifications are one-half lower without sparsity.")',
};
const L40S: Citation = { source: 'nvidia-l40s-datasheet', where: 'Technical specifications: dense | sparse* pairs' };
const ADA: Citation = {
  source: 'nvidia-ada-whitepaper',
  where: 'GeForce RTX 4090 specification table: dense/sparse pairs, dense taken',
};
const TPU: Citation = { source: 'google-tpu-v5e-docs', where: 'System architecture, key chip specifications table' };

const NO_FP8_A100 = 'A100 has no fp8 Tensor Core rate.';

export const DEVICES: readonly Device[] = [
  {
    id: 'a100-40gb-sxm',
    name: 'NVIDIA A100 40 GB (SXM4)',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('19.5', 'T', '19.5 TFLOPS', A100_WP),
      tf32: dense('156', 'T', '156/312 TFLOPS', A100_WP),
      bf16: dense('312', 'T', '312/624 TFLOPS', A100_WP),
      fp16: dense('312', 'T', '312/624 TFLOPS (FP32 accumulate)', A100_WP),
      int8: dense('624', 'T', '624/1248 TOPS', A100_WP),
    },
    bandwidth: bandwidth('1555', 'G', '1555 GB/sec', A100_WP),
    memory: memoryGB('40', '40 GB HBM2', A100_WP),
    defaults: ROOFLINE_DEFAULTS,
    notes: [NO_FP8_A100],
  },
  {
    id: 'a100-80gb-sxm',
    name: 'NVIDIA A100 80 GB (SXM4)',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('19.5', 'T', '19.5 TFLOPS', A100_DS),
      tf32: dense('156', 'T', '156 TF | 312 TF*', A100_DS),
      bf16: dense('312', 'T', '312 TF | 624 TF*', A100_DS),
      fp16: dense('312', 'T', '312 TF | 624 TF*', A100_DS),
      int8: dense('624', 'T', '624 TOPS | 1248 TOPS*', A100_DS),
    },
    bandwidth: bandwidth('2039', 'G', '2,039GB/s', A100_DS),
    memory: memoryGB('80', '80GB HBM2e', A100_DS),
    defaults: ROOFLINE_DEFAULTS,
    notes: [NO_FP8_A100],
  },
  {
    id: 'h100-sxm',
    name: 'NVIDIA H100 (SXM5, 80 GB)',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('66.9', 'T', '66.9 TFLOPS', H100_WP_SXM),
      tf32: dense('494.7', 'T', '494.7/989.4 TFLOPS', H100_WP_SXM),
      bf16: dense('989.4', 'T', '989.4/1978.9 TFLOPS', H100_WP_SXM),
      fp16: dense('989.4', 'T', '989.4/1978.9 TFLOPS (FP32 accumulate)', H100_WP_SXM),
      fp8: dense('1978.9', 'T', '1978.9/3957.8 TFLOPS', H100_WP_SXM),
      int8: dense('1978.9', 'T', '1978.9/3957.8 TOPS', H100_WP_SXM),
    },
    bandwidth: bandwidth('3.35', 'T', '3.35TB/s', H100_DS_SXM),
    memory: memoryGB('80', '80GB', H100_DS_SXM),
    defaults: ROOFLINE_DEFAULTS,
    notes: [
      'Peaks are the whitepaper dense figures (boost clock 1830 MHz); the datasheet prints the sparse ones ' +
        '(1,979 TFLOPS* bf16), whose halves round differently (989.5).',
    ],
  },
  {
    id: 'h100-pcie',
    name: 'NVIDIA H100 (PCIe, 80 GB)',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('51.2', 'T', '51.2 TFLOPS', H100_WP_PCIE),
      tf32: dense('378', 'T', '378/756 TFLOPS', H100_WP_PCIE),
      bf16: dense('756', 'T', '756/1513 TFLOPS', H100_WP_PCIE),
      fp16: dense('756', 'T', '756/1513 TFLOPS (FP32 accumulate)', H100_WP_PCIE),
      fp8: dense('1513', 'T', '1513/3026 TFLOPS', H100_WP_PCIE),
      int8: dense('1513', 'T', '1513/3026 TOPS', H100_WP_PCIE),
    },
    bandwidth: bandwidth('2', 'T', '2TB/s', H100_DS_PCIE),
    memory: memoryGB('80', '80GB', H100_DS_PCIE),
    defaults: ROOFLINE_DEFAULTS,
    notes: ['Later editions of the H100 datasheet list the H100 NVL (94 GB, 3.9 TB/s) in place of the PCIe card.'],
  },
  {
    id: 'h200',
    name: 'NVIDIA H200 (SXM, 141 GB)',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('67', 'T', '67 TFLOPS', H200),
      tf32: halvedSparse('989', 'T', '989 TFLOPS*', H200),
      bf16: halvedSparse('1979', 'T', '1,979 TFLOPS*', H200),
      fp16: halvedSparse('1979', 'T', '1,979 TFLOPS*', H200),
      fp8: halvedSparse('3958', 'T', '3,958 TFLOPS*', H200),
      int8: halvedSparse('3958', 'T', '3,958 TFLOPS*', H200),
    },
    bandwidth: bandwidth('4.8', 'T', '4.8TB/s', H200),
    memory: memoryGB('141', '141GB', H200),
    defaults: ROOFLINE_DEFAULTS,
    notes: ['Tensor Core peaks are half the printed "with sparsity" figures.'],
  },
  {
    id: 'b200',
    name: 'NVIDIA B200 (HGX B200, per GPU)',
    vendor: 'NVIDIA',
    peaks: {
      bf16: perGpu('36', 'P', '36 PFLOPS*', 8n, true, HGX_B200),
      fp16: perGpu('36', 'P', '36 PFLOPS*', 8n, true, HGX_B200),
      fp8: perGpu('72', 'P', '72 PFLOPS*', 8n, true, HGX_B200),
      int8: perGpu('72', 'P', '72 POPS*', 8n, true, HGX_B200),
    },
    bandwidth: {
      value: scaled('64', UNIT.T, '64TB/s') / 8n,
      printed: '64TB/s HBM3e bandwidth (8 GPUs)',
      ...DGX_B200,
    },
    memory: {
      value: scaled('1440', UNIT.G, '1,440GB') / 8n,
      printed: '1,440GB total GPU memory (8 GPUs)',
      unit: 'GB = 10^9 bytes',
      ...DGX_B200,
    },
    defaults: ROOFLINE_DEFAULTS,
    notes: [
      'Figures are printed for 8-GPU systems and divided by 8; Tensor Core peaks are also halved from "with sparsity".',
      'fp32 and tf32 are left out: NVIDIA documents give differing per-GPU figures for them.',
    ],
  },
  {
    id: 'mi300x',
    name: 'AMD Instinct MI300X',
    vendor: 'AMD',
    peaks: {
      fp32: dense('163.4', 'T', '163.4 TFLOPs (FP32 vector)', MI300X),
      tf32: dense('653.7', 'T', '653.7 TFLOPs (1307.4 with sparsity)', MI300X),
      bf16: dense('1307.4', 'T', '1307.4 TFLOPs (2614.9 with sparsity)', MI300X),
      fp16: dense('1307.4', 'T', '1307.4 TFLOPs (2614.9 with sparsity)', MI300X),
      fp8: dense('2614.9', 'T', '2614.9 TFLOPs (5229.8 with sparsity)', MI300X),
      int8: dense('2614.9', 'T', '2614.9 TOPs (5229.8 with sparsity)', MI300X),
    },
    bandwidth: bandwidth('5.3', 'T', '5.3 TB/s', MI300X),
    memory: memoryGB('192', '192 GB HBM3', MI300X),
    defaults: ROOFLINE_DEFAULTS,
    notes: ['AMD prints dense and sparse peaks apart; the dense ones are stored.'],
  },
  {
    id: 'l4',
    name: 'NVIDIA L4',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('30.3', 'T', '30.3 teraFLOPs', L4),
      tf32: halvedSparse('120', 'T', '120 teraFLOPs*', L4),
      bf16: halvedSparse('242', 'T', '242 teraFLOPs*', L4),
      fp16: halvedSparse('242', 'T', '242 teraFLOPs*', L4),
      fp8: halvedSparse('485', 'T', '485 teraFLOPs*', L4),
      int8: halvedSparse('485', 'T', '485 TOPs*', L4),
    },
    bandwidth: bandwidth('300', 'G', '300GB/s', L4),
    memory: memoryGB('24', '24GB', L4),
    defaults: ROOFLINE_DEFAULTS,
    notes: ['Tensor Core peaks are half the printed "shown with sparsity" figures.'],
  },
  {
    id: 'l40s',
    name: 'NVIDIA L40S',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('91.6', 'T', '91.6 TFLOPS', L40S),
      tf32: dense('183', 'T', '183 | 366*', L40S),
      bf16: dense('362.05', 'T', '362.05 | 733*', L40S),
      fp16: dense('362.05', 'T', '362.05 | 733*', L40S),
      fp8: dense('733', 'T', '733 | 1,466*', L40S),
      int8: dense('733', 'T', '733 | 1,466*', L40S),
    },
    bandwidth: bandwidth('864', 'G', '864GB/s', L40S),
    memory: memoryGB('48', '48GB GDDR6 with ECC', L40S),
    defaults: ROOFLINE_DEFAULTS,
    notes: [],
  },
  {
    id: 'rtx-4090',
    name: 'NVIDIA GeForce RTX 4090',
    vendor: 'NVIDIA',
    peaks: {
      fp32: dense('82.6', 'T', '82.6 TFLOPS (non-Tensor)', ADA),
      tf32: dense('82.6', 'T', '82.6/165.2 TFLOPS', ADA),
      bf16: dense('165.2', 'T', '165.2/330.4 TFLOPS (FP32 accumulate)', ADA),
      fp16: dense('165.2', 'T', '165.2/330.4 TFLOPS (FP32 accumulate)', ADA),
      fp8: dense('330.3', 'T', '330.3/660.6 TFLOPS (FP32 accumulate)', ADA),
      int8: dense('660.6', 'T', '660.6/1321.2 TOPS', ADA),
    },
    bandwidth: bandwidth('1008', 'G', '1008 GB/sec', ADA),
    memory: memoryGB('24', '24 GB GDDR6X', ADA),
    defaults: ROOFLINE_DEFAULTS,
    notes: ['fp16 and fp8 are the FP32-accumulate rates, half the FP16-accumulate ones (330.3 and 660.6).'],
  },
  {
    id: 'rtx-5090',
    name: 'NVIDIA GeForce RTX 5090',
    vendor: 'NVIDIA',
    peaks: {
      fp32: {
        value: 21_760n * 2n * scaled('2.41', UNIT.G, '2.41 GHz'),
        printed: '21,760 CUDA cores, boost clock 2.41 GHz',
        dense: true,
        from: 'derived',
        derivation: '21,760 cores x 2 FLOP (one fused multiply-add) x 2.41e9 cycles/s',
        source: 'nvidia-rtx-5090-page',
        where: 'Specs: NVIDIA CUDA Cores, Boost Clock',
      },
    },
    bandwidth: bandwidth('1792', 'G', '1792 GB/sec', {
      source: 'nvidia-rtx-blackwell-whitepaper',
      where: 'GeForce RTX 5090 specification table',
    }),
    memory: memoryGB('32', '32 GB GDDR7', { source: 'nvidia-rtx-5090-page', where: 'Specs: Memory Configuration' }),
    defaults: ROOFLINE_DEFAULTS,
    notes: [
      'Tensor Core peaks are left out: the product page prints only "3352 AI TOPS" (FP4 with sparsity), and the ' +
        'dense FP32-accumulate figures could not be confirmed from the whitepaper here.',
      'fp32 is derived from the published core count and boost clock.',
    ],
  },
  {
    id: 'm3-max',
    name: 'Apple M3 Max (16-core CPU, 40-core GPU)',
    vendor: 'Apple',
    peaks: {},
    bandwidth: bandwidth('400', 'G', '400GB/s memory bandwidth', {
      source: 'apple-macbook-pro-16-nov-2023-specs',
      where: 'Chip: "M3 Max with 16-core CPU and 40-core GPU (400GB/s memory bandwidth)"',
    }),
    memory: memoryGB('128', '128GB unified memory', {
      source: 'apple-macbook-pro-16-nov-2023-specs',
      where: 'Memory: configurable up to 128GB (M3 Max with 16-core CPU)',
    }),
    defaults: ROOFLINE_DEFAULTS,
    notes: [
      'Apple publishes the GPU core count (40), memory bandwidth and memory size, but no GPU FLOP/s for the M3 Max; ' +
        'the table holds no peak. The 14-core CPU, 30-core GPU part has 300GB/s and up to 96GB.',
      'Memory is unified: the CPU and GPU share the 128GB.',
    ],
  },
  {
    id: 'm4-max',
    name: 'Apple M4 Max (16-core CPU, 40-core GPU)',
    vendor: 'Apple',
    peaks: {},
    bandwidth: bandwidth('546', 'G', '546GB/s', {
      source: 'apple-m4-pro-m4-max-newsroom',
      where: 'M4 Max: 546GB/s unified memory bandwidth (16-core CPU, 40-core GPU)',
    }),
    memory: memoryGB('128', '128GB unified memory', {
      source: 'apple-m4-pro-m4-max-newsroom',
      where: 'M4 Max: up to 128GB of unified memory',
    }),
    defaults: ROOFLINE_DEFAULTS,
    notes: [
      'Apple publishes the GPU core count (40), memory bandwidth and memory size, but no GPU FLOP/s for the M4 Max; ' +
        'the table holds no peak.',
      'Memory is unified: the CPU and GPU share the 128GB.',
    ],
  },
  {
    id: 'tpu-v5e',
    name: 'Google Cloud TPU v5e (per chip)',
    vendor: 'Google',
    peaks: {
      bf16: dense('197', 'T', '197 TFLOPs', TPU),
      int8: dense('393', 'T', '393 TOPs', TPU),
    },
    bandwidth: bandwidth('819', 'G', '819 GBps', TPU),
    memory: {
      value: 16n * 2n ** 30n,
      printed: '16 GiB',
      unit: 'GiB = 2^30 bytes',
      ...TPU,
    },
    defaults: ROOFLINE_DEFAULTS,
    notes: [
      'Google prints dense peaks (the v5e MXU has no sparse mode); no fp32, tf32, fp16 or fp8 rate is published.',
      'Some translated editions of the page print "16 GB, 819 GBps" or "800 GiBps"; the English one prints 16 GiB and 819 GBps.',
    ],
  },
];

/** The table's own checks, run when it loads, so an edited entry that breaks one fails every import. */
function checkTable(devices: readonly Device[]): void {
  const ids = new Set<string>();
  for (const device of devices) {
    if (ids.has(device.id)) throw new Error(`devices: two entries are named ${device.id}`);
    ids.add(device.id);
    for (const [dtype, peak] of Object.entries(device.peaks)) {
      if (peak.dense !== true) throw new Error(`devices: ${device.id} ${dtype} is not marked dense`);
      if (peak.value <= 0n) throw new Error(`devices: ${device.id} ${dtype} peak is not positive`);
      if (peak.from === 'halved sparse' && peak.sparse !== 2n * peak.value) {
        throw new Error(`devices: ${device.id} ${dtype} is not exactly half its sparse figure`);
      }
    }
    if (device.bandwidth.value <= 0n || device.memory.value <= 0n) {
      throw new Error(`devices: ${device.id} needs a positive bandwidth and memory size`);
    }
  }
}
checkTable(DEVICES);

/** The device named `id`; throws InputError naming the known ids. */
export function deviceById(id: string, flag = '--device'): Device {
  const device = DEVICES.find((entry) => entry.id === id);
  if (device === undefined) {
    throw new InputError(`${flag}: unknown device "${id}"; use one of ${DEVICES.map((entry) => entry.id).join(', ')}`);
  }
  return device;
}

/** The dense peak of `device` for `dtype`, or undefined when no source gives one. */
export function peakFlops(device: Device, dtype: DeviceDtype): bigint | undefined {
  return device.peaks[dtype]?.value;
}

/**
 * The ridge point: the arithmetic intensity (FLOPs per byte) at which a kernel's compute time
 * equals its memory time on `device` at the peaks, peak FLOP/s / bandwidth, exact. Undefined when
 * the table has no peak for `dtype`.
 */
export function ridgePoint(device: Device, dtype: DeviceDtype): Rational | undefined {
  const peak = peakFlops(device, dtype);
  return peak === undefined ? undefined : rational(peak, device.bandwidth.value);
}
