/**
 * Loads a handler module, synchronously where Node allows it. Node 20.19+ can require() an
 * ES module: the files are read and the module linked and run in this thread, where import()
 * goes through the loader's asynchronous file reads (a thread-pool round trip each), about a
 * millisecond more on a cold start. A module that needs import() (top-level await, or a Node
 * without require(esm)) is imported as before. Either way the caller gets what import() would
 * give: the namespace of an ES module; for CommonJS, `default` = module.exports.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { types } from 'node:util';

const requireHere = createRequire(import.meta.url);

/** Errors raised before any of the module's code ran, so importing it instead is safe. */
const RETRY_WITH_IMPORT = new Set(['ERR_REQUIRE_ASYNC_MODULE', 'ERR_REQUIRE_ESM']);

export async function loadModule(path: string): Promise<Record<string, unknown>> {
  let loaded: unknown;
  try {
    loaded = requireHere(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (!(typeof code === 'string' && RETRY_WITH_IMPORT.has(code)) && !(err instanceof SyntaxError)) throw err;
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  const exp = loaded as Record<string, unknown> | null;
  // A namespace; or an ES module compiled to CommonJS (TypeScript, or a require hook like tsx's).
  if (types.isModuleNamespaceObject(loaded) || (typeof exp === 'object' && exp !== null && exp.__esModule === true)) return exp!;
  return { default: loaded, handle: exp?.handle, handler: exp?.handler };
}
