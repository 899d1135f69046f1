/**
 * The colour domain: the paper's colour autoencoders. Loading this module
 * registers it with compare, the report and the terminal tables
 * (eval/domain.ts) and registers the `color-cube[:N]` dataset
 * (data/datasets.ts).
 */
import { registerDatasetSource } from '../../data/datasets.js';
import { registerDomain, type Domain } from '../../eval/domain.js';
import { analyseColors } from './analysis.js';
import { colorCubeSource } from './dataset.js';
import { NAMED_COLORS } from './palette.js';
import { colorSections, colorText, colorVerdictItems } from './report.js';

export const colorDomain: Domain = {
  name: 'color',
  emptyResult: () => ({ color: null }),
  groupOrder: Object.keys(NAMED_COLORS),
  analyse: analyseColors,
  owns: (result) => result.color != null,
  verdictItems: colorVerdictItems,
  sections: colorSections,
  groupDefinition: 'the named colour nearest to each sample of the cube',
  text: colorText,
};

registerDatasetSource(colorCubeSource);
registerDomain(colorDomain);
