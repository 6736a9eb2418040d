/**
 * The NATS JetStream driver. Jobs live in a work-queue stream (subject `<prefix>.<fn>`),
 * consumed through one durable pull consumer with explicit acks, ack_wait and max_deliver;
 * the job is acked only after it is finished. Status and results live in a KV bucket, so
 * any gateway on the same JetStream answers status queries. Failed and dead jobs are also
 * copied to a dead-letter stream (`<prefix>-dead.<callId>`) from which they can be re-driven.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  headers as natsHeaders, type JetStreamClient, type JetStreamManager, type JsMsg, type KV, type NatsConnection,
} from 'nats';
import {
  type AsyncQueue, type CallbackState, type EnqueueInput, type EnqueueResult, type FinalStatus, type Job,
  type JobOutcome, type JobState, type JobStatus, type QueueCommonOptions, type Reservation,
} from './types.js';
import { nowNs } from './codec.js';
import { decodeJob, decodeState, encodeJob, encodeState } from './nats-codec.js';
import { isTransient, openJetStream, type NatsNames, type NatsQueueOptions } from './nats-setup.js';

export type { NatsQueueOptions };

const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'dead']);

export class NatsQueue implements AsyncQueue {
  readonly driver = 'nats' as const;
  private readonly leases = new Map<string, { msg: JsMsg; state: JobState }>();
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly idem: KV,
    private readonly names: NatsNames,
    private readonly opts: Required<QueueCommonOptions> & { opTimeoutMs: number },
  ) {}

  static async connect(o: NatsQueueOptions): Promise<NatsQueue> {
    const j = await openJetStream(o);
    return new NatsQueue(j.nc, j.js, j.jsm, j.kv, j.idem, j.names, j.opts);
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    this.assertOpen();
    const fresh = input.callId ?? randomUUID();
    if (input.idempotencyKey === undefined) {
      await this.store(input, fresh, fresh);
      return { callId: fresh, duplicate: false };
    }
    const key = createHash('sha256').update(input.idempotencyKey).digest('hex');
    const msgId = `idem-${key}`;
    const first = await this.op(async () => {
      try {
        await this.idem.create(key, Buffer.from(fresh));
        return undefined;
      } catch {
        const e = await this.idem.get(key);
        if (e && e.operation === 'PUT') return Buffer.from(e.value).toString();
        await this.idem.put(key, Buffer.from(fresh));
        return undefined;
      }
    });
    if (first !== undefined) {
      const prev = await this.status(first);
      if (prev && !(prev.status === 'queued' && prev.attempts === 0)) return { callId: first, duplicate: true };
      // The first submission may have failed half-way (no job published, e.g. the server went
      // away): store this copy under the first call id. JetStream drops it (same Nats-Msg-Id)
      // if the first one was stored, and a finished job is never run again (see claim).
      await this.store(input, first, msgId);
      return { callId: first, duplicate: true };
    }
    try {
      await this.store(input, fresh, msgId);
    } catch (err) {
      await this.idem.delete(key).catch(() => undefined);
      throw err;
    }
    return { callId: fresh, duplicate: false };
  }

  /** Status record first, then the job; a failed publish removes the record (best effort). */
  private async store(input: EnqueueInput, callId: string, msgId: string): Promise<void> {
    const job: Job = {
      callId, fn: input.fn, request: input.request, maxAttempts: input.maxAttempts ?? this.opts.defaultMaxAttempts,
      enqueuedAt: Date.now(), startTimeNs: input.startTimeNs ?? nowNs(),
      ...(input.callbackUrl ? { callbackUrl: input.callbackUrl } : {}),
    };
    const state: JobState = {
      callId, fn: job.fn, status: 'queued', attempts: 0, maxAttempts: job.maxAttempts, enqueuedAt: job.enqueuedAt,
      ...(job.callbackUrl ? { callbackUrl: job.callbackUrl } : {}),
    };
    await this.op(() => this.kv.put(callId, encodeState(state)));
    try {
      await this.publishJob(job, msgId);
    } catch (err) {
      await this.kv.delete(callId).catch(() => undefined);
      throw err;
    }
  }

  async reserve(max: number, waitMs: number): Promise<Reservation[]> {
    this.assertOpen();
    let msgs = await this.fetch(max, 0);
    if (msgs.length === 0 && waitMs > 0) msgs = await this.fetch(1, waitMs);
    // Claims run in parallel (a KV read and write each); order is kept.
    const claimed = await Promise.all(msgs.map((m) => this.claim(m).catch(() => undefined)));
    return claimed.filter((r): r is Reservation => r !== undefined);
  }

  /** Turns a delivered message into a reservation, or settles it when it needs no run. */
  private async claim(msg: JsMsg): Promise<Reservation | undefined> {
    const job = decodeJob(msg.headers, msg.data);
    if (!job) { msg.term(); return undefined; }
    const prev = await this.op(() => this.kv.get(job.callId)).then((e) => (e && e.operation === 'PUT' ? decodeState(e.value) : undefined));
    if (prev && TERMINAL.has(prev.status)) { msg.ack(); return undefined; }
    const now = Date.now();
    const base: JobState = prev ?? {
      callId: job.callId, fn: job.fn, status: 'queued', attempts: 0, maxAttempts: job.maxAttempts, enqueuedAt: job.enqueuedAt,
      ...(job.callbackUrl ? { callbackUrl: job.callbackUrl } : {}),
    };
    const attempt = base.attempts + 1;
    if (attempt > job.maxAttempts) {
      // Redelivered after its last attempt's lease ran out: a crash loop, dead-letter it.
      await this.settle(msg, job, { ...base, status: 'dead', finishedAt: now, lastError: 'lease expired on the last attempt' });
      return undefined;
    }
    const state: JobState = { ...base, status: 'running', attempts: attempt, startedAt: now };
    delete state.nextAttemptAt;
    await this.op(() => this.kv.put(job.callId, encodeState(state)));
    const token = randomUUID();
    this.leases.set(token, { msg, state });
    return { job, attempt, token };
  }

  async extend(r: Reservation): Promise<void> {
    this.leases.get(r.token)?.msg.working();
  }

  async finish(r: Reservation, status: FinalStatus, outcome: JobOutcome, callback?: CallbackState): Promise<void> {
    const lease = this.take(r);
    if (!lease) return;
    const state: JobState = {
      ...lease.state, status, finishedAt: Date.now(), result: outcome,
      ...(failureText(outcome) ? { lastError: failureText(outcome) } : {}),
      ...(callback ? { callback } : {}),
    };
    await this.settle(lease.msg, r.job, state);
  }

  async nack(r: Reservation, delayMs: number, outcome?: JobOutcome): Promise<'queued' | 'dead'> {
    if (r.attempt >= r.job.maxAttempts) {
      const lease = this.take(r);
      if (!lease) return 'dead';
      const state: JobState = { ...lease.state, status: 'dead', finishedAt: Date.now(), ...(outcome ? { result: outcome } : {}) };
      const why = outcome && failureText(outcome);
      if (why) state.lastError = why;
      await this.settle(lease.msg, r.job, state);
      return 'dead';
    }
    const lease = this.take(r);
    if (!lease) return 'queued';
    const state: JobState = { ...lease.state, status: 'queued', nextAttemptAt: Date.now() + delayMs, ...(outcome ? { result: outcome } : {}) };
    const why = outcome && failureText(outcome);
    if (why) state.lastError = why;
    await this.op(() => this.kv.put(r.job.callId, encodeState(state)));
    lease.msg.nak(Math.max(0, Math.round(delayMs)));
    return 'queued';
  }

  async release(r: Reservation, delayMs: number): Promise<void> {
    const lease = this.take(r);
    if (!lease) return;
    const state: JobState = { ...lease.state, status: 'queued', attempts: Math.max(0, lease.state.attempts - 1) };
    await this.op(() => this.kv.put(r.job.callId, encodeState(state)));
    lease.msg.nak(Math.max(0, Math.round(delayMs)));
  }

  async status(callId: string): Promise<JobState | undefined> {
    if (!isKvKey(callId)) return undefined;
    const e = await this.op(() => this.kv.get(callId));
    return e && e.operation === 'PUT' ? decodeState(e.value) : undefined;
  }

  async list(filter: { status?: JobStatus; limit?: number } = {}): Promise<JobState[]> {
    const limit = Math.max(1, Math.min(filter.limit ?? 100, 10_000));
    let ids: string[];
    if (filter.status === 'dead' || filter.status === 'failed') {
      const info = await this.op(() => this.jsm.streams.info(this.names.dead, { subjects_filter: `${this.names.prefix}-dead.>` }));
      const cut = this.names.prefix.length + '-dead.'.length;
      ids = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(cut));
    } else {
      ids = [];
      const keys = await this.op(() => this.kv.keys());
      for await (const k of keys) ids.push(k);
    }
    const out: JobState[] = [];
    for (const id of ids) {
      const s = await this.status(id);
      if (s && (!filter.status || s.status === filter.status)) out.push(s);
    }
    out.sort((a, b) => a.enqueuedAt - b.enqueuedAt);
    return out.slice(0, limit);
  }

  async retry(callId: string): Promise<boolean> {
    const state = await this.status(callId);
    if (!state || (state.status !== 'dead' && state.status !== 'failed')) return false;
    const subject = `${this.names.prefix}-dead.${callId}`;
    const stored = await this.op(() => this.jsm.streams.getMessage(this.names.dead, { last_by_subj: subject })).catch(() => undefined);
    const job = stored && decodeJob(stored.header, stored.data);
    if (!job) return false;
    const queued: JobState = { ...state, status: 'queued', attempts: 0 };
    delete queued.finishedAt;
    delete queued.nextAttemptAt;
    delete queued.callback;
    await this.op(() => this.kv.put(callId, encodeState(queued)));
    await this.publishJob(job, `${callId}.retry.${randomUUID()}`);
    await this.op(() => this.jsm.streams.purge(this.names.dead, { filter: subject }));
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leases.clear();
    // drain() waits for the server; when it is gone (reconnecting forever) just close.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.nc.drain().catch(() => undefined), new Promise((r) => { timer = setTimeout(r, 2000); })]);
    clearTimeout(timer);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
  }

  /** Writes the final state, keeps failed/dead jobs re-drivable, then acks (in that order). */
  private async settle(msg: JsMsg, job: Job, state: JobState): Promise<void> {
    if (state.status === 'dead' || state.status === 'failed') {
      const h = natsHeaders();
      const payload = encodeJob(job, h);
      await this.op(() => this.js.publish(`${this.names.prefix}-dead.${job.callId}`, payload, { headers: h }));
    }
    await this.op(() => this.kv.put(job.callId, encodeState(state)));
    // If the ack is lost the job is redelivered, seen as finished, and acked then.
    await msg.ackAck().catch(() => false);
  }

  private async publishJob(job: Job, msgID: string): Promise<void> {
    const h = natsHeaders();
    const payload = encodeJob(job, h);
    await this.op(() => this.js.publish(`${this.names.prefix}.${job.fn}`, payload, { headers: h, msgID }));
  }

  private async fetch(max: number, waitMs: number): Promise<JsMsg[]> {
    const out: JsMsg[] = [];
    const opts = waitMs > 0 ? { batch: max, expires: Math.max(1000, waitMs) } : { batch: max, no_wait: true };
    // A pull request lost in a server restart never gets its answer (no_wait has no client
    // timer): stop waiting on our own clock. Messages delivered after that are redelivered.
    const it = this.js.fetch(this.names.stream, this.names.durable, opts);
    const guard = setTimeout(() => it.stop(), (waitMs > 0 ? Math.max(1000, waitMs) : 0) + 2000);
    try {
      for await (const m of it) out.push(m);
    } catch (err) {
      if (out.length === 0 && !this.closed) {
        // Server away (restart): let the caller poll again shortly instead of spinning.
        await new Promise((r) => setTimeout(r, 200));
        if (!isTransient(err)) throw err;
      }
    } finally {
      clearTimeout(guard);
    }
    return out;
  }

  private take(r: Reservation) {
    const lease = this.leases.get(r.token);
    this.leases.delete(r.token);
    return lease;
  }

  /** Runs a JetStream operation, retrying transient failures (server restarting) for a while. */
  private async op<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.opts.opTimeoutMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await fn();
      } catch (err) {
        if (this.closed || !isTransient(err) || Date.now() + delay > deadline) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('async queue is closed');
  }
}

function failureText(o: JobOutcome): string | undefined {
  if (o.error) return o.error;
  return o.statusCode >= 200 && o.statusCode < 300 ? undefined : `function returned ${o.statusCode}`;
}

/** KV keys allow [-/_=.a-zA-Z0-9]; call ids are validated to that alphabet by the API. */
function isKvKey(s: string): boolean {
  return /^[-_=.a-zA-Z0-9]{1,200}$/.test(s) && !s.startsWith('.') && !s.endsWith('.');
}

