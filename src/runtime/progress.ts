/**
 * Progress on stderr for a run long enough to wonder about (over about 2 s): what is running, how
 * far it has got, how long it has taken. The runtime drives it (a traced run reports each layer as
 * its kernels start, a timing run each pass), so every command that runs a model gets the same
 * progress; a command only says where its stderr goes (a ProgressSink), or gives none for --quiet.
 *
 * Two forms, by where stderr goes:
 *  - a terminal: a cli-progress bar, drawn once the run has lasted 2 s (or at once when the run
 *    expects to last longer), redrawn as steps finish, and cleared when the run ends so the
 *    report starts on a clean line;
 *  - anything else (a pipe, a log file, a captured stream): redraws would fill a log, so a long
 *    run writes two plain lines instead: what is running, once it has lasted 2 s, and how long it
 *    took, when it ends. A short run writes nothing.
 * stdout never carries progress, so a report piped to a file or to jq stays clean.
 *
 * Kernels run synchronously, so no timer can fire during a forward pass: the clock is read when a
 * step is reported, which a traced run does as each kernel starts.
 */
import cliProgress from 'cli-progress';

/** Runs that last (or expect to last) longer than this show progress. */
export const PROGRESS_THRESHOLD_MS = 2000;

/** Where a command's progress goes. */
export interface ProgressSink {
  /** stderr, when it is a terminal: the bar is drawn there. Undefined otherwise. */
  readonly terminal?: NodeJS.WriteStream | undefined;
  /** Writes one plain line to stderr (without its newline), for when there is no terminal. */
  readonly line: (text: string) => void;
  /** The clock in ms (default performance.now), so a test can make a run long. */
  readonly now?: () => number;
  /**
   * Told every step as it changes, from the first, threshold or not: a page draws its own bar
   * from these, as a terminal has cli-progress.
   */
  readonly step?: (title: string, done: number, total: number, step: string) => void;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The progress of one run, silent until the run has lasted PROGRESS_THRESHOLD_MS. */
export class RunProgress {
  private readonly now: () => number;
  private readonly startedMs: number;
  private shown: 'no' | 'bar' | 'lines' = 'no';
  private bar: cliProgress.SingleBar | undefined;
  private done = 0;
  private total = 1;
  private step = '';
  private finished = false;

  /**
   * `title` says what runs, e.g. "forward pass of gpt2-small (batch 1 x 512 tokens) on wasm";
   * without a sink (--quiet, or a library call that asked for none) nothing is ever written.
   */
  constructor(
    private readonly sink: ProgressSink | undefined,
    private readonly title: string,
  ) {
    this.now = sink?.now ?? (() => performance.now());
    this.startedMs = this.now();
  }

  /** The run expects to take `totalMs` in all: progress shows at once when that is over the threshold. */
  expect(totalMs: number): void {
    if (this.sink === undefined || this.shown !== 'no' || this.finished) return;
    if (totalMs > PROGRESS_THRESHOLD_MS) this.show({ expectedMs: totalMs });
  }

  /** `done` of `total` steps are finished; `step` names the one now running. Cheap when nothing changes. */
  update(done: number, total: number, step: string): void {
    if (this.sink === undefined || this.finished) return;
    const changed = done !== this.done || total !== this.total || step !== this.step;
    this.done = done;
    this.total = total;
    this.step = step;
    if (changed) this.sink.step?.(this.title, done, total, step);
    if (this.shown === 'no') {
      const elapsedMs = this.now() - this.startedMs;
      if (elapsedMs > PROGRESS_THRESHOLD_MS) this.show({ elapsedMs });
      return;
    }
    if (changed && this.bar !== undefined) {
      if (this.bar.getTotal() !== total) this.bar.setTotal(total);
      this.bar.update(done, { step });
    }
  }

  /**
   * Progress while a model's weights are made, step 0 of `steps`: a large model's random weights
   * take seconds before any kernel runs. Handed to initWeights as its onTensor.
   */
  makingWeights(steps: number): (made: number, total: number) => void {
    return (made, total) => this.update(0, steps, `making weights (${made} of ${total} tensors)`);
  }

  /** The run is over (also when it threw): clear the bar, or say how long the run took. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.bar !== undefined) this.bar.stop();
    if (this.sink === undefined || this.shown === 'bar') return;
    const elapsedMs = this.now() - this.startedMs;
    // A run that passed 2 s after its last step (no step to show it at) still says how long it took.
    if (this.shown === 'lines' || (elapsedMs > PROGRESS_THRESHOLD_MS && this.sink.terminal === undefined)) {
      this.sink.line(`${this.title}: done in ${seconds(elapsedMs)}`);
    }
  }

  private show(when: { readonly elapsedMs: number } | { readonly expectedMs: number }): void {
    const sink = this.sink;
    if (sink === undefined) return;
    if (sink.terminal !== undefined) {
      this.shown = 'bar';
      this.bar = new cliProgress.SingleBar(
        {
          stream: sink.terminal,
          format: `${this.title} [{bar}] {value}/{total} {step} | {duration_formatted} elapsed, ETA {eta_formatted}`,
          clearOnComplete: true,
          hideCursor: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(this.total, this.done, { step: this.step });
      return;
    }
    this.shown = 'lines';
    const where = this.step === '' ? '' : `, at ${this.step}`;
    sink.line(
      'elapsedMs' in when
        ? `${this.title}: running for ${seconds(when.elapsedMs)} so far${where}`
        : `${this.title}: running, about ${seconds(when.expectedMs)} expected${where}`,
    );
  }
}
