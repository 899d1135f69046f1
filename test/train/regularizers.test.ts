import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBackend } from '../../src/train/engine.js';
import { anchorTerms } from '../../src/train/regularizers/anchor.js';
import { antiAnchorTerms } from '../../src/train/regularizers/antiAnchor.js';
import { meanOver } from '../../src/train/regularizers/select.js';
import { separateTerms } from '../../src/train/regularizers/separate.js';
import { antiSubspaceTerms, subspaceTerms } from '../../src/train/regularizers/subspace.js';
import { unitarityTerms } from '../../src/train/regularizers/unitarity.js';

beforeAll(async () => {
  await useBackend('cpu');
});

const values = (t: { dataSync(): ArrayLike<number> }) => Array.from(t.dataSync());
const z3 = () => tf.tensor2d([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]]);

describe('regularizers, against values worked out by hand', () => {
  it('anchor: 1 - cos(z, a)', () => {
    expect(values(anchorTerms(z3(), [1, 0, 0]))).toEqual([0, 1, expect.closeTo(0.4, 6)]);
    // The anchor need not be unit length.
    expect(values(anchorTerms(z3(), [2, 0, 0]))[2]).toBeCloseTo(0.4, 6);
  });

  it('anti-anchor: max(cos(z, a\'), 0)', () => {
    const z = tf.tensor2d([[1, 0, 0], [-0.6, 0.8, 0], [0, 1, 0]]);
    expect(values(antiAnchorTerms(z, [-1, 0, 0]))).toEqual([0, expect.closeTo(0.6, 6), 0]);
  });

  it('anti-subspace: sum of z_i^2 over reserved dims; subspace: over dims outside the kept set', () => {
    expect(values(antiSubspaceTerms(z3(), [0]))).toEqual([1, 0, expect.closeTo(0.36, 6)]);
    expect(values(subspaceTerms(z3(), [0]))).toEqual([0, 1, expect.closeTo(0.64, 6)]);
  });

  it('separate: sum over others of ((cos + 1) / 2)^p, duplicates ignored', () => {
    // Rows 0 and 2 are the same point; each row sees row 1 at cos 0, i.e. (1/2)^2.
    const z = tf.tensor2d([[1, 0], [0, 1], [1, 0]]);
    expect(values(separateTerms(z, 2))).toEqual([0.25, 0.5, 0.25]);
    // Opposite points do not push each other at high power.
    expect(values(separateTerms(tf.tensor2d([[1, 0], [-1, 0]]), 100))).toEqual([0, 0]);
  });

  it('unitarity: (|z| - 1)^2', () => {
    expect(values(unitarityTerms(tf.tensor2d([[3, 4], [0.6, 0.8]])))).toEqual([16, expect.closeTo(0, 6)]);
  });

  it('applies to all samples, or only to labelled ones', () => {
    const terms = tf.tensor1d([0, 1, 0.4]);
    expect(values(meanOver(terms))[0]).toBeCloseTo(1.4 / 3, 6);
    expect(values(meanOver(terms, tf.tensor1d([1, 0, 1])))[0]).toBeCloseTo(0.2, 6);
    expect(values(meanOver(terms, tf.tensor1d([0, 0, 0])))[0]).toBe(0);
  });

  it('has gradients for training (anchor pulls z towards a)', () => {
    const z = tf.variable(tf.tensor2d([[0.6, 0.8]]));
    const g = tf.grad((v) => tf.sum(anchorTerms(v as never, [1, 0])))(z);
    const [gx, gy] = values(g);
    expect(gx).toBeLessThan(0); // increasing z_x lowers the loss
    expect(gy).toBeGreaterThan(0);
  });
});
