/**
 * Durable state of the function platform: function definitions and secrets, in one SQLite
 * file inside the data directory (better-sqlite3: synchronous, so every write is on disk
 * before the API answers).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FunctionRecord } from '../types.js';

export interface SecretRecord { name: string; value: string; createdAt: string; updatedAt: string }

export interface FunctionStore {
  listFunctions(): FunctionRecord[];
  getFunction(name: string): FunctionRecord | undefined;
  /** Inserts or replaces the whole record. */
  putFunction(fn: FunctionRecord): void;
  deleteFunction(name: string): boolean;
  setReplicas(name: string, replicas: number): boolean;
  listSecrets(): SecretRecord[];
  getSecret(name: string): SecretRecord | undefined;
  putSecret(name: string, value: string): void;
  deleteSecret(name: string): boolean;
  close(): void;
}

interface FunctionRow { name: string; spec: string; bundle_id: string | null; created_at: string; updated_at: string; replicas: number; version: number }
interface SecretRow { name: string; value: string; created_at: string; updated_at: string }

export function openSqliteStore(dataDir: string, fileName = 'trellis.db'): FunctionStore {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, fileName));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS functions (
      name TEXT PRIMARY KEY, spec TEXT NOT NULL, bundle_id TEXT,
      created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
      replicas INTEGER NOT NULL, version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS secrets (
      name TEXT PRIMARY KEY, value TEXT NOT NULL,
      created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  `);
  const q = {
    listFns: db.prepare<[], FunctionRow>('SELECT * FROM functions ORDER BY name'),
    getFn: db.prepare<[string], FunctionRow>('SELECT * FROM functions WHERE name = ?'),
    putFn: db.prepare(`INSERT INTO functions (name, spec, bundle_id, created_at, updated_at, replicas, version)
      VALUES (@name, @spec, @bundle_id, @created_at, @updated_at, @replicas, @version)
      ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, bundle_id = excluded.bundle_id,
        updated_at = excluded.updated_at, replicas = excluded.replicas, version = excluded.version`),
    delFn: db.prepare('DELETE FROM functions WHERE name = ?'),
    scaleFn: db.prepare('UPDATE functions SET replicas = ? WHERE name = ?'),
    listSecrets: db.prepare<[], SecretRow>('SELECT * FROM secrets ORDER BY name'),
    getSecret: db.prepare<[string], SecretRow>('SELECT * FROM secrets WHERE name = ?'),
    putSecret: db.prepare(`INSERT INTO secrets (name, value, created_at, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
    delSecret: db.prepare('DELETE FROM secrets WHERE name = ?'),
  };
  const toRecord = (r: FunctionRow): FunctionRecord => ({
    name: r.name, spec: JSON.parse(r.spec), ...(r.bundle_id ? { bundleId: r.bundle_id } : {}),
    createdAt: r.created_at, updatedAt: r.updated_at, replicas: r.replicas, version: r.version,
  });
  const toSecret = (r: SecretRow): SecretRecord => ({ name: r.name, value: r.value, createdAt: r.created_at, updatedAt: r.updated_at });
  return {
    listFunctions: () => q.listFns.all().map(toRecord),
    getFunction: (name) => { const r = q.getFn.get(name); return r ? toRecord(r) : undefined; },
    putFunction: (fn) => {
      q.putFn.run({ name: fn.name, spec: JSON.stringify(fn.spec), bundle_id: fn.bundleId ?? null,
        created_at: fn.createdAt, updated_at: fn.updatedAt, replicas: fn.replicas, version: fn.version });
    },
    deleteFunction: (name) => q.delFn.run(name).changes > 0,
    setReplicas: (name, replicas) => q.scaleFn.run(replicas, name).changes > 0,
    listSecrets: () => q.listSecrets.all().map(toSecret),
    getSecret: (name) => { const r = q.getSecret.get(name); return r ? toSecret(r) : undefined; },
    putSecret: (name, value) => { const now = new Date().toISOString(); q.putSecret.run(name, value, now, now); },
    deleteSecret: (name) => q.delSecret.run(name).changes > 0,
    close: () => db.close(),
  };
}
