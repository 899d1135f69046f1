/**
 * Registers tfjs-core's gradient functions. tfjs-core's Node bundle leaves
 * them out, and the ES module files that hold them import siblings without
 * file extensions, which Node's resolver refuses. A resolve hook adds the
 * extension for files under @tensorflow; the registrations land in tfjs's
 * global registry, which every copy of tfjs-core shares.
 */
import { register } from 'node:module';

const HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith('.') && context.parentURL && context.parentURL.includes('/@tensorflow/');
    if (!relative || !/ERR_MODULE_NOT_FOUND|ERR_UNSUPPORTED_DIR_IMPORT/.test(err.code)) throw err;
    try {
      return await next(specifier + '.js', context);
    } catch {
      return next(specifier + '/index.js', context);
    }
  }
}`;

let registered: Promise<unknown> | undefined;

export function registerGradients(): Promise<unknown> {
  if (!registered) {
    register(`data:text/javascript,${encodeURIComponent(HOOK)}`, import.meta.url);
    registered = import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  }
  return registered;
}
