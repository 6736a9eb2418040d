/**
 * Who may take back a sqlite lease early: a store that opens reclaims the leases of processes
 * that are gone (a crashed gateway) at once, but never those of a live process (a standalone
 * `trellis async worker` sharing the data directory), and a store that closes gives its own back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { SqliteStore, type SqliteStoreOptions } from '../../src/faas/queue/sqlite-store.js';

function options(t: { after(fn: () => void): void }): SqliteStoreOptions {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-leases-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A long ack wait: anything delivered again within a test was reclaimed, not expired.
  return { file: join(dir, 'q.db'), enqueueSync: 'normal', ackWaitMs: 600_000, resultTtlMs: 600_000, idempotencyWindowMs: 600_000, defaultMaxAttempts: 5 };
}

function enqueue(o: SqliteStoreOptions, body: string): string {
  const s = new SqliteStore(o);
  const [r] = s.enqueueBatch([{ fn: 'f', request: { method: 'POST', path: '/', query: '', headers: {}, body: Buffer.from(body) } }]);
  s.close();
  assert.ok(r && 'callId' in r);
  return r.callId;
}

/** A second process that opens the store, takes one job and holds it until killed. */
async function holdInAnotherProcess(o: SqliteStoreOptions) {
  const src = `
    import { SqliteStore } from './src/faas/queue/sqlite-store.ts';
    const s = new SqliteStore(JSON.parse(process.argv[1]));
    const taken = s.take(1);
    console.log(JSON.stringify(taken.map((r) => r.job.callId)));
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', src, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(createInterface({ input: child.stdout! }), 'line') as [string];
  return { taken: JSON.parse(line) as string[], child };
}

test('a live process keeps its lease when another store opens; once it is gone the job is taken back at once', { timeout: 60_000 }, async (t) => {
  const o = options(t);
  const callId = enqueue(o, 'held');
  const { taken, child } = await holdInAnotherProcess(o);
  t.after(() => { child.kill('SIGKILL'); });
  assert.deepEqual(taken, [callId]);

  const beside = new SqliteStore(o);
  assert.deepEqual(beside.take(10), [], 'a job leased by a live process was offered again');
  beside.close();

  child.kill('SIGKILL');
  await once(child, 'exit');
  const after = new SqliteStore(o);
  const again = after.take(10);
  after.close();
  assert.equal(again.length, 1, 'the dead process\'s lease was not taken back');
  assert.equal(again[0]!.job.callId, callId);
  assert.equal(again[0]!.attempt, 2, 'the first attempt still counts');
});

test('a store that closes gives back the leases it still holds; leases without an owner count as orphaned', (t) => {
  const o = options(t);
  const first = enqueue(o, 'a');
  const second = enqueue(o, 'b');
  const a = new SqliteStore(o);
  assert.equal(a.take(2).length, 2);
  // Another store of this same process, still open, keeps its leases.
  const b = new SqliteStore(o);
  assert.deepEqual(b.take(10), []);
  a.close();
  assert.deepEqual(b.take(10).map((r) => [r.job.callId, r.attempt]), [[first, 2], [second, 2]]);
  b.close();

  // Rows leased before owners were recorded (an older data directory).
  const c = new SqliteStore(o);
  assert.equal(c.take(10).length, 2);
  const db = new Database(o.file);
  db.prepare(`UPDATE jobs SET lease_owner = NULL, lease_until = ? WHERE status = 'running'`).run(Date.now() + 600_000);
  db.close();
  const d = new SqliteStore(o);
  assert.equal(d.take(10).length, 2, 'ownerless leases were not reclaimed');
  d.close();
  c.close();
});
