import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDemo } from '../../src/cli/demo.js';
import { runDemo } from '../../src/eval/demo.js';
import { renderReport } from '../../src/eval/report.js';
import { compareModels } from '../../src/eval/compare.js';

/** Debian's chromium; .ci/run installs it. Elsewhere the rendering test runs only where a browser is present. */
const CHROMIUM = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && fs.existsSync(p));

let dir: string;
let demo: Awaited<ReturnType<typeof runDemo>>;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sca-report-'));
  demo = await runDemo(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('sca demo', () => {
  it('red\'s error rises over 1000x under suppression (anchored model) and ablation (isolated model); green, cyan, blue and gray stay under 5e-3', () => {
    for (const run of [demo.suppressed, demo.ablated]) {
      const rows = Object.fromEntries(run.comparison.result.color!.named.map((r) => [r.name, r]));
      expect(rows.red.ratio).toBeGreaterThan(1000);
      for (const name of ['green', 'cyan', 'blue', 'gray']) expect(rows[name].patchedMse, name).toBeLessThan(5e-3);
      expect(run.comparison.result.color!.selectivity).toBeGreaterThan(0.5);
    }
    expect(demo.suppressed.comparison.result.color!.power).toBe(2);
    expect(demo.ablated.comparison.result.color!.power).toBe(3);
  });

  it('builds the paper-format table: 17 colours, baseline MSE and deltas beside the paper\'s', () => {
    expect(demo.table.map((r) => r.name)).toEqual(['red', 'orange', 'yellow', 'lime', 'green', 'teal', 'cyan', 'azure', 'blue', 'purple', 'magenta', 'pink', 'black', 'dark gray', 'gray', 'light gray', 'white']);
    const red = demo.table[0];
    const row = demo.ablated.comparison.result.color!.named[0];
    expect(red.ablation).toEqual({ baseline: row.intactMse, delta: row.patchedMse - row.intactMse, paper: 0.343, paperIsBound: false });
    expect(red.suppression.paper).toBe(0.213);
    expect(demo.table.find((r) => r.name === 'blue')!.ablation).toMatchObject({ paper: 0.0025, paperIsBound: true });
    const text = formatDemo(demo);
    expect(text).toMatch(/^red +\S+ +\+0\.\d{3} +\+0\.213 +\S+ +\+0\.\d{3} +\+0\.343$/m);
    expect(text).toMatch(/^blue +\S+ +(0|[+-]\S+) +<0\.0025 /m);
    expect(text).toContain("paper's best of 60: 0.991");
  });

  it('writes both patched models and a self-contained report', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['color-anchored-suppressed.onnx', 'color-isolated-ablated.onnx', 'report.html']);
    const html = fs.readFileSync(demo.report, 'utf8');
    expect(html).not.toMatch(/<script|<link|src="http/);
  });
});

describe('the HTML report', () => {
  it('holds the tables and plots (structure)', async () => {
    const html = fs.readFileSync(demo.report, 'utf8');
    for (const plot of ['error-vs-hue', 'error-vs-similarity', 'swatches', 'tap-cosine-bottleneck']) expect(html).toContain(`data-plot="${plot}"`);
    const generic = renderReport(await compareModels(demo.ablated.model, demo.ablated.path, { data: 'color-cube:2' }));
    expect(generic).toContain('Per colour');
  });

  it.runIf(CHROMIUM || process.env.CI)('renders in headless Chromium with every plot drawn', () => {
    expect(CHROMIUM, 'CI needs Debian\'s chromium (apt-get install chromium)').toBeDefined();
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${path.join(dir, 'chromium')}`];
    const dom = execFileSync(CHROMIUM!, [...args, '--dump-dom', `file://${demo.report}`], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const plot = (id: string) => new RegExp(`<svg data-plot="${id}"[\\s\\S]*?</svg>`).exec(dom)?.[0] ?? '';
    // One dot per cube colour, in both suppression and ablation sections.
    expect(plot('error-vs-hue').match(/<circle /g)).toHaveLength(512);
    expect(plot('error-vs-similarity').match(/<circle /g)).toHaveLength(512);
    expect(plot('tap-cosine-bottleneck').match(/<rect /g)!.length).toBeGreaterThanOrEqual(40);
    expect(dom.match(/class="swatch"/g)).toHaveLength(2 * 17);
    const png = path.join(dir, 'shot.png');
    execFileSync(CHROMIUM!, [...args, '--window-size=1200,2400', `--screenshot=${png}`, `file://${demo.report}`], { timeout: 60_000, stdio: 'ignore' });
    expect(fs.statSync(png).size).toBeGreaterThan(50_000); // a blank page is a few kB
  });
});
