/**
 * Cost of fitting LEACE at width D, in a fresh process so its peak RSS is its
 * own; prints JSON on the last line. `--baseline` times ml-matrix's D x D
 * matrix product instead (the same library's other O(D³) operation).
 *
 *   node dist/bench/leace.js 4096 [--baseline | --eigen-only]
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { covariance, fitLeace } from '../src/anchors/fromData.js';
import { columnMeans, type Features } from '../src/maths/features.js';
import { Random } from '../src/maths/random.js';

const d = Number(process.argv[2] ?? 512);
const rows = d + 256;
const r = new Random(1);
const data = new Float32Array(rows * d);
const labels = new Int32Array(rows);
for (let i = 0; i < rows; i++) {
  labels[i] = r.int(2);
  for (let j = 0; j < d; j++) data[i * d + j] = r.normal() + (j === 0 ? labels[i] : 0);
}
const x: Features = { rows, width: d, data };
const result: Record<string, number> = { d, rows };
if (process.argv.includes('--baseline')) {
  const a = Matrix.rand(d, d);
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  a.mmul(a);
  result.mmulSeconds = (performance.now() - t0) / 1000;
  result.mmulCpuSeconds = process.cpuUsage(cpu).user / 1e6;
} else {
  let t0 = performance.now();
  const sigma = covariance(x, columnMeans(x));
  result.covarianceSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const cpu = process.cpuUsage();
  new EigenvalueDecomposition(Matrix.from1DArray(d, d, sigma), { assumeSymmetric: true });
  result.eigenSeconds = (performance.now() - t0) / 1000;
  // CPU time as well: on a shared machine it moves far less than wall time.
  result.eigenCpuSeconds = process.cpuUsage(cpu).user / 1e6;
  if (!process.argv.includes('--eigen-only')) {
    t0 = performance.now();
    fitLeace(x, labels, 2);
    result.fitSeconds = (performance.now() - t0) / 1000;
  }
}
result.maxRssBytes = Number(/VmHWM:\s+(\d+) kB/.exec(await import('node:fs').then((fs) => fs.readFileSync('/proc/self/status', 'utf8')))?.[1] ?? 0) * 1024;
console.log(JSON.stringify(result));
