/** Timing forward passes on this machine: timed runs, calibration, fits. Data, not text. */
export { gflopsPerSecond, nonMatmulTimeFraction, sharesByComponent, sharesByPath } from './attribution.js';
export type { ShareRow, TimedRecord } from './attribution.js';
export { calibrateLargestMatmul, calibrateMatmul } from './calibrate.js';
export type { ForwardCalibration, MatmulCalibration, MatmulDispatch } from './calibrate.js';
export { EFFICIENCY_TARGET, efficiency, whereTimeGoes } from './diagnosis.js';
export { estimatePeak, peakOfBackend, readCpuInfo } from './peak.js';
export type { CpuInfo, PeakEstimate } from './peak.js';
export { LARGE_SPREAD_RATIO, isSpreadLarge, median, spreadRatio, summarize } from './statistics.js';
export type { SampleSummary } from './statistics.js';
export { fitTimeAgainstFlops, sweepPoints } from './sweep.js';
export type { SweepAxis, SweepPointSpec, SweepRequest, TimedPoint, TimeFlopsFit, TimingSweep } from './sweep.js';
export { timeForward } from './time_forward.js';
export type { ForwardTiming, TimeForwardOptions, TimingPhase, TimingPlan } from './time_forward.js';
export { CALIBRATION_MS, timeModel, timeSweep } from './time_model.js';
export type { ModelTiming, ModelTimingOptions, TimingOptions } from './time_model.js';
