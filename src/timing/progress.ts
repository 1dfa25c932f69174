/**
 * A progress bar on stderr for timing runs long enough to wonder about (over about 2 s), drawn
 * by cli-progress. Never on a stream that is not a terminal (a log file or a pipe would fill
 * with redraws) and never with --quiet; stdout stays clean for the report either way.
 */
import cliProgress from 'cli-progress';

/** Runs expected to take longer than this get a progress bar. */
export const PROGRESS_THRESHOLD_MS = 2000;

export interface ProgressConditions {
  readonly isTTY: boolean;
  readonly quiet: boolean;
  readonly expectedMs: number;
}

export function shouldShowProgress({ isTTY, quiet, expectedMs }: ProgressConditions): boolean {
  return isTTY && !quiet && expectedMs > PROGRESS_THRESHOLD_MS;
}

export interface ProgressBar {
  /** Set the bar to `done` of `total` with a short description of the step. */
  update(done: number, total: number, step: string): void;
  /** Remove the bar (it clears itself so the report starts on a clean line). */
  stop(): void;
}

/** A bar that draws nothing: what a run gets when the conditions say no. */
export const SILENT_PROGRESS: ProgressBar = { update() {}, stop() {} };

/** A cli-progress bar on `stream` (process.stderr), started at 0 of `total`. */
export function startProgressBar(stream: NodeJS.WriteStream, title: string, total: number): ProgressBar {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${title} [{bar}] {value}/{total} {step} | {duration_formatted} elapsed, ETA {eta_formatted}`,
      clearOnComplete: true,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { step: '' });
  let stopped = false;
  return {
    update(done, newTotal, step) {
      if (stopped) return;
      if (newTotal !== bar.getTotal()) bar.setTotal(newTotal);
      bar.update(done, { step });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
