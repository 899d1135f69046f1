/**
 * Runs one `sca` command in this process, then prints its wall time and peak
 * resident memory as JSON on the last line. The benchmark starts it as a
 * child so each measurement has a fresh process.
 *
 *   node dist/bench/measure.js patch big.onnx -o out.onnx ...
 *   node dist/bench/measure.js --copy SRC DST [SRC2 DST2]   (the I/O floor)
 */
import fs from 'node:fs';
import { main } from '../src/cli.js';

const args = process.argv.slice(2);
const started = performance.now();
let code = 0;
if (args[0] === '--copy') {
  for (let i = 1; i + 1 < args.length; i += 2) fs.copyFileSync(args[i], args[i + 1]);
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
