/**
 * Every domain the toolkit ships, registered on import: the library surface
 * (src/index.ts), the CLI and the verbs that read datasets import this.
 */
import './color/index.js';
