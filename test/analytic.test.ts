import { describe, expect, it } from 'vitest';
import {
  describeShift,
  forwardFlopBreakdown,
  forwardMatmulInventory,
  parameterInventory,
  parameterMemory,
  perSequenceFlopPolynomial,
  ratio,
  share,
  summarizeParameters,
  sweepModels,
  sweepSequenceLengths,
} from '../src/analytic/index.js';
import type { ModelConfig } from '../src/config/model_config.js';
import { InputError } from '../src/core/errors.js';
import { GPT2_XL, gpt2Shape } from './helpers/gpt2_shapes.js';

const xl = GPT2_XL;

/** Small enough to work every number out on paper: dk = 2. */
const tiny: ModelConfig = {
  name: 'tiny',
  source: 'test:tiny',
  vocab_size: 11,
  context_length: 8,
  num_layers: 2,
  d_model: 6,
  num_heads: 3,
  d_ff: 10,
};

describe('parameters', () => {
  it('counts GPT-2 XL as the seed does: 2,127,057,600 parameters, 8,508,230,400 bytes in fp32', () => {
    const summary = summarizeParameters(xl);
    expect(summary.total).toBe(2_127_057_600n);
    const fp32 = parameterMemory(xl).find((row) => row.dtype === 'fp32');
    expect(fp32?.bytes).toBe(8_508_230_400n);
  });

  it('splits GPT-2 XL into components worked out by hand', () => {
    const summary = summarizeParameters(xl);
    // V*d; L*4*d^2; L*3*d*F; (2L+1)*d; V*d
    expect(summary.byComponent).toEqual({
      token_embeddings: 80_411_200n,
      position_embeddings: 0n, // RoPE has no parameters
      attention: 491_520_000n,
      latent_projections: 0n,
      ffn: 1_474_560_000n,
      norms: 155_200n,
      lm_head: 80_411_200n,
      // a dense model has no mixture of experts
      router: 0n,
      routed_experts: 0n,
      shared_experts: 0n,
    });
    expect(summary.perLayer).toBe(40_963_200n); // 4d^2 + 3dF + 2d
    expect(summary.nonEmbedding).toBe(2_127_057_600n - 80_411_200n);
  });

  it('reports fp32, fp16, bf16 and int8 weight memory', () => {
    expect(parameterMemory(xl)).toEqual([
      { dtype: 'fp32', bytesPerParameter: 4n, bytes: 8_508_230_400n },
      { dtype: 'fp16', bytesPerParameter: 2n, bytes: 4_254_115_200n },
      { dtype: 'bf16', bytesPerParameter: 2n, bytes: 4_254_115_200n },
      { dtype: 'int8', bytesPerParameter: 1n, bytes: 2_127_057_600n },
    ]);
  });

  it('lists every weight of a tiny model in model order with its hand-computed size', () => {
    const layer = (i: number): [string, string, number[], bigint][] => [
      [`layers.${i}.ln1`, 'gain', [6], 6n],
      [`layers.${i}.attn.q_proj`, 'weight', [6, 6], 36n],
      [`layers.${i}.attn.k_proj`, 'weight', [6, 6], 36n],
      [`layers.${i}.attn.v_proj`, 'weight', [6, 6], 36n],
      [`layers.${i}.attn.output_proj`, 'weight', [6, 6], 36n],
      [`layers.${i}.ln2`, 'gain', [6], 6n],
      [`layers.${i}.ffn.w1`, 'weight', [6, 10], 60n],
      [`layers.${i}.ffn.w2`, 'weight', [10, 6], 60n],
      [`layers.${i}.ffn.w3`, 'weight', [6, 10], 60n],
    ];
    const expected: [string, string, number[], bigint][] = [
      ['token_embeddings', 'weight', [11, 6], 66n],
      ...layer(0),
      ...layer(1),
      ['ln_final', 'gain', [6], 6n],
      ['lm_head', 'weight', [6, 11], 66n],
    ];
    const rows = parameterInventory(tiny).map((r) => [r.path, r.name, [...r.shape], r.count]);
    expect(rows).toEqual(expected);
    expect(summarizeParameters(tiny).total).toBe(810n); // 66 + 2*336 + 6 + 66
    expect(summarizeParameters(tiny).perLayer).toBe(336n);
  });

  it('gives every GPT-2 XL weight the size of its closed form', () => {
    const { vocab_size: V, d_model: d, d_ff: F } = xl;
    const expectedSize = (modulePath: string): number => {
      if (modulePath === 'token_embeddings' || modulePath === 'lm_head') return V * d;
      if (modulePath === 'ln_final' || /\.ln[12]$/.test(modulePath)) return d;
      if (modulePath.includes('.attn.')) return d * d;
      if (/\.ffn\.w[123]$/.test(modulePath)) return d * F;
      throw new Error(`unexpected parameter ${modulePath}`);
    };
    const rows = parameterInventory(xl);
    expect(rows).toHaveLength(1 + 48 * 9 + 2);
    for (const row of rows) expect(row.count, row.path).toBe(BigInt(expectedSize(row.path)));
  });
});

describe('forward matmuls', () => {
  it('lists the tiny model (B=3, T=5) matmul by matmul, each worked out by hand', () => {
    // q/k/v/o: 2*3*5*6*6 = 1080; scores and P@v: 2*(3*3)*5*2*5 = 900; w1/w3/w2: 2*3*5*6*10 = 1800;
    // lm_head: 2*3*5*6*11 = 1980.
    const layer = (i: number): [string, string, string, number[], number, number, number, bigint][] => [
      [`layers.${i}.attn.q_proj`, 'attention_projections', '[B,T,d] x [d,d]', [3], 5, 6, 6, 1080n],
      [`layers.${i}.attn.k_proj`, 'attention_projections', '[B,T,d] x [d,d]', [3], 5, 6, 6, 1080n],
      [`layers.${i}.attn.v_proj`, 'attention_projections', '[B,T,d] x [d,d]', [3], 5, 6, 6, 1080n],
      [`layers.${i}.attn.scores`, 'attention_core', '[B,H,T,dk] x [B,H,dk,T]', [3, 3], 5, 2, 5, 900n],
      [`layers.${i}.attn.weighted_sum`, 'attention_core', '[B,H,T,T] x [B,H,T,dk]', [3, 3], 5, 5, 2, 900n],
      [`layers.${i}.attn.output_proj`, 'attention_projections', '[B,T,d] x [d,d]', [3], 5, 6, 6, 1080n],
      [`layers.${i}.ffn.w1`, 'ffn', '[B,T,d] x [d,F]', [3], 5, 6, 10, 1800n],
      [`layers.${i}.ffn.w3`, 'ffn', '[B,T,d] x [d,F]', [3], 5, 6, 10, 1800n],
      [`layers.${i}.ffn.w2`, 'ffn', '[B,T,F] x [F,d]', [3], 5, 10, 6, 1800n],
    ];
    const expected = [...layer(0), ...layer(1), ['lm_head', 'lm_head', '[B,T,d] x [d,V]', [3], 5, 6, 11, 1980n]];
    const rows = forwardMatmulInventory(tiny, { batch: 3, seq: 5 });
    expect(rows.map((r) => [r.path, r.component, r.symbolicShapes, [...r.batch], r.m, r.k, r.n, r.flops])).toEqual(
      expected,
    );
    expect(rows.map((r) => r.description).slice(0, 9)).toEqual([
      'x @ Wq',
      'x @ Wk',
      'x @ Wv',
      'q @ k^T / sqrt(dk)',
      'P @ v',
      'o @ Wo',
      'x @ W1',
      'x @ W3',
      'h @ W2',
    ]);
    const breakdown = forwardFlopBreakdown(tiny, { batch: 3, seq: 5 });
    expect(breakdown.total).toBe(25_020n); // 2 * (4*1080 + 2*900 + 3*1800) + 1980
    expect(breakdown.perLayer.map((l) => l.total)).toEqual([11_520n, 11_520n]);
  });

  it('gives every GPT-2 XL matmul at T=1024 the FLOPs of its closed form', () => {
    const [T, d, H, F, V] = [1024n, 1600n, 25n, 6400n, 50257n];
    const dk = d / H;
    const expectedFlops = (modulePath: string): bigint => {
      if (modulePath === 'lm_head') return 2n * T * d * V;
      if (/attn\.(q|k|v|output)_proj$/.test(modulePath)) return 2n * T * d * d;
      if (/attn\.(scores|weighted_sum)$/.test(modulePath)) return 2n * H * T * T * dk;
      if (/ffn\.w[123]$/.test(modulePath)) return 2n * T * d * F;
      throw new Error(`unexpected matmul ${modulePath}`);
    };
    const rows = forwardMatmulInventory(xl, { batch: 1, seq: 1024 });
    expect(rows).toHaveLength(9 * 48 + 1);
    for (const row of rows) {
      expect(row.flops, row.path).toBe(expectedFlops(row.path));
      expect(row.macs * 2n, row.path).toBe(row.flops);
    }
  });

  const xlClosedForm = (seq: number): bigint => {
    const [T, L, d, F, V] = [BigInt(seq), 48n, 1600n, 6400n, 50257n];
    const perLayer = 2n * T * (4n * d * d + 3n * d * F) + 4n * T * T * d;
    return L * perLayer + 2n * T * d * V;
  };

  it('totals GPT-2 XL at T=1024 as the closed form does: 4,513,336,524,800 FLOPs', () => {
    // By hand: per layer 2*1024*(10,240,000 + 30,720,000) + 4*1024^2*1600
    //   = 83,886,080,000 + 6,710,886,400 = 90,596,966,400; times 48 = 4,348,654,387,200;
    //   lm_head 2*1024*1600*50257 = 164,682,137,600; sum 4,513,336,524,800.
    expect(xlClosedForm(1024)).toBe(4_513_336_524_800n);
    const breakdown = forwardFlopBreakdown(xl, { batch: 1, seq: 1024 });
    expect(breakdown.total).toBe(xlClosedForm(1024));
    expect(breakdown.byComponent).toEqual({
      attention_projections: 1_006_632_960_000n, // 48 * 8 * T * d^2
      latent_projections: 0n,
      attention_core: 322_122_547_200n, // 48 * 4 * T^2 * d
      ffn: 3_019_898_880_000n, // 48 * 6 * T * d * F
      lm_head: 164_682_137_600n, // 2 * T * d * V
      router: 0n,
      routed_experts: 0n,
      shared_experts: 0n,
    });
  });

  it('totals GPT-2 XL at T=16384 (context raised) as the closed form does', () => {
    const [point] = sweepSequenceLengths(xl, [16384]);
    // By hand: per layer 1,342,177,280,000 + 1,717,986,918,400 = 3,060,164,198,400; times 48 plus
    // lm_head 2,634,914,201,600.
    expect(xlClosedForm(16384)).toBe(149_522_795_724_800n);
    expect(point?.breakdown.total).toBe(xlClosedForm(16384));
  });

  it('writes the per-sequence polynomial of GPT-2 XL out by hand', () => {
    // linear = 2*48*(4*1600^2 + 3*1600*6400) + 2*1600*50257; quadratic = 4*48*1600
    expect(perSequenceFlopPolynomial(xl)).toEqual({
      constant: 0n,
      linear: 4_092_982_400n,
      quadratic: 307_200n,
    });
  });

  it('refuses runs the formulas cannot describe', () => {
    expect(() => forwardMatmulInventory(xl, { batch: 1, seq: 1025 })).toThrow(InputError);
    expect(() => forwardMatmulInventory(xl, { batch: 1, seq: 1025 })).toThrow(
      /seq \(1025\) exceeds context_length \(1024\)/,
    );
    expect(() => forwardMatmulInventory(xl, { batch: 0, seq: 8 })).toThrow(/batch \(0\)/);
    expect(() => forwardMatmulInventory(xl, { batch: 1, seq: 2.5 })).toThrow(/seq \(2.5\)/);
    expect(() => forwardMatmulInventory({ ...tiny, num_heads: 4 }, { batch: 1, seq: 4 })).toThrow(
      /d_model \(6\) must be divisible by num_heads \(4\)/,
    );
  });
});

describe('shares and shifts', () => {
  it('computes display ratios exactly enough, even past 2^53', () => {
    expect(share(1n, 3n)).toBeCloseTo(1 / 3, 12);
    expect(share(5n, 0n)).toBe(0);
    expect(share(0n, 7n)).toBe(0);
    const huge = 10n ** 30n;
    expect(share(huge, 4n * huge)).toBe(0.25);
    expect(ratio(256n * huge + huge / 2n, huge)).toBe(256.5);
    expect(ratio(-3n, 2n)).toBe(-1.5);
  });

  it('GPT-2 XL from T=1024 to T=16384: attention core grows 256x, everything else 16x and shrinks', () => {
    const [short, long] = sweepSequenceLengths(xl, [1024, 16384]);
    if (short === undefined || long === undefined) throw new Error('sweep lost a point');
    expect(short.label).toBe('gpt2-xl T=1024');
    expect(long.label).toBe('gpt2-xl T=16384 (context_length raised from 1024 to 16384)');
    expect(long.config.context_length).toBe(16384);
    expect(long.config.variant).toBe('ctx=16384');
    expect(xl.context_length).toBe(1024);
    expect(long.parameters).toBe(2_127_057_600n);
    const shifts = describeShift(short, long);
    expect(shifts.map((s) => [s.component, s.change, s.factor])).toEqual([
      ['attention_projections', 'shrinks', 16],
      ['attention_core', 'grows', 256],
      ['ffn', 'shrinks', 16],
      ['lm_head', 'shrinks', 16],
    ]);
    const ffn = shifts.find((s) => s.component === 'ffn');
    expect(ffn?.fromShare).toBeCloseTo(3_019_898_880_000 / 4_513_336_524_800, 12);
    expect(ffn?.toShare).toBeCloseTo(48_318_382_080_000 / 149_522_795_724_800, 12);
    expect(ratio(long.breakdown.total, short.breakdown.total)).toBeCloseTo(149_522_795_724_800 / 4_513_336_524_800, 12);
  });

  it('GPT-2 small to XL at T=1024: lm_head and attention core shrink, projections and ffn grow', () => {
    // With F = 4d per layer: projections 8Td^2, ffn 24Td^2, core 4T^2 d; lm_head 2TdV once.
    // core/ffn = T/(6d) and lm_head/ffn = V/(12 L d) both fall as d and L grow.
    const points = sweepModels([
      gpt2Shape('gpt2-small', 12, 768, 12),
      gpt2Shape('gpt2-medium', 24, 1024, 16),
      gpt2Shape('gpt2-large', 36, 1280, 20),
      xl,
    ]);
    expect(points.map((p) => p.label)).toEqual([
      'gpt2-small T=1024',
      'gpt2-medium T=1024',
      'gpt2-large T=1024',
      'gpt2-xl T=1024',
    ]);
    for (let i = 1; i < points.length; i++) {
      const shifts = describeShift(points[i - 1]!, points[i]!);
      expect(shifts.map((s) => [s.component, s.change])).toEqual([
        ['attention_projections', 'grows'],
        ['attention_core', 'shrinks'],
        ['ffn', 'grows'],
        ['lm_head', 'shrinks'],
      ]);
    }
    // GPT-2 small by hand: projections 12*8*1024*768^2, core 12*4*1024^2*768, ffn 12*24*1024*768^2,
    // lm_head 2*1024*768*50257.
    const small = points[0]!.breakdown;
    expect(small.byComponent).toEqual({
      attention_projections: 57_982_058_496n,
      latent_projections: 0n,
      attention_core: 38_654_705_664n,
      ffn: 173_946_175_488n,
      lm_head: 79_047_426_048n,
      router: 0n,
      routed_experts: 0n,
      shared_experts: 0n,
    });
  });

  it('calls a share unchanged only when the exact fractions are equal', () => {
    const [a, b] = sweepModels([tiny, tiny], () => ({ batch: 1, seq: 4 }));
    const [c] = sweepModels([tiny], () => ({ batch: 7, seq: 4 }));
    expect(describeShift(a!, b!).every((s) => s.change === 'unchanged' && s.factor === 1)).toBe(true);
    expect(describeShift(a!, c!).every((s) => s.change === 'unchanged' && s.factor === 7)).toBe(true);
    expect(c!.label).toBe('tiny B=7 T=4');
  });
});
