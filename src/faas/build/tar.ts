/**
 * A small ustar writer/reader (regular files and directories only) plus gzip, for moving
 * bundles and sources between the CLI and the gateway. Extraction is defensive: absolute
 * paths, `..` segments, links and oversized archives are refused, so an upload can never
 * write outside its target directory.
 */
import { promises as fs } from 'node:fs';
import { join, posix, resolve, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const BLOCK = 512;

export interface TarEntry { path: string; mode: number; data?: Buffer; dir?: boolean }

export interface PackOptions {
  /** Relative paths (posix) to leave out; a directory name drops its whole subtree. */
  exclude?: (relPath: string, isDir: boolean) => boolean;
}

/** Lists a directory's files and dirs (relative posix paths, sorted; symlinks followed to files only). */
export async function walkDir(root: string, opts: PackOptions = {}): Promise<{ path: string; dir: boolean; mode: number }[]> {
  const out: { path: string; dir: boolean; mode: number }[] = [];
  const visit = async (rel: string): Promise<void> => {
    const names = (await fs.readdir(join(root, rel))).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const st = await fs.stat(join(root, childRel)).catch(() => null);
      if (!st) continue; // dangling link
      const isDir = st.isDirectory();
      if (!isDir && !st.isFile()) continue;
      if (opts.exclude?.(childRel, isDir)) continue;
      out.push({ path: childRel, dir: isDir, mode: st.mode & 0o777 });
      if (isDir) await visit(childRel);
    }
  };
  await visit('');
  return out;
}

/** Packs a directory into a gzipped tar. */
export async function packDir(root: string, opts: PackOptions = {}): Promise<Buffer> {
  const entries: TarEntry[] = [];
  for (const e of await walkDir(root, opts)) {
    entries.push(e.dir ? { path: e.path, mode: e.mode, dir: true } : { path: e.path, mode: e.mode, data: await fs.readFile(join(root, e.path)) });
  }
  return gzipSync(packEntries(entries));
}

/** Builds an uncompressed tar from entries. */
export function packEntries(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const name = e.dir ? `${e.path.replace(/\/$/, '')}/` : e.path;
    const data = e.dir ? Buffer.alloc(0) : (e.data ?? Buffer.alloc(0));
    if (Buffer.byteLength(name) > 100) {
      // PAX extended header carries the long path.
      const rec = paxRecord('path', name);
      parts.push(header('././@PaxHeader', 0o644, rec.length, 'x'), padded(rec));
    }
    parts.push(header(truncateName(name), e.mode, data.length, e.dir ? '5' : '0'), padded(data));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function truncateName(name: string): string {
  const b = Buffer.from(name);
  return b.length <= 100 ? name : b.subarray(0, 100).toString('latin1');
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  let total = len + String(len).length;
  if (String(total).length !== String(len).length) total = len + String(total).length;
  return Buffer.from(`${total}${body}`);
}

function padded(b: Buffer): Buffer {
  const rest = b.length % BLOCK;
  return rest === 0 ? b : Buffer.concat([b, Buffer.alloc(BLOCK - rest)]);
}

function header(name: string, mode: number, size: number, type: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  writeOctal(h, mode & 0o7777, 100, 8);
  writeOctal(h, 0, 108, 8);
  writeOctal(h, 0, 116, 8);
  writeOctal(h, size, 124, 12);
  writeOctal(h, 0, 136, 12); // mtime 0: identical input gives identical bytes
  h.fill(0x20, 148, 156);
  h.write(type, 156, 1, 'latin1');
  h.write('ustar\u000000', 257, 8, 'latin1');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  writeOctal(h, sum, 148, 7);
  return h;
}

function writeOctal(buf: Buffer, value: number, off: number, len: number): void {
  buf.write(value.toString(8).padStart(len - 1, '0') + '\u0000', off, len, 'latin1');
}

function readString(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function readOctal(buf: Buffer, off: number, len: number): number {
  const s = readString(buf, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

export interface ExtractLimits { maxBytes?: number; maxEntries?: number }

/** Parses an uncompressed tar into entries, validating every path. */
export function unpackEntries(tar: Buffer, limits: ExtractLimits = {}): TarEntry[] {
  const maxEntries = limits.maxEntries ?? 100_000;
  const out: TarEntry[] = [];
  let off = 0;
  let paxPath: string | undefined;
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    if (sum !== readOctal(h, 148, 8)) throw new Error(`bad tar: header checksum mismatch at byte ${off}`);
    const type = String.fromCharCode(h[156] || 0x30);
    const size = readOctal(h, 124, 12);
    const dataStart = off + BLOCK;
    if (dataStart + size > tar.length) throw new Error('bad tar: truncated entry');
    const data = tar.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') { paxPath = parsePax(data).path ?? paxPath; continue; }
    if (type === 'L') { paxPath = readString(data, 0, data.length); continue; } // GNU long name
    if (type === 'g' || type === 'K') continue;
    const prefix = readString(h, 345, 155);
    const rawName = paxPath ?? (prefix ? `${prefix}/${readString(h, 0, 100)}` : readString(h, 0, 100));
    paxPath = undefined;
    const path = safeRelPath(rawName);
    if (type === '5') { if (path) out.push({ path, mode: readOctal(h, 100, 8) || 0o755, dir: true }); }
    else if (type === '0' || type === '7') { if (!path) throw new Error('bad tar: file entry without a name'); out.push({ path, mode: readOctal(h, 100, 8) || 0o644, data: Buffer.from(data) }); }
    else throw new Error(`bad tar: entry "${rawName}" has unsupported type "${type}" (only files and directories)`);
    if (out.length > maxEntries) throw new Error(`bad tar: more than ${maxEntries} entries`);
  }
  return out;
}

function parsePax(data: Buffer): Record<string, string> {
  const res: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space === -1) break;
    const len = parseInt(data.toString('latin1', off, space), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', space + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) res[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return res;
}

/** Normalises an archive path; throws for anything that could leave the target directory. */
export function safeRelPath(raw: string): string {
  const p = raw.replace(/\\/g, '/');
  if (p.startsWith('/') || /^[a-zA-Z]:/.test(p)) throw new Error(`bad tar: absolute path "${raw}"`);
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.some((s) => s === '..')) throw new Error(`bad tar: path "${raw}" leaves the archive root`);
  if (parts.some((s) => s.includes('\u0000'))) throw new Error(`bad tar: path "${raw}" contains NUL`);
  return posix.join(...(parts.length ? parts : ['.'])).replace(/^\.$/, '');
}

/** Gunzips and extracts into dir (created). Returns the number of files written. */
export async function extractTarGz(gz: Buffer, dir: string, limits: ExtractLimits = {}): Promise<number> {
  const maxBytes = limits.maxBytes ?? 512 * 1024 * 1024;
  let tar: Buffer;
  try { tar = gunzipSync(gz, { maxOutputLength: maxBytes }); }
  catch (e) { throw new Error(`bad archive: not a gzip stream within ${maxBytes} bytes (${(e as Error).message})`); }
  const entries = unpackEntries(tar, limits);
  const root = resolve(dir);
  await fs.mkdir(root, { recursive: true });
  let files = 0;
  for (const e of entries) {
    const target = resolve(root, e.path);
    if (target !== root && !target.startsWith(root + sep)) throw new Error(`bad tar: path "${e.path}" leaves the target`);
    if (e.dir) { await fs.mkdir(target, { recursive: true }); continue; }
    await fs.mkdir(resolve(target, '..'), { recursive: true });
    await fs.writeFile(target, e.data ?? Buffer.alloc(0), { mode: (e.mode & 0o755) | 0o600 });
    files++;
  }
  return files;
}
