/**
 * The shipped red-anchored colour model that the probe tests measure: one
 * place to change when the shipped model is renamed or retrained. The latent
 * comes from the model's own manifest.
 */
import { findAnchor } from '../../src/anchors/manifest.js';
import { loadModel } from '../../src/onnx/model.js';

export const COLOR_MODEL = new URL('../../models/color-isolated.onnx', import.meta.url).pathname;
/** The tensor where red is anchored. */
export const COLOR_LATENT = findAnchor(loadModel(COLOR_MODEL).proto, 'red').tensor;
/** Output of the decoder's first hidden layer (after its GELU). */
export const COLOR_DECODER_HIDDEN = '/decoder.0/gelu/Mul_1_output_0';
