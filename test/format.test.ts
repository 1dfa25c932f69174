import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatBinary,
  formatFixed,
  formatGibibytes,
  formatGigabytes,
  formatPercent,
  formatRatioOf,
  formatShare,
  formatSi,
  groupDigits,
} from '../src/core/format.js';
import { toJsonText } from '../src/render/json_text.js';
import { shiftSentence } from '../src/views/shift_sentences.js';
import { matmulComponentLabels } from '../src/views/labels.js';
import { loadModelConfig } from '../src/config/index.js';
import { renderReport } from '../src/render/render.js';
import { csvField, renderCsvTable } from '../src/render/render_csv.js';
import { renderMarkdownTable } from '../src/render/render_markdown.js';
import { renderTextTable } from '../src/render/render_text_table.js';
import { cellText, fixed, paragraph, tableBlock, type Table } from '../src/render/table.js';

describe('groupDigits', () => {
  it('groups by thousands', () => {
    expect(groupDigits(2127057600n)).toBe('2,127,057,600');
    expect(groupDigits(0n)).toBe('0');
    expect(groupDigits(999n)).toBe('999');
    expect(groupDigits(1000n)).toBe('1,000');
    expect(groupDigits(100000n)).toBe('100,000');
    expect(groupDigits(-1234567n)).toBe('-1,234,567');
  });

  it('keeps every digit past 2^53', () => {
    // 2^53 + 1 is not representable as a double; a float detour would print ...992.
    expect(groupDigits(2n ** 53n + 1n)).toBe('9,007,199,254,740,993');
    expect(groupDigits(2n ** 64n)).toBe('18,446,744,073,709,551,616');
  });

  it('removing the commas gives back the exact decimal', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (value) => {
        expect(groupDigits(value).replaceAll(',', '')).toBe(value.toString());
      }),
    );
  });
});

describe('formatSi', () => {
  it('matches the design examples', () => {
    expect(formatSi(4513336524800n, 'FLOP')).toBe('4.513 TFLOP');
    expect(formatSi(8508230400n, 'B')).toBe('8.508 GB');
  });

  it('handles the prefix boundaries and carries', () => {
    expect(formatSi(0n, 'FLOP')).toBe('0 FLOP');
    expect(formatSi(999n, 'FLOP')).toBe('999 FLOP');
    expect(formatSi(1000n, 'FLOP')).toBe('1.000 kFLOP');
    expect(formatSi(999_449n, 'FLOP')).toBe('999.4 kFLOP');
    expect(formatSi(999_950n, 'FLOP')).toBe('1.000 MFLOP');
    expect(formatSi(999_999n, 'FLOP')).toBe('1.000 MFLOP');
    expect(formatSi(1_000_000n, 'FLOP')).toBe('1.000 MFLOP');
    // 9.9995 M rounds to 10.00 M: four significant digits even after the carry.
    expect(formatSi(9_999_500n, 'FLOP')).toBe('10.00 MFLOP');
    expect(formatSi(9_999_499n, 'FLOP')).toBe('9.999 MFLOP');
    expect(formatSi(12_345_678n, 'B')).toBe('12.35 MB');
    expect(formatSi(123_456_789n, 'B')).toBe('123.5 MB');
    expect(formatSi(-1500n, 'B')).toBe('-1.500 kB');
    expect(formatSi(10n ** 30n, 'FLOP')).toBe('1.000 QFLOP');
    expect(formatSi(10n ** 33n, 'FLOP')).toBe('1000 QFLOP');
  });

  it('is within half a unit in the fourth significant digit of the exact value', () => {
    const prefixes = ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
    fc.assert(
      fc.property(fc.bigInt({ min: 1000n, max: 10n ** 26n - 1n }), (value) => {
        const match = /^(\d+(?:\.\d+)?) (\w?)X$/.exec(formatSi(value, 'X'));
        expect(match).not.toBeNull();
        const mantissa = Number(match![1]);
        expect(mantissa).toBeGreaterThanOrEqual(1);
        expect(mantissa).toBeLessThan(1000);
        const shown = mantissa * 1000 ** (prefixes.indexOf(match![2]!) + 1);
        expect(Math.abs(shown - Number(value)) / Number(value)).toBeLessThanOrEqual(5e-4 + 1e-12);
      }),
    );
  });
});

describe('binary and fixed-unit byte forms', () => {
  it('matches the seed: 8,508,230,400 bytes are 7.92 GiB and 8.508 GB', () => {
    expect(formatBinary(8508230400n, 'B')).toBe('7.92 GiB');
    expect(formatGibibytes(8508230400n)).toBe('7.92 GiB');
    expect(formatGigabytes(8508230400n)).toBe('8.508 GB');
  });

  it('steps at 1024, not 1000', () => {
    expect(formatBinary(1000n, 'B')).toBe('1000 B');
    expect(formatBinary(1023n, 'B')).toBe('1023 B');
    expect(formatBinary(1024n, 'B')).toBe('1.00 KiB');
    expect(formatBinary(1536n, 'B')).toBe('1.50 KiB');
    // 1,048,575 B is 1023.999 KiB: rounds to 1024 KiB, shown as 1.00 MiB.
    expect(formatBinary(1_048_575n, 'B')).toBe('1.00 MiB');
    expect(formatBinary(2n ** 30n, 'B')).toBe('1.00 GiB');
  });

  it('keeps a fixed unit for small values so columns compare', () => {
    expect(formatGibibytes(2n ** 29n)).toBe('0.50 GiB');
    expect(formatGigabytes(1_500_000n)).toBe('0.002 GB');
  });
});

describe('shares, ratios and fixed decimals', () => {
  it('rounds exact fractions half away from zero', () => {
    expect(formatShare(1n, 3n)).toBe('33.3%');
    expect(formatShare(2n, 3n)).toBe('66.7%');
    expect(formatShare(1n, 8n)).toBe('12.5%');
    expect(formatShare(1n, 16n)).toBe('6.3%');
    expect(formatShare(1n, 16n, 2)).toBe('6.25%');
    expect(formatShare(5n, 0n)).toBe('n/a');
    expect(formatFixed(-1n, 3n, 2)).toBe('-0.33');
    expect(formatFixed(-1n, 1000n, 2)).toBe('0.00');
    expect(formatFixed(1234567n, 1n, 0)).toBe('1,234,567');
  });

  it('formats number fractions and ratios', () => {
    expect(formatPercent(0.6944)).toBe('69.4%');
    expect(formatPercent(Number.NaN)).toBe('n/a');
    expect(formatRatioOf(45n, 10n)).toBe('4.50x');
    expect(formatRatioOf(2n, 3n)).toBe('0.67x');
  });
});

describe('toJsonText', () => {
  it('writes every bigint as its exact decimal string', () => {
    const text = toJsonText({ total: 2127057600n, nested: [1n, { big: 2n ** 64n }], share: 0.5, name: 'x' });
    expect(JSON.parse(text)).toEqual({
      total: '2127057600',
      nested: ['1', { big: '18446744073709551616' }],
      share: 0.5,
      name: 'x',
    });
    expect(text).toContain('"total": "2127057600"');
  });

  it("writes field names in snake_case, a Map's keys as they are, and leaves undefined fields out", () => {
    const data = {
      totalMacs: 1n,
      fp32Bytes: 4n,
      by_component: { attention_core: 2n },
      attrs: new Map([['transposeA', false]]),
      skipped: undefined,
      ratio: { numerator: 1n, denominator: 3n },
    };
    expect(JSON.parse(toJsonText(data))).toEqual({
      total_macs: '1',
      fp32_bytes: '4',
      by_component: { attention_core: '2' },
      attrs: { transposeA: false },
      ratio: { numerator: '1', denominator: '3' },
    });
    // Keys that are not lower camelCase identifiers are data and stay as written.
    expect(JSON.parse(toJsonText({ 'layers.0': 1, BatchMatMul: 2 }))).toEqual({ 'layers.0': 1, BatchMatMul: 2 });
  });
});

const sample: Table = {
  title: 'Sample',
  columns: [
    { header: 'name', align: 'left' },
    { header: 'count', align: 'right' },
    { header: 'note', align: 'center' },
  ],
  rows: [
    ['plain', 2127057600n, 'ok'],
    ['with, comma', 1n, 'say "hi"'],
    ['pipe | here', 12, 'two\nlines'],
  ],
  totals: [['total', 2127057613n, '']],
  notes: ['FLOPs count a multiply and an add.'],
};

describe('csv', () => {
  it('quotes only fields that need it, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField('')).toBe('');
  });

  it('writes a header, plain exact counts and CRLF line ends', () => {
    expect(renderCsvTable(sample)).toBe(
      'name,count,note\r\n' +
        'plain,2127057600,ok\r\n' +
        '"with, comma",1,"say ""hi"""\r\n' +
        'pipe | here,12,"two\nlines"\r\n' +
        'total,2127057613,\r\n',
    );
  });

  it('writes numbers inside words as plain digits, and groups them for people', () => {
    const run = cellText`${1} x ${1024n} tokens, ${fixed(11_134_186n, 20n, 1)} s`;
    expect(
      renderCsvTable({ columns: [{ header: 'run' }], rows: [[run], [fixed(3n * 10n ** 12n, 10n ** 9n, 3)]] }),
    ).toBe('run\r\n"1 x 1024 tokens, 556709.3 s"\r\n3000.000\r\n');
    expect(renderMarkdownTable({ columns: [{ header: 'run' }], rows: [[run]] })).toContain(
      '| 1 x 1,024 tokens, 556,709.3 s |',
    );
  });

  it('leaves prose out of CSV output', () => {
    const text = renderReport({ blocks: [paragraph('hello'), tableBlock(sample)], json: {} }, 'csv');
    expect(text.startsWith('name,count,note\r\n')).toBe(true);
    expect(text).not.toContain('hello');
  });
});

describe('markdown', () => {
  it('writes alignment rules, escapes pipes and bolds totals', () => {
    const lines = renderMarkdownTable(sample).split('\n');
    expect(lines[0]).toBe('**Sample**');
    expect(lines[2]).toBe('| name | count | note |');
    expect(lines[3]).toBe('|:---|---:|:---:|');
    expect(lines[4]).toBe('| plain | 2,127,057,600 | ok |');
    expect(lines[6]).toBe('| pipe \\| here | 12 | two<br>lines |');
    expect(lines[7]).toBe('| **total** | **2,127,057,613** |  |');
    expect(lines.at(-1)).toBe('FLOPs count a multiply and an add.');
  });
});

describe('text table', () => {
  it('draws grouped counts with right alignment and no colour codes', () => {
    const text = renderTextTable({
      columns: sample.columns,
      rows: [
        ['a', 5n, ''],
        ['b', 2127057600n, ''],
      ],
    });
    expect(text).not.toContain('\u001b[');
    const countCells = text
      .split('\n')
      .filter((line) => line.includes(' a ') || line.includes(' b '))
      .map((line) => line.split('│')[2]);
    expect(countCells).toEqual(['             5 ', ' 2,127,057,600 ']);
  });

  it('prints the json payload for --format json', () => {
    expect(JSON.parse(renderReport({ blocks: [tableBlock(sample)], json: { total: 7n } }, 'json'))).toEqual({
      total: '7',
    });
  });
});

describe('shift sentences', () => {
  // gpt2-xl's preset has a SwiGLU FFN: three matrices.
  const labels = matmulComponentLabels([loadModelConfig('gpt2-xl')]);

  it('adds decimals until a real change shows, and words it from the exact verdict', () => {
    const sentence = shiftSentence(
      {
        component: 'ffn',
        fromFlops: 1000n,
        toFlops: 4000n,
        fromShare: 0.12341,
        toShare: 0.12344,
        change: 'grows',
        factor: 4,
      },
      labels,
    );
    expect(sentence).toBe('FFN (w1, w3, w2): share grows from 12.341% to 12.344% (FLOPs 4.00x)');
  });

  it('says a share stays when it is unchanged', () => {
    const sentence = shiftSentence(
      {
        component: 'lm_head',
        fromFlops: 3n,
        toFlops: 6n,
        fromShare: 0.25,
        toShare: 0.25,
        change: 'unchanged',
        factor: 2,
      },
      labels,
    );
    expect(sentence).toBe('lm_head: share stays at 25.0% (FLOPs 2.00x)');
  });
});
