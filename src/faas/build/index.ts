/** Build: function source → runnable bundle (and the tar.gz helpers bundles travel in). */
export { buildFunction, runStreamed, type BuildOptions, type BuildResult } from './pipeline.js';
export { detectSource, type Detected } from './detect.js';
export { hashSource, listSourceFiles, isIgnoredSource } from './source-hash.js';
export { MANIFEST_FILE, LANGS, normaliseLang, readManifest, type BundleManifest, type FunctionLang } from './manifest.js';
export { packDir, packEntries, unpackEntries, extractTarGz, safeRelPath, walkDir, type TarEntry } from './tar.js';
