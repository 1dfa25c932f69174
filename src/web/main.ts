/**
 * The page: reads the state from the URL, counts the model with the library (counts.ts), shows
 * the CLI's reports and the report's charts, and runs the model in a worker (run_worker.ts).
 * Every number shown is formatted from an exact bigint by the same views the CLI prints.
 */
import { groupDigits } from '../core/format.js';
import { renderChartSvg } from '../render/chart_svg.js';
import { escapeHtml, renderBlockHtml } from '../render/document_html.js';
import type { Block } from '../render/table.js';
import { countModel, type Counted } from './counts.js';
import { PRESETS } from './presets.js';
import type { RunMessage, RunRequest } from './run_protocol.js';
import { hashOf, RUN_BACKENDS, stateFromHash, type PageState, type RunBackend } from './state.js';

const BACKEND_LABELS: Readonly<Record<RunBackend, string>> = {
  webgl: 'webgl (GPU)',
  webgpu: 'webgpu (GPU)',
  wasm: 'wasm (WebAssembly SIMD)',
  cpu: 'cpu (plain JavaScript)',
  meta: 'meta (shapes only, any size)',
};

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

const form = {
  preset: element<HTMLSelectElement>('preset'),
  paste: element<HTMLDetailsElement>('paste'),
  configText: element<HTMLTextAreaElement>('config-text'),
  useConfig: element<HTMLButtonElement>('use-config'),
  clearConfig: element<HTMLButtonElement>('clear-config'),
  modelName: element<HTMLParagraphElement>('model-name'),
  seq: element<HTMLInputElement>('seq'),
  batch: element<HTMLInputElement>('batch'),
  prompt: element<HTMLInputElement>('prompt'),
  generate: element<HTMLInputElement>('generate'),
  depth: element<HTMLSelectElement>('depth'),
  backend: element<HTMLSelectElement>('backend'),
  train: element<HTMLInputElement>('train'),
};
const view = {
  error: element<HTMLParagraphElement>('error'),
  parameters: element<HTMLOutputElement>('parameters'),
  forwardFlops: element<HTMLOutputElement>('forward-flops'),
  stepFlops: element<HTMLOutputElement>('step-flops'),
  reports: element<HTMLDivElement>('reports'),
  charts: element<HTMLElement>('charts'),
  runButton: element<HTMLButtonElement>('run-button'),
  compareButton: element<HTMLButtonElement>('compare-button'),
  cancelButton: element<HTMLButtonElement>('cancel-button'),
  backendNote: element<HTMLParagraphElement>('backend-note'),
  progress: element<HTMLProgressElement>('run-progress'),
  runStatus: element<HTMLParagraphElement>('run-status'),
  runResults: element<HTMLDivElement>('run-results'),
};

let state: PageState = stateFromHash(location.hash);
let counted: Counted | undefined;

for (const config of PRESETS) form.preset.add(new Option(config.name, config.name));
for (const backend of RUN_BACKENDS) form.backend.add(new Option(BACKEND_LABELS[backend], backend));

function blocksHtml(blocks: readonly Block[]): string {
  return blocks.map(renderBlockHtml).join('\n');
}

/** The form shows `state`; called when the state comes from the URL. */
function showState(): void {
  form.preset.value = state.preset;
  if (state.configText !== undefined) {
    form.configText.value = state.configText;
    form.paste.open = true;
  }
  form.seq.value = state.seq === undefined ? '' : String(state.seq);
  form.batch.value = String(state.batch);
  form.prompt.value = state.prompt === undefined ? '' : String(state.prompt);
  form.generate.value = state.generate === undefined ? '' : String(state.generate);
  form.depth.value = String(state.depth);
  form.backend.value = state.backend;
  form.train.checked = state.train;
}

function optionalNumber(input: HTMLInputElement): number | undefined {
  return input.value.trim() === '' ? undefined : Number(input.value);
}

/** The state the form shows now; `configText` as the caller decides (pasting is explicit). */
function stateFromForm(configText: string | undefined): PageState {
  const depth = Number(form.depth.value);
  return {
    preset: form.preset.value,
    configText,
    seq: optionalNumber(form.seq),
    batch: optionalNumber(form.batch) ?? 1,
    depth: depth === 0 || depth === 1 || depth === 2 || depth === 3 ? depth : 1,
    prompt: optionalNumber(form.prompt),
    generate: optionalNumber(form.generate),
    backend: RUN_BACKENDS.find((name) => name === form.backend.value) ?? 'webgl',
    train: form.train.checked,
  };
}

function setState(next: PageState): void {
  state = next;
  const hash = hashOf(state);
  if (location.hash !== hash) history.replaceState(null, '', hash);
  update();
}

function showError(message: string | undefined): void {
  view.error.hidden = message === undefined;
  view.error.textContent = message ?? '';
}

let chartsDrawn = 0;

/** Counts the model the state names and shows everything; a bad config shows its problem and no numbers. */
function update(): void {
  try {
    counted = countModel(state);
  } catch (error) {
    counted = undefined;
    showError(error instanceof Error ? error.message : String(error));
    for (const output of [view.parameters, view.forwardFlops, view.stepFlops]) output.textContent = '';
    view.reports.innerHTML = '';
    view.charts.innerHTML = '';
    return;
  }
  showError(undefined);
  const { config, run } = counted;
  form.modelName.textContent =
    `${config.name}${config.variant === undefined ? '' : ` (${config.variant})`}: ${config.num_layers} layers, ` +
    `d_model ${config.d_model}, ${config.num_heads} heads, context ${config.context_length}; ` +
    `counted at batch ${run.batch} x ${run.seq} tokens`;
  form.seq.placeholder = String(config.context_length);
  form.seq.max = String(config.context_length);
  view.parameters.textContent = groupDigits(counted.parameters);
  view.forwardFlops.textContent = groupDigits(counted.forwardFlops);
  view.stepFlops.textContent = groupDigits(counted.stepFlops);
  view.reports.innerHTML = counted.sections
    .map(
      (section) =>
        `<section class="report-section" id="report-${section.id}"><h2>${escapeHtml(section.title)}</h2>` +
        `${blocksHtml(section.blocks.filter((block, index) => !(index === 0 && block.kind === 'heading')))}</section>`,
    )
    .join('\n');
  void drawCharts(counted);
}

/** The report's charts for this model, drawn by Vega as report.html draws them; stale drawings are dropped. */
async function drawCharts(current: Counted): Promise<void> {
  const drawing = ++chartsDrawn;
  view.charts.dataset['drawn'] = 'no';
  const parts: string[] = ['<h2>Charts</h2>'];
  for (const figure of current.figures) {
    const svg = await renderChartSvg(figure.spec, `${figure.id}-`);
    parts.push(
      `<figure id="${escapeHtml(figure.id)}">${svg}<figcaption>${escapeHtml(figure.title)}. ` +
        `${escapeHtml(figure.caption)}</figcaption></figure>`,
    );
  }
  if (drawing !== chartsDrawn) return;
  view.charts.innerHTML = parts.join('\n');
  view.charts.dataset['drawn'] = 'yes';
}

// ---------------------------------------------------------------------------------------------
// Running the model

let worker: Worker | undefined;

function backendNote(): string {
  if (state.backend === 'webgpu') {
    const exposed = 'gpu' in navigator;
    return exposed
      ? "WebGPU: real compute with random weights on this browser's WebGPU adapter (the tfjs webgpu backend loads when the run starts)."
      : 'This browser does not expose WebGPU; choose webgl.';
  }
  if (state.backend === 'meta') return 'meta: shapes only, no values; the counts are those of the full-size model.';
  return 'Real compute with random weights: keep the model small or the tokens few (a GPT-2 small pass at 64 tokens takes seconds).';
}

function stopWorker(): void {
  worker?.terminate();
  worker = undefined;
  view.runButton.disabled = false;
  view.compareButton.disabled = false;
  view.cancelButton.disabled = true;
  view.progress.hidden = true;
}

function onRunMessage(message: RunMessage): void {
  switch (message.kind) {
    case 'progress':
      view.progress.hidden = false;
      view.progress.max = message.total;
      view.progress.value = message.done;
      view.runStatus.textContent = `${message.title}: ${message.step}`;
      break;
    case 'result': {
      const { summary } = message;
      const div = document.createElement('div');
      div.className = 'run-result';
      Object.assign(div.dataset, {
        what: summary.what,
        backend: summary.backend,
        ok: String(summary.ok),
        matched: String(summary.matmulsMatched),
        expected: String(summary.matmulsExpected),
        uncounted: summary.uncounted.join(', '),
      });
      div.innerHTML =
        `<p><strong>${summary.ok ? '✓' : '✗'} ${escapeHtml(summary.what)} on ${escapeHtml(summary.backend)}</strong>: ` +
        (summary.what === 'comparison'
          ? `${summary.matmulsMatched} of ${summary.matmulsExpected} kernels the same as on cpu; `
          : `${summary.matmulsMatched} of ${summary.matmulsExpected} matmuls match exactly; `) +
        `${groupDigits(BigInt(summary.kernels))} kernels traced in ${summary.seconds.toFixed(1)} s; ` +
        `kernels without a FLOP rule: ${summary.uncounted.length === 0 ? 'none' : escapeHtml(summary.uncounted.join(', '))}.</p>` +
        blocksHtml(message.blocks);
      view.runResults.append(div);
      break;
    }
    case 'done':
      view.runStatus.textContent = 'done';
      stopWorker();
      break;
    case 'error':
      view.runStatus.textContent = '';
      view.runResults.insertAdjacentHTML(
        'beforeend',
        `<p class="run-error mark-bad">${escapeHtml(message.message)}</p>`,
      );
      stopWorker();
      break;
  }
}

function startRun(mode: 'verify' | 'compare'): void {
  if (counted === undefined) return;
  stopWorker();
  view.runResults.innerHTML = '';
  view.runStatus.textContent = `starting ${state.backend}...`;
  view.runButton.disabled = true;
  view.compareButton.disabled = true;
  view.cancelButton.disabled = false;
  worker = new Worker(new URL('./run_worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (event: MessageEvent<RunMessage>) => onRunMessage(event.data);
  worker.onerror = (event) => onRunMessage({ kind: 'error', message: event.message || 'the run worker failed' });
  const request: RunRequest = { state, run: counted.run, mode };
  worker.postMessage(request);
}

view.runButton.addEventListener('click', () => startRun('verify'));
view.compareButton.addEventListener('click', () => startRun('compare'));
view.cancelButton.addEventListener('click', () => {
  stopWorker();
  view.runStatus.textContent = 'cancelled';
});

// ---------------------------------------------------------------------------------------------
// Wiring

for (const input of [form.preset, form.seq, form.batch, form.prompt, form.generate, form.depth, form.backend]) {
  input.addEventListener('change', () => {
    // Choosing a preset leaves a pasted config; every other field keeps it.
    const configText = input === form.preset ? undefined : state.configText;
    setState(stateFromForm(configText));
    view.backendNote.textContent = backendNote();
  });
}
form.train.addEventListener('change', () => setState(stateFromForm(state.configText)));
form.useConfig.addEventListener('click', () => setState({ ...stateFromForm(form.configText.value), seq: undefined }));
form.clearConfig.addEventListener('click', () => {
  form.configText.value = '';
  setState(stateFromForm(undefined));
});

document.addEventListener('dragover', (event) => {
  event.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (event) => {
  event.preventDefault();
  document.body.classList.remove('dragging');
  const file = event.dataTransfer?.files[0];
  if (file === undefined) return;
  void file.text().then((text) => {
    form.configText.value = text;
    form.paste.open = true;
    setState({ ...stateFromForm(text), seq: undefined });
  });
});

window.addEventListener('hashchange', () => {
  state = stateFromHash(location.hash);
  showState();
  update();
});

showState();
view.backendNote.textContent = backendNote();
update();
