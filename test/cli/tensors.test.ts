import { describe, expect, it } from 'vitest';
import { sca } from '../helpers/cli.js';
import { fixturePath } from '../helpers/torchFixtures.js';

describe('sca inspect --tensors', () => {
  it("lists the decoder's residual stream under /blocks.0/ with shapes [batch, seq, d]", async () => {
    const r = await sca('inspect', fixturePath('gpt2_op14'), '--tensors', '--json');
    expect(r.code).toBe(0);
    const { tensors } = JSON.parse(r.out) as { tensors: { name: string; module: string; op: string; type: string; shape: unknown[] }[] };
    const residual = tensors.filter((t) => t.module === '/blocks.0' && t.op === 'Add');
    expect(residual.map((t) => t.name)).toEqual(['/blocks.0/Add_output_0', '/blocks.0/Add_1_output_0']);
    for (const t of residual) expect(t).toMatchObject({ type: 'float32', shape: ['batch', 'seq', 32] });
    // Every activation has an inferred shape, and Constant nodes (parameters) are not listed.
    expect(tensors.filter((t) => t.shape === null)).toEqual([]);
    expect(tensors.some((t) => t.op === 'Constant')).toBe(false);
  });

  it('filters by a module path, grouped under module headings', async () => {
    const r = await sca('inspect', fixturePath('gpt2_op14'), '--tensors', '--filter', 'blocks.1/mlp');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    const headings = lines.filter((l) => !l.startsWith(' '));
    expect(headings).toEqual(['/blocks.1/mlp/fc', '/blocks.1/mlp/act', '/blocks.1/mlp/proj']);
    expect(lines.filter((l) => l.startsWith(' ')).every((l) => l.trimStart().startsWith('/blocks.1/mlp/'))).toBe(true);
    expect(r.out).toMatch(/\/blocks\.1\/mlp\/act\/Mul_1_output_0 +Mul +float32 \[batch, seq, 128\]/);
  });

  it('--tensor NAME that names a module suggests the tensors under it', async () => {
    const r = await sca('patch', fixturePath('gpt2_op14'), '-o', '/nonexistent/x.onnx', '--tensor', 'blocks.0', '--mode', 'suppress', '--dims', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /no tensor named 'blocks\.0'; it looks like a module: tensors under it include '\/blocks\.0\/Add_output_0', '\/blocks\.0\/Add_1_output_0'/,
    );
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});
