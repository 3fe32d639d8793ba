// Module resolve hook: the parsing library's schemas.js (which downloads the component schemas from the
// account) resolves to offline-schemas.mjs instead. Everything else in the library runs unchanged.
export async function resolve(specifier, context, nextResolve) {
  if (specifier === './schemas.js' && context.parentURL && context.parentURL.includes('/project-parsing-lib/')) {
    return { url: new URL('./offline-schemas.mjs', import.meta.url).href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
