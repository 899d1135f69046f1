/** The anchor manifest keeps what a training script recorded about how the concept was put there. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAnchors, writeAnchors, ANCHORS_KEY } from '../../src/anchors/manifest.js';
import { UsageError } from '../../src/errors.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';

const SHIPPED = path.join(__dirname, '..', '..', 'models', 'color-isolated.onnx');

describe('anchor training recipe', () => {
  it('survives writing, saving and reading back, beside the shipped anchor', () => {
    const model = loadModel(SHIPPED);
    const training = { method: 'sca', block: 1, terms: { anchor: { weight: [0.1, 0.12] } }, steps: 4000, seed: 0 };
    writeAnchors(model.proto, [{ concept: 'blue', tensor: 'bottleneck', dims: [1], training }]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sca-manifest-'));
    try {
      saveModel(model, path.join(dir, 'm.onnx'));
      const anchors = readAnchors(loadModel(path.join(dir, 'm.onnx')).proto);
      expect(anchors.map((a) => a.concept)).toEqual(['red', 'blue']);
      expect(anchors[1].training).toEqual(training);
      expect(anchors[0].training).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a recipe that is not an object, naming the entry', () => {
    const model = loadModel(SHIPPED);
    model.proto.metadataProps = [
      { key: ANCHORS_KEY, value: JSON.stringify({ anchors: [{ concept: 'red', tensor: 'bottleneck', dims: [0], training: 'sca' }] }) },
    ];
    expect(() => readAnchors(model.proto)).toThrow(UsageError);
    expect(() => readAnchors(model.proto)).toThrow(/entry 0: "training" must be an object/);
  });
});
