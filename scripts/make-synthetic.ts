/**
 * Writes a synthetic transformer-like model of a chosen size:
 *
 *   node dist/scripts/make-synthetic.js OUT.onnx --size 1GB [--dim 2048] [--external]
 */
import { Command } from 'commander';
import { layersFor, parseSize, writeSyntheticModel } from './synthetic.js';

const program = new Command('make-synthetic')
  .argument('<out>', 'model file to write')
  .option('--size <size>', 'approximate weight bytes (100MB, 1GB, 3GB)', '100MB')
  .option('--dim <d>', 'hidden width D', '2048')
  .option('--vocab <v>', 'embedding rows', '1024')
  .option('--external', 'keep weights in <out>.data (needed past 2 GB)')
  .action((out: string, opts: { size: string; dim: string; vocab: string; external?: boolean }) => {
    const dim = Number(opts.dim);
    const vocab = Number(opts.vocab);
    const layers = layersFor(parseSize(opts.size), dim, vocab);
    const started = performance.now();
    const bytes = writeSyntheticModel(out, { dim, layers, vocab, external: opts.external });
    console.log(`wrote ${out}: ${layers} blocks, D=${dim}, ${(bytes / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });

program.parse();
