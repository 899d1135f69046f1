/**
 * Runs one `sca` command in this process, then prints its wall time and peak
 * resident memory as JSON on the last line. The benchmark starts it as a
 * child so each measurement has a fresh process.
 *
 *   node dist/bench/measure.js patch big.onnx -o out.onnx ...
 *   node dist/bench/measure.js --copy SRC DST [SRC2 DST2]   (the I/O floor)
 *   node dist/bench/measure.js --copy-folder SRC DST        (the same for a model folder)
 *   node dist/bench/measure.js --ort-run MODEL DATA         (onnxruntime alone running MODEL on DATA)
 */
import fs from 'node:fs';
import { main } from '../src/cli.js';

const args = process.argv.slice(2);
const started = performance.now();
let code = 0;
if (args[0] === '--copy') {
  for (let i = 1; i + 1 < args.length; i += 2) fs.copyFileSync(args[i], args[i + 1]);
} else if (args[0] === '--copy-folder') {
  fs.cpSync(args[1], args[2], { recursive: true });
} else if (args[0] === '--ort-run') {
  // What onnxruntime itself needs to run the file on the data: the floor for any command that runs it.
  const { loadDataset, requiredInputs, sampleFeeds } = await import('../src/data/datasets.js');
  const { loadModel } = await import('../src/onnx/model.js');
  const { openSession } = await import('../src/runtime/session.js');
  const dataset = loadDataset(args[2], requiredInputs(loadModel(args[1]).proto.graph!));
  const session = await openSession(args[1]);
  await session.run(sampleFeeds(dataset, 0, dataset.samples));
  await session.release();
} else {
  code = await main(args, { out: () => {}, err: (t) => process.stderr.write(t) });
}
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ code, seconds, maxRssBytes: peakRss() }));

/**
 * Peak resident memory of this process. getrusage's maxRSS survives
 * fork+exec, so a child would report its parent's peak; VmHWM belongs to the
 * address space exec made, so it is this program's own.
 */
function peakRss(): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
