/**
 * `--format csv` as a spreadsheet reads it: RFC 4180 records, one block per table separated by
 * one empty line, each block starting with its own header and as wide as it, and every number
 * in a cell written as plain digits, inside words as well ("1 x 1024 tokens").
 */
import { describe, expect, it } from 'vitest';
import { cli } from './helpers/cli_runner.js';

/** RFC 4180: fields split on commas, quoted fields may hold commas, CR, LF and doubled quotes. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      fields.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      fields.push(field);
      records.push(fields);
      fields = [];
      field = '';
      i++;
    } else field += char;
  }
  expect(quoted).toBe(false);
  expect(field).toBe('');
  return records;
}

/** The tables of a CSV output: records between empty lines (an empty line is one empty field). */
function csvBlocks(text: string): string[][][] {
  const blocks: string[][][] = [[]];
  for (const record of parseCsv(text)) {
    if (record.length === 1 && record[0] === '') blocks.push([]);
    else blocks.at(-1)!.push(record);
  }
  return blocks;
}

/** Digits grouped by thousands outside a shape: "1,024" in "1 x 1,024 tokens", not "[1,512,768]". */
const GROUPED = /\d,\d{3}(?!\d)/;
const withoutShapes = (field: string) => field.replace(/\[[^\]]*\]/g, '[]');

async function csv(...argv: string[]): Promise<string[][][]> {
  const result = await cli(...argv, '--format', 'csv');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.endsWith('\r\n')).toBe(true);
  return csvBlocks(result.stdout);
}

describe('--format csv', () => {
  const commands: readonly (readonly string[])[] = [
    ['params', 'gpt2-xl', '--depth', '3'],
    ['flops', 'gpt2-xl', '--depth', '3', '--macs'],
    ['flops', 'gpt2-xl', '--conventions'],
    ['train', 'gpt2-xl', '--depth', '3'],
    ['train', 'llama-3-8b', '--steps', '1000000'],
    // Past 1,000 GB of weights, so the GB and GiB columns have a thousands place.
    ['memory', 'llama-3-8b', '--layers', '4000'],
    ['models'],
    ['sweep', 'gpt2-xl', '--seq', '1024,2048,4096'],
    ['compare', 'gpt2-small', 'gpt2-xl'],
    ['verify', 'tiny', '--backend', 'meta', '--train', '--depth', '3'],
    ['trace', 'tiny', '--seq', '8', '--depth', '3'],
  ];

  it.each(commands.map((argv) => [argv.join(' '), argv] as const))(
    '%s: blank-line-separated tables, each with its header, no digit groups in cells',
    async (_command, argv) => {
      const blocks = await csv(...argv);
      for (const block of blocks) {
        expect(block.length).toBeGreaterThan(1);
        const [header, ...rows] = block;
        for (const row of rows) expect(row).toHaveLength(header!.length);
        for (const field of block.flat()) expect(withoutShapes(field)).not.toMatch(GROUPED);
      }
    },
  );

  it('writes the peak-memory polynomial with plain digits that add up to the peak at batch 1', async () => {
    const [summary] = await csv('train', 'gpt2-xl');
    const cell = (label: string) => summary!.find((row) => row[0] === label)![1]!;
    const peak = BigInt(cell('peak memory at batch 1'));
    const match = /^(\d+) \+ (\d+) B$/.exec(cell('peak memory in bytes, B sequences'));
    expect(match).not.toBeNull();
    expect(BigInt(match![1]!) + BigInt(match![2]!)).toBe(peak);
    // 400,000 steps, in seconds to one decimal, with no digit groups: 556709.3 s.
    expect(summary!.find((row) => row[0] === 'run time of 400000 steps at batch 1')?.[2]).toMatch(/^\d+\.\d s$/);
  });

  it('writes a run as "1 x 1024 tokens" and a ratio as plain decimals', async () => {
    const [table] = await csv('compare', 'gpt2-small', 'gpt2-xl');
    expect(table!.find((row) => row[0] === 'run (batch x seq)')).toEqual([
      'run (batch x seq)',
      '1 x 1024 tokens',
      '1 x 1024 tokens',
    ]);
    // 4,513,336,524,800 / 349,630,365,696 = 12.9089 (both exact counts from the closed form in cli.test.ts).
    expect(table!.find((row) => row[0] === 'FLOPs vs gpt2-small')).toEqual(['FLOPs vs gpt2-small', '1.00x', '12.91x']);
  });

  it('separates the flops tables by one empty line, each block with its own header', async () => {
    const result = await cli('flops', 'gpt2-xl', '--depth', '2', '--format', 'csv');
    const texts = result.stdout.split('\r\n\r\n');
    expect(texts).toHaveLength(3);
    expect(texts.map((text) => text.split('\r\n')[0])).toEqual([
      'quantity,exact,approx',
      'component,FLOPs,approx,share',
      'module,attn projections,attn core,ffn,lm_head,total,share',
    ]);
  });

  it('still groups the digits for people', async () => {
    const result = await cli('compare', 'gpt2-small', 'gpt2-xl');
    expect(result.stdout).toContain('1 x 1,024 tokens');
  });
});
