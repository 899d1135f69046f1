/** The report for a model that is not the colour model: a verdict from outputs and groups, defined columns, labelled axes. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareModels } from '../../src/eval/compare.js';
import { renderReport } from '../../src/eval/report.js';
import { saveModel } from '../../src/onnx/model.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { gemmAutoencoder, randomValues } from '../helpers/graphs.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('report-generic');

describe('the HTML report of any model', () => {
  it('says how much each output changed and which group changed most, with every column defined', async () => {
    const intact = path.join(tmp(), 'intact.onnx');
    const ablated = path.join(tmp(), 'ablated.onnx');
    saveModel(gemmAutoencoder(), intact);
    const m = gemmAutoencoder();
    ablateDims(m, 'latent', [0, 1]);
    saveModel(m, ablated);
    const values = randomValues(60, 11);
    const data = path.join(tmp(), 'data.json');
    fs.writeFileSync(data, JSON.stringify(Array.from({ length: 20 }, (_, i) => values.slice(3 * i, 3 * i + 3))));
    const groups = path.join(tmp(), 'groups.json');
    fs.writeFileSync(groups, JSON.stringify({ first: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], second: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19] }));
    const c = await compareModels(intact, ablated, { data, groups });
    const html = renderReport(c, 'generic', { reportPath: path.join(tmp(), 'out', 'report.html') });

    const o = c.result.outputs[0];
    expect(html).toContain(`Output 'out' changed:</b> MSE ${o.mse.toExponential(2)}`);
    const [most] = [...c.result.groups].sort((a, b) => b.outputs[0].mse - a.outputs[0].mse);
    expect(html).toContain(`Most changed group:</b> ${most.group} (MSE`);
    expect(html).toContain('<code>../ablated.onnx</code> compared with <code>../intact.onnx</code>');
    for (const column of ['MSE', 'max |diff|', 'cosine', 'samples', 'MSE of &#39;out&#39;']) expect(html).toContain(`<dt>${column}</dt>`);
    expect(html).toContain('data-axis="x">MSE between patched and intact &#39;out&#39; per sample (output units²)<');
    expect(html).toContain('data-axis="y">samples (count)<');
    expect(html).toMatch(/<rect [^>]*><title>samples, [^<]+: \d+ samples<\/title><\/rect>/);
  });
});
