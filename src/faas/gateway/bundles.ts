/**
 * Code upload (a Trellis extension to the OpenFaaS API):
 *  - POST /system/bundles       body: tar.gz of a built bundle (with trellis-bundle.json)
 *                               → 201 {"bundleId","image":"bundle:<id>","runtime","handler"}
 *  - POST /system/builds?name=&lang=&handler=   body: tar.gz of function source
 *                               → 200 NDJSON: {"log":"..."} per build line, then
 *                                 {"bundleId","image","cached"} or {"error":"..."}
 * Bundles live in <dataDir>/bundles/<sha256>/ (the build pipeline's content hash); a
 * deployment refers to one with `"image": "bundle:<sha256>"`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { buildFunction, extractTarGz, readManifest } from '../build/index.js';
import { readBody, sendJson, sendText } from './http-util.js';

const MAX_UPLOAD = 256 * 1024 * 1024;
const HEX64 = /^[a-f0-9]{64}$/;

export async function handleBundleUpload(bundlesDir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gz = await readBody(req, MAX_UPLOAD);
  await fs.mkdir(bundlesDir, { recursive: true });
  const tmp = join(bundlesDir, `.upload-${randomBytes(6).toString('hex')}`);
  try {
    await extractTarGz(gz, tmp);
    let manifest;
    try { manifest = readManifest(tmp); } catch (err) {
      sendText(res, 400, `not a Trellis bundle: ${(err as Error).message}; upload source to POST /system/builds instead`);
      return;
    }
    const id = manifest.sourceHash;
    if (!HEX64.test(id)) { sendText(res, 400, 'not a Trellis bundle: manifest sourceHash is not a sha256'); return; }
    const dir = join(bundlesDir, id);
    const cached = existsSync(dir);
    if (!cached) await fs.rename(tmp, dir);
    sendJson(res, 201, { bundleId: id, image: `bundle:${id}`, runtime: manifest.runtime, handler: manifest.handler, cached });
  } catch (err) {
    sendText(res, 400, `bundle upload failed: ${(err as Error).message}`);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

export async function handleBuild(bundlesDir: string, tmpRoot: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gz = await readBody(req, MAX_UPLOAD);
  const srcDir = join(tmpRoot, `build-${randomBytes(6).toString('hex')}`);
  try {
    try {
      await extractTarGz(gz, srcDir);
    } catch (err) {
      sendText(res, 400, `source upload failed: ${(err as Error).message}`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const name = url.searchParams.get('name') ?? undefined;
    try {
      const result = await buildFunction(srcDir, {
        cacheDir: bundlesDir,
        onLog: (line) => res.write(JSON.stringify({ log: line }) + '\n'),
        lang: url.searchParams.get('lang') ?? undefined,
        handler: url.searchParams.get('handler') ?? undefined,
      });
      res.end(JSON.stringify({
        name, bundleId: result.bundleId, image: `bundle:${result.bundleId}`, cached: result.cached,
        runtime: result.manifest.runtime, handler: result.manifest.handler, durationMs: result.durationMs,
      }) + '\n');
    } catch (err) {
      res.end(JSON.stringify({ name, error: (err as Error).message }) + '\n');
    }
  } finally {
    await fs.rm(srcDir, { recursive: true, force: true });
  }
}
