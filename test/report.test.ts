import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_MARKS, shareData, timeVsFlopsSpec } from '../src/views/charts.js';
import { renderChartSvg } from '../src/render/chart_svg.js';
import { drawDocument } from '../src/render/document.js';
import { buildReportDocument } from '../src/views/document.js';
import { escapeHtml, renderDocumentHtml } from '../src/render/document_html.js';
import { renderDocumentMarkdown } from '../src/render/document_markdown.js';
import { collectReportData, reportRuns } from '../src/views/report_data.js';
import { parseTimingData } from '../src/views/timing_input.js';
import { verificationMark, type RunVerification } from '../src/views/verification_marks.js';
import { cli, type Captured } from './helpers/cli_runner.js';

/** Forward matmul FLOPs of one sequence: T(2L(4d^2 + 3dF) + 2dV) + 4LdT^2 (design.md's model, worked by hand). */
function forwardFlops(L: bigint, d: bigint, F: bigint, V: bigint, T: bigint): bigint {
  return T * (2n * L * (4n * d * d + 3n * d * F) + 2n * d * V) + 4n * L * d * T * T;
}

const group = (value: bigint) => value.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** The mark groups Vega-Lite emits: a layer named X draws into `<g class="mark-... role-mark X_marks">`. */
function markItems(svg: string, layerName: string): string[] {
  const groups = [...svg.matchAll(new RegExp(`<g class="mark-\\w+ role-mark ${layerName}_marks"[^>]*>(.*?)</g>`, 'g'))];
  return groups.flatMap((match) =>
    [...match[1]!.matchAll(/<path [^>]*role="graphics-symbol"[^>]*>/g)].map((m) => m[0]),
  );
}

let workDir: string;
beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'flopledger-report-test-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('flopledger report', () => {
  let out: string;
  let markdown: string;
  let html: string;
  let result: Captured;

  beforeAll(async () => {
    out = join(workDir, 'nested', 'report');
    result = await cli('report', '--out', out);
    markdown = readFileSync(join(out, 'report.md'), 'utf8');
    html = readFileSync(join(out, 'report.html'), 'utf8');
  });

  it('writes report.md, report.html and the four chart SVGs, and lists them', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'flop-shares-by-context.svg',
      'flop-shares-by-size.svg',
      'report.html',
      'report.md',
      'roofline.svg',
      'zero-model-states.svg',
    ]);
    expect(result.stdout).toContain(join(out, 'report.html'));
    // Staging directories are renamed away, never left beside the report.
    expect(readdirSync(join(workDir, 'nested'))).toEqual(['report']);
  });

  it("answers the seed's (a) with its parameter count and fp32 bytes", () => {
    expect(markdown).toContain('2,127,057,600 trainable parameters');
    expect(markdown).toContain(`${group(2_127_057_600n * 4n)} bytes`);
    expect(group(2_127_057_600n * 4n)).toBe('8,508,230,400');
  });

  it('gives (b) and (e) totals that match the closed form', () => {
    expect(markdown).toContain(group(forwardFlops(48n, 1600n, 6400n, 50257n, 1024n)));
    expect(markdown).toContain(group(forwardFlops(48n, 1600n, 6400n, 50257n, 16384n)));
    expect(markdown).toContain(group(forwardFlops(12n, 768n, 3072n, 50257n, 1024n)));
    expect(markdown).toContain(group(forwardFlops(48n, 1600n, 6400n, 50257n, 65536n)));
  });

  it('has every section, each answer followed by its verification', () => {
    const headings = [...markdown.matchAll(/^#{1,3} (.*)$/gm)].map((match) => match[1]);
    expect(headings).toEqual([
      'flopledger report: what gpt2-xl costs',
      'How the numbers were verified',
      '(a) Parameters and memory of gpt2-xl',
      '(b) Forward-pass matmuls',
      '(c) Where the FLOPs go',
      '(d) How the breakdown changes with model size',
      '(e) gpt2-xl at 16,384 tokens',
      'gpt2-xl from 1,024 to 65,536 tokens',
      'Counting conventions for gpt2-xl, 1 x 1,024 tokens',
      'Model states per device under ZeRO',
      'gpt2-xl on the roofline of the NVIDIA A100 80 GB (SXM4)',
      'Time against FLOPs',
    ]);
    const verified = [...markdown.matchAll(/^Verified: (.*)$/gm)].map((match) => match[1]!);
    expect(verified).toHaveLength(5);
    // (d) rests on four runs, (e) on two.
    expect(verified[3]!.split('; ')).toHaveLength(4);
    expect(verified[4]!.split('; ')).toHaveLength(2);
    // Every run is traced on the meta backend by default, and every one matches.
    for (const line of verified) {
      const runs = line.split('. ')[0]!;
      for (const entry of runs.split('; ')) expect(entry).toMatch(/^gpt2-\w+.*, 1 x [\d,]+ tokens: ✓ trace \(meta\)/);
    }
    expect(verified[0]).toContain('the token-embedding table and the norm gains are counted by formula');
  });

  it('lists every traced run with its matmul count and total', () => {
    // 9 matmuls per layer plus lm_head: gpt2-small has 12 layers, gpt2-xl 48.
    expect(markdown).toContain(
      `| gpt2-small, 1 x 1,024 tokens | ✓ trace (meta) | 109 of 109 matmuls match exactly, ${group(forwardFlops(12n, 768n, 3072n, 50257n, 1024n))} FLOPs |`,
    );
    expect(markdown).toContain(
      `| gpt2-xl (ctx=65536), 1 x 65,536 tokens | ✓ trace (meta) | 433 of 433 matmuls match exactly, ${group(forwardFlops(48n, 1600n, 6400n, 50257n, 65536n))} FLOPs |`,
    );
    const summaryRows = markdown.match(/^\| gpt2-[^|]* tokens \| [^|]* \| \d+ of \d+ matmuls[^|]*\|$/gm) ?? [];
    expect(summaryRows).toHaveLength(10);
    for (const row of summaryRows) expect(row).toContain('| ✓ trace (meta) |');
  });

  it('refers to the four charts as images beside report.md, and says how to add timing', () => {
    expect(markdown).toContain('](flop-shares-by-size.svg)');
    expect(markdown).toContain('](flop-shares-by-context.svg)');
    expect(markdown).toContain('](zero-model-states.svg)');
    expect(markdown).toContain('](roofline.svg)');
    expect(markdown).toContain('--timing timing.json');
  });

  it("states GPT-2 XL's model states per device by ZeRO stage, and the ZeRO paper's Figure 1", () => {
    // The report's GPT-2 XL (untied, 2,127,057,600 parameters) at 2 + 2 + 12 bytes: 16Ψ on one
    // device; on 64, each holds ceil(Ψ / 64) = 33,235,275 elements of every partitioned state.
    const psi = 2_127_057_600n;
    const partition = 33_235_275n;
    expect(markdown).toContain(`| 1 | ${group(16n * psi)} | ${group(16n * psi)} | ${group(16n * psi)} |`);
    expect(markdown).toContain(
      `| 64 | ${group(16n * psi)} | ${group(4n * psi + 12n * partition)} | ` +
        `${group(2n * psi + 14n * partition)} | ${group(16n * partition)} |`,
    );
    expect(markdown).toContain('(Ψ = 7.5B, N_d = 64): 120.0 GB, 31.4 GB, 16.6 GB, 1.9 GB');
  });

  it("places GPT-2 XL's modules on the A100 80 GB's roofline: FLOPs, bytes, intensity, predicted and roof", () => {
    // bf16, 2 bytes an element. Forward over T = 1024: each of 48 q_proj matmuls [1024, 1600] @
    // [1600, 1600] does 2 x 1024 x 1600^2 FLOPs and moves 2 x (2 x 1024 x 1600 + 1600^2) bytes.
    // It is compute-bound: 48 x (2 x 1024 x 1600^2 FLOPs at 95% of 312 TFLOP/s + 5 us launch).
    const qFlops = 48n * 2n * 1024n * 1600n * 1600n;
    const qBytes = 48n * 2n * (2n * 1024n * 1600n + 1600n * 1600n);
    const qSeconds = 48 * ((2 * 1024 * 1600 * 1600) / (0.95 * 312e12) + 5e-6);
    const qPredicted = (Number(qFlops) / qSeconds / 1e12).toFixed(3);
    expect(qPredicted).toBe('231.081');
    expect(markdown).toContain(
      `| forward, 1 x 1,024 tokens | layers.*.attn.q_proj | ${group(qFlops)} | ${group(qBytes)} | ` +
        `${(Number(qFlops) / Number(qBytes)).toFixed(2)} | compute | ${qPredicted} | 312.000 |`,
    );
    // Decoding position 1,024: lm_head [1, 1600] @ [1600, 50257] reads every weight once for
    // 2 FLOPs each: intensity just under 1, its roof the bandwidth slope at 2,039 GB/s.
    const headFlops = 2n * 1600n * 50257n;
    const headBytes = 2n * (1600n + 1600n * 50257n + 50257n);
    const headRoof = ((Number(headFlops) / Number(headBytes)) * 2039e9) / 1e12;
    expect(markdown).toMatch(
      new RegExp(
        `\\| decode at position 1,024 \\| lm_head \\| ${group(headFlops)} \\| ${group(headBytes)} \\| 1\\.00 \\| ` +
          `memory \\| [\\d.]+ \\| ${headRoof.toFixed(3)} \\|`,
      ),
    );
    expect(markdown).toContain('ridge point of 153.0 FLOPs per byte');
    expect(markdown).toContain('Not drawn, having no FLOPs: token_embeddings, layers.*.attn.kv_cache.');
  });

  it('shows the published approximations with their GPT-2 XL values', () => {
    // Kaplan: 2 * 2,046,646,400 + 2 * 48 * 1024 * 1600; PaLM: 6 * 2,046,646,400 + 12 * 48 * 25 * 64 * 1024.
    expect(markdown).toContain('| Kaplan et al. 2020 | 2N + 2 * n_layer * n_ctx * d_attn |');
    expect(markdown).toContain(group(2n * 2_046_646_400n + 2n * 48n * 1024n * 1600n));
    expect(markdown).toContain(group(6n * 2_046_646_400n + 12n * 48n * 25n * 64n * 1024n));
  });

  it('writes a self-contained HTML page with the four charts inline', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toMatch(/<script|<link|<img|src="http|href="http/);
    expect(markItems(html, CHART_MARKS.sharesBySize.bars)).toHaveLength(16);
    expect(markItems(html, CHART_MARKS.sharesByContext.lines)).toHaveLength(4);
    expect(markItems(html, CHART_MARKS.sharesByContext.points)).toHaveLength(28);
    expect(markItems(html, CHART_MARKS.zeroStates.lines)).toHaveLength(4);
    expect(markItems(html, CHART_MARKS.zeroStates.points)).toHaveLength(4 * 11);
    expect(markItems(html, CHART_MARKS.roofline.roofs)).toHaveLength(2);
    // One point per module kind that does work, in each run: 9 kinds of matmul, lm_head, two norms
    // and the final one, RoPE, softmax, the residual adds, SiLU and the gate; each in the table too.
    const rooflineRows = markdown.match(/^\| (forward, 1 x 1,024 tokens|decode at position 1,024) \|/gm) ?? [];
    expect(markItems(html, CHART_MARKS.roofline.points)).toHaveLength(rooflineRows.length);
    expect(rooflineRows).toHaveLength(18 + 18);
    // Inline SVGs of one page must not share element ids.
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((match) => match[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('saves the same SVG it inlines', () => {
    const svg = readFileSync(join(out, 'flop-shares-by-size.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(html).toContain(svg);
  });

  it('replaces an earlier report in place', async () => {
    writeFileSync(join(out, 'report.md'), 'stale');
    writeFileSync(join(out, 'notes.txt'), 'kept');
    const again = await cli('report', '--out', out);
    expect(again.code).toBe(0);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toBe(markdown);
    expect(readdirSync(out).sort()).toEqual([
      'flop-shares-by-context.svg',
      'flop-shares-by-size.svg',
      'notes.txt',
      'report.html',
      'report.md',
      'roofline.svg',
      'zero-model-states.svg',
    ]);
  });
});

describe('report refuses bad input with one line, exit 2 and no files', () => {
  it('refuses an --out under a regular file', async () => {
    const file = join(workDir, 'plain-file');
    writeFileSync(file, 'not a directory');
    const before = readdirSync(workDir).sort();
    const result = await cli('report', '--out', join(file, 'report'));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toBe(
      `flopledger: --out ${join(file, 'report')}: cannot create it because ${file} is a file, not a directory; choose another directory\n`,
    );
    expect(readdirSync(workDir).sort()).toEqual(before);
  });

  it('refuses an --out that is a file', async () => {
    const file = join(workDir, 'another-file');
    writeFileSync(file, 'x');
    const result = await cli('report', '--out', file);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^flopledger: --out .*another-file: is a file, not a directory; .*\n$/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('refuses timing data whose FLOPs are not a decimal string, before writing anything', async () => {
    const timing = join(workDir, 'bad-timing.json');
    writeFileSync(timing, JSON.stringify({ backend: 'wasm', points: [{ label: 'a', flops: 1.5e9, median_ms: 3 }] }));
    const out = join(workDir, 'never-written');
    const result = await cli('report', '--out', out, '--timing', timing);
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`--timing ${timing}: points[0].flops`);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses an unknown backend', async () => {
    const out = join(workDir, 'no-backend');
    const result = await cli('report', '--out', out, '--backend', 'gpu');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'flopledger: --backend: "gpu" is not one of auto, cpu, wasm, native, tensorflow, meta\n',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a missing timing file', async () => {
    const result = await cli('report', '--out', join(workDir, 'unused'), '--timing', join(workDir, 'absent.json'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^flopledger: --timing .*absent\.json: cannot read it \(no such file\); .*\n$/);
  });
});

describe('report with timing data', () => {
  it('draws time against FLOPs: one point per run and a fit line', async () => {
    const timing = join(workDir, 'timing.json');
    writeFileSync(
      timing,
      // The shape `flopledger time <model> --sweep ... --format json` writes; fields the report does not use are ignored.
      JSON.stringify({
        backend: 'wasm',
        backend_description: 'WebAssembly (SIMD, single thread)',
        points: [
          { label: 'tiny T=16', model: 'tiny', seq: 16, flops: '4000000000', runs: 9, median_ms: 160, min_ms: 150 },
          { label: 'tiny T=32', flops: '8000000000', median_ms: 330 },
          { label: 'tiny T=64', flops: '16000000000', median_ms: 640 },
        ],
      }),
    );
    const out = join(workDir, 'with-timing');
    const result = await cli('report', '--out', out, '--timing', timing);
    expect(result.code).toBe(0);
    const svg = readFileSync(join(out, 'time-vs-flops.svg'), 'utf8');
    expect(markItems(svg, CHART_MARKS.timeVsFlops.points)).toHaveLength(3);
    expect(markItems(svg, CHART_MARKS.timeVsFlops.fit)).toHaveLength(1);
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    expect(markdown).toContain('](time-vs-flops.svg)');
    expect(markdown).toContain(`on the wasm backend (from ${timing})`);
    // 4e9 FLOPs in 160 ms = 25 GFLOP/s; 8e9 in 330 ms = 24.24 GFLOP/s.
    expect(markdown).toContain('| tiny T=16 | 4,000,000,000 | 160.000 | 25.00 |');
    expect(markdown).toContain('| tiny T=32 | 8,000,000,000 | 330.000 | 24.24 |');
  });

  it('parses the timing JSON exactly, FLOPs beyond 2^53 included', () => {
    const parsed = parseTimingData(
      JSON.stringify({ backend: 'cpu', points: [{ label: 'x', flops: '149522795724801', median_ms: 1.5 }] }),
      'test',
    );
    expect(parsed.points).toEqual([{ label: 'x', flops: 149_522_795_724_801n, medianMs: 1.5 }]);
    expect(() => parseTimingData('{"backend": "cpu", "points": []}', 'test')).toThrow(
      'test: points must hold at least one measured point',
    );
    expect(() => parseTimingData('not json', 'test')).toThrow(/^test: not valid JSON/);
  });
});

describe('report document', () => {
  const data = collectReportData();

  it('verifies ten distinct runs: four sizes at 1,024 and GPT-2 XL at six longer lengths', () => {
    const runs = reportRuns(data).map(({ config, run }) => `${config.name}@${run.seq}`);
    expect(runs).toEqual([
      'gpt2-xl@1024',
      'gpt2-small@1024',
      'gpt2-medium@1024',
      'gpt2-large@1024',
      'gpt2-xl@16384',
      'gpt2-xl@2048',
      'gpt2-xl@4096',
      'gpt2-xl@8192',
      'gpt2-xl@32768',
      'gpt2-xl@65536',
    ]);
  });

  it('marks each run as it was verified, and an unverified run as formula only', async () => {
    const [xl, small] = reportRuns(data);
    const verifications: RunVerification[] = [
      { ...xl!, verification: { method: 'trace', backend: 'meta', ok: true, detail: '433 matmuls match' } },
      {
        ...small!,
        verification: { method: 'trace', backend: 'wasm', ok: false, detail: 'layers.0.attn.scores differs' },
      },
    ];
    const document = buildReportDocument({ ...data, verifications });
    const markdown = renderDocumentMarkdown(document);
    expect(markdown).toContain('Verified: gpt2-xl, 1 x 1,024 tokens: ✓ trace (meta).');
    expect(markdown).toContain(
      'Verified: gpt2-small, 1 x 1,024 tokens: ✗ trace mismatch (wasm); gpt2-medium, 1 x 1,024 tokens: formula only;',
    );
    expect(markdown).toContain(
      '| gpt2-small, 1 x 1,024 tokens | ✗ trace mismatch (wasm) | layers.0.attn.scores differs |',
    );
    // The forward count is what the trace checks; the 3x of training is a rule on top of it.
    expect(markdown).toContain('| FLOPs (flopledger default) | 4,513,336,524,800 | 4.513 TFLOP | 1.0000x |');
    expect(markdown).toMatch(/\| PaLM \(Chowdhery et al\. 2022\) \|.*\| ✓ trace \(meta\) forward; x3 by rule \|/);
    const html = renderDocumentHtml(await drawDocument(document));
    expect(html).toContain('<td class="mark-bad">✗ trace mismatch (wasm)</td>');
    expect(html).toContain('<td class="mark-ok">✓ trace (meta)</td>');
  });

  it('prints the marks in words', () => {
    expect(verificationMark({ method: 'formula' })).toBe('formula only');
    expect(verificationMark({ method: 'trace', backend: 'cpu', ok: true })).toBe('✓ trace (cpu)');
    expect(verificationMark({ method: 'trace', backend: 'cpu', ok: false })).toBe('✗ trace mismatch (cpu)');
  });

  it('escapes text for HTML', () => {
    expect(escapeHtml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });
});

describe('charts', () => {
  const data = collectReportData();

  it('gives each model four shares that match the closed form and sum to one', () => {
    const shares = shareData(data.answers.sizes, (point) => point.config.name);
    expect(shares).toHaveLength(16);
    const small = shares.filter((datum) => datum.label === 'gpt2-small');
    // Attention core of gpt2-small at T = 1024: 4*L*d*T^2 over the whole forward pass.
    const core = 4n * 12n * 768n * 1024n * 1024n;
    const total = forwardFlops(12n, 768n, 3072n, 50257n, 1024n);
    expect(small.find((datum) => datum.component === 'attention core')!.flops).toBe(core.toString());
    expect(small.find((datum) => datum.component === 'attention core')!.share).toBeCloseTo(
      Number(core) / Number(total),
      12,
    );
    expect(small.reduce((acc, datum) => acc + datum.share, 0)).toBeCloseTo(1, 12);
  });

  it('draws the context chart at the seven lengths 1K to 64K', () => {
    expect(data.contextSweep.map((point) => point.run.seq)).toEqual([1024, 2048, 4096, 8192, 16384, 32768, 65536]);
  });

  it('renders the timing chart with its points and fit', async () => {
    const svg = await renderChartSvg(
      timeVsFlopsSpec(
        [
          { label: 'a', flops: 10n ** 9n, medianMs: 10 },
          { label: 'b', flops: 2n * 10n ** 9n, medianMs: 20 },
        ],
        'cpu',
      ),
    );
    expect(markItems(svg, CHART_MARKS.timeVsFlops.points)).toHaveLength(2);
    expect(svg).toContain('Measured time against FLOPs (cpu)');
  });
});

describe('flops --conventions', () => {
  it('prints the conventions and the published approximations for GPT-2 XL', async () => {
    const result = await cli('flops', 'gpt2-xl', '--conventions', '--format', 'json');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    const byKey = Object.fromEntries(
      json.published.map((entry: { approximation: string }) => [entry.approximation, entry]),
    );
    expect(byKey.kaplan_forward.value_per_token).toBe('4250579200');
    expect(byKey.palm_training.value_per_token).toBe('13223596800');
    expect(byKey.six_n_with_embeddings.value_per_token).toBe('12762345600');
    expect(byKey.six_n_without_embeddings.value_per_token).toBe('12279878400');
    const counts = Object.fromEntries(
      json.counts.map((entry: { convention: string; value: string }) => [entry.convention, entry.value]),
    );
    expect(counts.macs).toBe('2256668262400');
    // 48 layers * 2 * 1600 * 1024 * 1025 for the triangle, in place of 48 * 4 * 1600 * 1024^2.
    expect(counts.attention_causal_triangle).toBe(
      (4_513_336_524_800n - 48n * 4n * 1600n * 1024n * 1024n + 48n * 2n * 1600n * 1024n * 1025n).toString(),
    );
    // The parts under every convention, keyed in snake_case like every other JSON key.
    // Blocked in 64-blocks: 16 query blocks keep 1 + 2 + ... + 16 = 136 blocks of 64 x 64 scores.
    // No window, so the useful count is the triangle.
    expect(json.attention_core).toEqual({
      full: (48n * 4n * 1600n * 1024n * 1024n).toString(),
      causal_triangle: (48n * 2n * 1600n * 1024n * 1025n).toString(),
      half: (48n * 2n * 1600n * 1024n * 1024n).toString(),
      useful: (48n * 2n * 1600n * 1024n * 1025n).toString(),
      blocked: { block: 64, flops: (48n * 4n * 1600n * 136n * 64n * 64n).toString() },
      counted: 'dense',
    });
    expect(json.embedding).toEqual({ lookup: '0', one_hot_matmul: (2n * 1024n * 50257n * 1600n).toString() });
    expect(Object.keys(json.parameters)).toContain('without_lookup_tables');
  });

  it('renders as a table by default', async () => {
    const result = await cli('flops', 'tiny', '--conventions', '--seq', '8');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Counting conventions for tiny, 1 x 8 tokens');
    expect(result.stdout).toContain('Published approximations per token');
  });
});
