/**
 * The device table (src/analytic/devices.ts) with every figure's source: a summary per device,
 * then each figure as printed and where, then the documents cited.
 */
import {
  DEVICE_DTYPES,
  DEVICE_SOURCES,
  ridgePoint,
  ROOFLINE_DEFAULTS,
  type Device,
  type DeviceDtype,
  type DeviceSourceKey,
  type SourcedFigure,
} from '../analytic/index.js';
import { cellText, fixed, heading, list, paragraph, tableBlock, type Cell, type Report } from '../render/table.js';

const TERA = 10n ** 12n;
const GIGA = 10n ** 9n;

/**
 * The unit of a dtype's peak: an int8 tensor core does integer operations, so its peak is in
 * operations per second (TOPS, as NVIDIA and AMD print it), not floating-point operations.
 */
export function peakUnit(dtype: DeviceDtype): 'OPS' | 'FLOP/s' {
  return dtype === 'int8' ? 'OPS' : 'FLOP/s';
}

const teraCell = (value: bigint | undefined): Cell => (value === undefined ? '-' : fixed(value, TERA, 1));

function figureRow(device: Device, figure: string, value: Cell, entry: SourcedFigure, from: string): Cell[] {
  return [device.id, figure, value, entry.printed, from, entry.source, entry.where];
}

function figureRows(device: Device): Cell[][] {
  const peaks = DEVICE_DTYPES.flatMap((dtype) => {
    const peak = device.peaks[dtype];
    if (peak === undefined) return [];
    const from = peak.derivation === undefined ? peak.from : `${peak.from}: ${peak.derivation}`;
    return [
      figureRow(device, `${dtype} dense peak`, cellText`${teraCell(peak.value)} T${peakUnit(dtype)}`, peak, from),
    ];
  });
  return [
    ...peaks,
    figureRow(
      device,
      'bandwidth',
      cellText`${fixed(device.bandwidth.value, GIGA, 0)} GB/s`,
      device.bandwidth,
      'printed',
    ),
    figureRow(device, 'memory', cellText`${fixed(device.memory.value, GIGA, 1)} GB`, device.memory, device.memory.unit),
  ];
}

/** Every device with its dense peaks, bandwidth, memory and ridge point, and where each figure comes from. */
export function devicesReport(devices: readonly Device[]): Report<DevicesData> {
  return {
    blocks: [
      heading('Devices'),
      tableBlock({
        columns: [
          { header: 'device' },
          { header: 'name' },
          ...DEVICE_DTYPES.map((dtype) => ({ header: `${dtype} T${peakUnit(dtype)}`, align: 'right' as const })),
          { header: 'GB/s', align: 'right' },
          { header: 'memory GB', align: 'right' },
          { header: 'bf16 ridge FLOP/B', align: 'right' },
        ],
        rows: devices.map((device) => {
          const ridge = ridgePoint(device, 'bf16');
          return [
            device.id,
            device.name,
            ...DEVICE_DTYPES.map((dtype) => teraCell(device.peaks[dtype]?.value)),
            fixed(device.bandwidth.value, GIGA, 0),
            fixed(device.memory.value, GIGA, 1),
            ridge === undefined ? '-' : fixed(ridge.numerator, ridge.denominator, 1),
          ];
        }),
        notes: [
          'Peaks are dense: a figure printed "with sparsity" is halved, never used as a peak. fp32 is the ' +
            'non-tensor rate the roofline runs non-matmul kernels at. "-": no source gives the figure.',
          'Rates and bandwidths are decimal (TFLOP/s = 10^12 FLOP/s, int8 TOPS = 10^12 integer operations/s, ' +
            'GB/s = 10^9 bytes/s); the ridge point is ' +
            'peak / bandwidth, the FLOPs per byte above which a kernel is compute-bound.',
        ],
      }),
      tableBlock({
        title: 'Every figure and its source',
        columns: [
          { header: 'device' },
          { header: 'figure' },
          { header: 'value', align: 'right' },
          { header: 'printed' },
          { header: 'from' },
          { header: 'source' },
          { header: 'where' },
        ],
        rows: devices.flatMap(figureRows),
      }),
      heading('Sources', 3),
      list(
        (Object.keys(DEVICE_SOURCES) as DeviceSourceKey[]).map((key) => {
          const source = DEVICE_SOURCES[key];
          return `${key}: ${source.title}, ${source.publisher}, ${source.url}`;
        }),
      ),
      heading('Notes', 3),
      list(devices.flatMap((device) => device.notes.map((note) => `${device.id}: ${note}`))),
      paragraph(`Roofline defaults, every device: ${ROOFLINE_DEFAULTS.why}.`),
    ],
    json: devicesData(devices),
  };
}

function devicesData(devices: readonly Device[]) {
  return {
    devices: devices.map((device) => ({ ...device, bf16Ridge: ridgePoint(device, 'bf16') })),
    sources: DEVICE_SOURCES,
  };
}

export type DevicesData = ReturnType<typeof devicesData>;
