import { describe, expect, it } from 'vitest';
import { cli, cliJson } from './helpers/cli_runner.js';

/**
 * GPT-2 XL as OpenAI released it (gpt2-original-xl: LayerNorm, GELU MLP, biases, learned
 * positions, tied embeddings), by hand: L = 48, d = 1600, H = 25, F = 6400, V = 50257, ctx 1024.
 *   per block: 12 d^2 + 13 d = 30,740,800 parameters
 *   outside the blocks: V d + ctx d + 2 d (tied table, position table, ln_final) = 82,052,800
 *   P = 48 x 30,740,800 + 82,052,800 = 1,557,611,200 (divides by 64: 24,337,675 per device)
 */
const L = 48n;
const d = 1600n;
const H = 25n;
const F = 6400n;
const V = 50_257n;
const PER_BLOCK = 12n * d * d + 13n * d;
const OUTSIDE_BLOCKS = V * d + 1024n * d + 2n * d;
const P = L * PER_BLOCK + OUTSIDE_BLOCKS;

describe('train at scale: ZeRO-3 over 64 devices, bf16 mixed precision', () => {
  const argv = ['gpt2-original-xl', '--devices', '64', '--zero', '3', '--precision', 'bf16-mixed', '--seq', '1024'];

  it("holds 2 + 2 + 12 bytes of each parameter's 1/64, the gathered weights and every saved activation", async () => {
    expect(P).toBe(1_557_611_200n);
    const json = await cliJson('train', ...argv);
    expect(json.analytic).toBe(true);
    expect(json.layout).toMatchObject({ devices: 64, data_parallel: 64, tensor_parallel: 1, pipeline_parallel: 1 });
    const [stage] = json.stages;
    const partition = P / 64n;
    // ZeRO-3 with FSDP's root unit: the embeddings, position table and ln_final stay gathered, plus one block.
    const gathered = 2n * (OUTSIDE_BLOCKS + PER_BLOCK);
    // Saved in bf16, the cross-entropy's softmax in fp32; one sequence of T = 1024:
    //   per block ln1, q, k, v, weighted sum, output_proj, ln2, w2 (8 T d), w1 and GELU (2 T F), scores and softmax (2 H T^2);
    //   before the blocks the position add (T d); after them ln_final (T d), the logits (T V) and the softmax (T V, fp32).
    const T = 1024n;
    const perSequence = 2n * (L * (8n * T * d + 2n * T * F + 2n * H * T * T) + T * d + T * d + T * V) + 4n * T * V;
    const constant = 16n * partition + gathered;
    expect(stage.memory).toEqual({
      weights: (2n * partition).toString(),
      gradients: (2n * partition).toString(),
      optimizer_states: (12n * partition).toString(),
      gathered_weights: gathered.toString(),
      activations: perSequence.toString(),
      total: (constant + perSequence).toString(),
    });
    // An H100 SXM's 80 GB (10^9 bytes, as NVIDIA prints it).
    const batch = (80_000_000_000n - constant) / perSequence;
    expect(json.largest_micro_batch).toMatchObject({
      device: 'h100-sxm',
      memory_bytes: '80000000000',
      fits: true,
      batch: Number(batch),
      bytes_at_batch: (constant + batch * perSequence).toString(),
    });
    // Per micro-batch two all-gathers of the weights and one reduce-scatter of the gradients, each
    // sending 63 chunks of P / 64 bf16 elements (ZeRO section 7.2.2: 3 Psi against plain DP's 2 Psi).
    expect(stage.communication_bytes).toBe((3n * 63n * partition * 2n).toString());
  });

  it('says which settings it assumed, and that nothing ran', async () => {
    const { code, stdout, stderr } = await cli('train', ...argv);
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toContain('64 devices = 64 data x 1 tensor x 1 pipeline parallel');
    expect(stdout).toContain('Analytic: no model is run.');
    expect(stdout).toContain('assumed (default): --checkpoint none (every activation kept)');
    expect(stdout).toContain('assumed (default): --device h100-sxm');
  });

  it('writes CSV and Markdown like every command', async () => {
    const csv = await cli('train', ...argv, '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.stdout).toContain('stage,layers,parameters,weights,gradients,optimizer states');
    const markdown = await cli('train', ...argv, '--format', 'markdown');
    expect(markdown.code).toBe(0);
    expect(markdown.stdout).toContain('| stage | layers | parameters | weights |');
  });
});

describe('train at scale: tensor and pipeline parallel with 1F1B', () => {
  it('splits a Llama 2 7B over 64 devices as the issue asks', async () => {
    const json = await cliJson(
      'train',
      'llama-2-7b',
      ...['--devices', '64', '--zero', '3', '--tp', '8', '--pp', '4', '--checkpoint', 'selective'],
      ...['--precision', 'bf16-mixed', '--seq', '4096'],
    );
    expect(json.layout).toMatchObject({ data_parallel: 2, tensor_parallel: 8, pipeline_parallel: 4 });
    expect(json.micro_batches).toBe(4); // the default: pp
    // Each tp rank of a middle stage: 8 blocks of (4 d^2 + 3 d F) / 8 + 2 d (RMSNorm gains, replicated).
    const [, middle] = json.stages;
    expect(middle.parameters).toBe((8n * ((4n * 4096n ** 2n + 3n * 4096n * 11_008n) / 8n + 2n * 4096n)).toString());
    // 1F1B: stage i holds min(pp - i, m) micro-batches.
    expect(json.stages.map((stage: { activations: { in_flight: number } }) => stage.activations.in_flight)).toEqual([
      4, 3, 2, 1,
    ]);
  });
});

describe('train at scale: every architecture the presets have', () => {
  // Post-norms, GeGLU and soft-caps (Gemma 2), fused q/k/v and gate/up (Phi-3), q/k norms and head_dim (Qwen3), q/k/v biases (Qwen2.5).
  for (const model of ['gemma-2-2b', 'phi-3-mini-4k', 'qwen3-8b', 'qwen2.5-0.5b']) {
    it(`${model}: tp 2 x pp 2 with sequence parallelism and selective checkpointing`, async () => {
      const json = await cliJson(
        'train',
        model,
        ...['--tp', '2', '--pp', '2', '--sp', '--checkpoint', 'selective', '--seq', '1024'],
      );
      const group = json.stages.reduce(
        (total: bigint, stage: { parameters: string }) => total + BigInt(stage.parameters),
        0n,
      );
      const replicas = json.parameters.replicas.reduce(
        (total: bigint, replica: { parameters: string }) => total + BigInt(replica.parameters),
        0n,
      );
      expect(2n * group).toBe(BigInt(json.parameters.total) + replicas);
    });
  }
});

describe('train at scale: bad input is one line naming the flag, the value and the fix', () => {
  const cases: readonly (readonly [string[], string])[] = [
    [
      ['gpt2-xl', '--tp', '2'],
      '--tp 2: must divide num_heads (25), num_kv_heads (25) and d_ff (6400) of gpt2-xl, since tensor parallelism splits whole heads and FFN columns; use --tp 1, 5 or 25',
    ],
    [
      ['gpt2-xl', '--pp', '5'],
      '--pp 5: must divide num_layers (48) of gpt2-xl, one equal group of blocks per stage; use --pp 1, 2, 3, 4, 6, 8, 12, 16, ...',
    ],
    [
      ['gpt2-xl', '--devices', '12', '--pp', '8'],
      '--devices 12: must be a multiple of tp x pp (1 x 8 = 8), the data-parallel copies being whole; use --devices 16 or a --tp and --pp whose product divides 12',
    ],
    [
      ['llama-2-7b', '--tp', '8', '--sp', '--seq', '1001'],
      '--seq 1001: must be a multiple of tp (8) with sequence parallelism, which splits the sequence over the ranks; use --seq 1000 or 1008, or leave out --sp',
    ],
    [['gpt2-xl', '--micro-batches', '0'], '--micro-batches: "0" is not a positive integer; use e.g. --micro-batches 8'],
    [
      ['gpt2-xl', '--device', 'h900'],
      '--device: unknown device "h900"; use one of a100-40gb-sxm, a100-80gb-sxm, h100-sxm, h100-pcie, h200, b200, mi300x, l4, l40s, rtx-4090, rtx-5090, m3-max, m4-max, tpu-v5e',
    ],
    [
      ['gpt2-xl', '--zero', '1', '--steps', '10'],
      '--steps: the run time is not part of the per-device accounting (asked for by --zero); leave out --steps, or the at-scale flags',
    ],
    [
      ['gpt2-xl', '--zero', '1', '--memory', '40GB', '--device', 'h100-sxm'],
      "--memory 40GB and --device h100-sxm both give the device's memory; give only one",
    ],
    [['gpt2-xl', '--checkpoint', 'fulll'], ''],
    [['gpt2-xl', '--precision', 'bf16'], ''],
  ];
  for (const [argv, message] of cases) {
    it(argv.join(' '), async () => {
      const { code, stdout, stderr } = await cli('train', ...argv);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
      if (message !== '') expect(stderr).toBe(`flopledger: ${message}\n`);
      else expect(stderr).toMatch(/^flopledger: --(checkpoint|precision): "[^"]+" is not /);
    });
  }

  it('the help says the at-scale accounting is analytic only', async () => {
    const { stdout } = await cli('train', '--help');
    expect(stdout).toContain('switches train to the per-device accounting, which is analytic only');
  });
});
