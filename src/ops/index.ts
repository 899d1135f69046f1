/** The op registry: op behaviours, weight mappings, export patterns and refusal messages. */
export * from './lookup.js';
export * from './registry.js';
export * from './weights.js';
export * from './patterns.js';
export * from './refusals.js';
export * from './step.js';
export * from './outputs.js';
