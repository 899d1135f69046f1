import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDemo } from '../../src/cli/demo.js';
import { runDemo } from '../../src/domains/color/demo.js';
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
  it("red's error rises over 1000x under suppression (anchored model) and ablation (isolated model); green, cyan, blue and gray stay under 5e-3", () => {
    for (const run of [demo.suppressed, demo.ablated]) {
      const rows = Object.fromEntries(run.comparison.result.color!.named.map((r) => [r.name, r]));
      expect(rows.red.ratio).toBeGreaterThan(1000);
      for (const name of ['green', 'cyan', 'blue', 'gray']) expect(rows[name].patchedMse, name).toBeLessThan(5e-3);
      expect(run.comparison.result.color!.selectivity).toBeGreaterThan(0.5);
    }
    expect(demo.suppressed.comparison.result.color!.power).toBe(2);
    expect(demo.ablated.comparison.result.color!.power).toBe(3);
  });

  it("builds the paper-format table: 17 colours, baseline MSE and deltas beside the paper's", () => {
    expect(demo.table.map((r) => r.name)).toEqual([
      'red',
      'orange',
      'yellow',
      'lime',
      'green',
      'teal',
      'cyan',
      'azure',
      'blue',
      'purple',
      'magenta',
      'pink',
      'black',
      'dark gray',
      'gray',
      'light gray',
      'white',
    ]);
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
  it('holds the tables and plots (structure), with model paths relative to the report', async () => {
    const html = fs.readFileSync(demo.report, 'utf8');
    for (const plot of ['error-vs-hue', 'error-vs-similarity', 'swatches', 'tap-cosine-bottleneck']) expect(html).toContain(`data-plot="${plot}"`);
    expect(html).toContain('<code>color-anchored-suppressed.onnx</code>');
    expect(html).toContain('<code>color-isolated-ablated.onnx</code>');
    expect(html).not.toContain(dir);
    const generic = renderReport(await compareModels(demo.ablated.model, demo.ablated.path, { data: 'color-cube:2' }));
    expect(generic).toContain('Per colour');
  });

  it.runIf(CHROMIUM || process.env.CI)('renders in headless Chromium: verdict, defined columns, labelled axes, zero markers, side by side', () => {
    expect(CHROMIUM, "CI needs Debian's chromium (apt-get install chromium)").toBeDefined();
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${path.join(dir, 'chromium')}`,
    ];
    // The report has no scripts; a copy with one measures the laid-out page and writes the numbers into the DOM.
    const measure = `<script>addEventListener('load', () => {
      const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, width: r.width }; };
      const out = { sections: [...document.querySelectorAll('section.comparison')].map(box), page: document.documentElement.clientWidth };
      const pre = document.createElement('pre'); pre.id = 'layout'; pre.textContent = JSON.stringify(out); document.body.append(pre);
    });</script>`;
    const probe = path.join(dir, 'probe.html');
    fs.writeFileSync(probe, fs.readFileSync(demo.report, 'utf8').replace('</body>', `${measure}</body>`));
    const dom = execFileSync(CHROMIUM!, [...args, '--window-size=1500,2400', '--dump-dom', `file://${probe}`], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const section = (name: string) => new RegExp(`<section class="comparison" data-comparison="${name} [^"]*">[\\s\\S]*?</section>`).exec(dom)?.[0] ?? '';
    const runs = { Suppression: demo.suppressed, Ablation: demo.ablated };

    for (const [name, run] of Object.entries(runs)) {
      const html = section(name);
      const r = run.comparison.result;
      const cube = run.comparison.detail.cube!;
      const plot = (id: string) => new RegExp(`<svg data-plot="${id}"[\\s\\S]*?</svg>`).exec(html)?.[0] ?? '';

      // Verdict: red's factor, the worst far colour by name, selectivity with its meaning.
      const red = r.color!.named.find((x) => x.name === 'red')!;
      const verdict = /<div class="verdict"[\s\S]*?<\/div>/.exec(html)?.[0] ?? '';
      expect(verdict).toContain(`red removed:</b> its reconstruction error rose <b>${red.ratio!.toFixed(0)}×</b>`);
      const far = r.color!.named.filter((x) =>
        ['green', 'teal', 'cyan', 'azure', 'blue', 'black', 'dark gray', 'gray', 'light gray', 'white'].includes(x.name),
      );
      const worst = far.reduce((a, b) => (b.patchedMse > a.patchedMse ? b : a));
      expect(verdict).toContain(`Worst off-target change:</b> ${worst.name}, MSE`);
      expect(verdict).toContain(`Selectivity ${r.color!.selectivity!.toFixed(3)}:</b>`);
      expect(verdict).toMatch(/1 = damage falls only where colours resemble the concept, 0 = damage unrelated to it/);
      // The paper's selectivity, named as such, with its power and the paper's own number for the same experiment beside ours.
      expect(verdict).toContain(`squared Pearson r`);
      expect(verdict).toContain(`here p = ${r.color!.power}, 8³ grid`);
      expect(verdict).toContain(`best of 60 seeds ${run.paperSelectivity.toFixed(3)}`);

      // Every column header of every table is defined beside it.
      for (const block of html.match(/<div class="table-with-defs">[\s\S]*?<\/dl><\/div>/g)!) {
        const headers = [...block.matchAll(/<th>(.*?)<\/th>/g)].map((m) => m[1]);
        const defined = [...block.matchAll(/<dt>(.*?)<\/dt>/g)].map((m) => m[1]);
        for (const h of headers.slice(1)) expect(defined, `column ${h}`).toContain(h);
      }
      expect(html).toContain('<dt>× intact</dt>');
      expect(html).toContain('<dt>change MSE</dt>');

      // Axes say what they measure, with units.
      for (const svg of html.match(/<svg data-plot[\s\S]*?<\/svg>/g)!) {
        expect(svg).toMatch(/data-axis="x">[^<]+<\/text>/);
        expect(svg).toMatch(/data-axis="y">[^<]+<\/text>/);
      }
      expect(plot('error-vs-hue')).toContain('data-axis="x">hue of the input colour (degrees)<');
      expect(plot('error-vs-hue')).toContain('change MSE, patched vs intact (RGB²');
      expect(plot('tap-cosine-bottleneck')).toContain('data-axis="y">samples (count)<');

      // One mark per cube colour, with a hover title; exact zeros get their own marker, not a floor.
      const zeros = cube.filter((p) => p.change === 0).length;
      for (const id of ['error-vs-hue', 'error-vs-similarity']) {
        const svg = plot(id);
        expect(svg.match(/<circle /g)?.length ?? 0).toBe(512 - zeros);
        expect(svg.match(/data-zero="1"/g)?.length ?? 0).toBe(zeros);
        expect(svg.match(/<title>/g)!.length).toBe(512);
        if (zeros) expect(svg).toContain('>exactly 0</text>');
      }
      expect(plot('tap-cosine-bottleneck').match(/<rect /g)!.length).toBeGreaterThanOrEqual(40);
      expect(html.match(/class="swatch"/g)).toHaveLength(17);
    }
    // Suppression leaves the colours on the far side of the anchor exactly as they were.
    expect(demo.suppressed.comparison.detail.cube!.some((p) => p.change === 0)).toBe(true);

    // Suppression and ablation side by side: same top, two columns across the page.
    const layout = JSON.parse(/<pre id="layout">(.*?)<\/pre>/.exec(dom)![1]) as {
      sections: { left: number; right: number; top: number; width: number }[];
      page: number;
    };
    expect(layout.sections).toHaveLength(2);
    const [a, b] = layout.sections;
    expect(Math.abs(a.top - b.top)).toBeLessThan(2);
    expect(b.left).toBeGreaterThanOrEqual(a.right);
    expect(a.width).toBeGreaterThan(0.3 * layout.page);

    const png = path.join(dir, 'shot.png');
    execFileSync(CHROMIUM!, [...args, '--window-size=1500,2400', `--screenshot=${png}`, `file://${demo.report}`], { timeout: 60_000, stdio: 'ignore' });
    expect(fs.statSync(png).size).toBeGreaterThan(50_000); // a blank page is a few kB
  });
});
