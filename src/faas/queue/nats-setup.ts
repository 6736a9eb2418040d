/**
 * Connects to NATS and provisions what the JetStream driver uses: the work-queue stream, the
 * dead-letter stream, the shared durable pull consumer and the two KV buckets (idempotent:
 * several gateways run this against one JetStream).
 */
import {
  AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, connect, nanos,
  type JetStreamClient, type JetStreamManager, type KV, type NatsConnection,
} from 'nats';
import { QUEUE_DEFAULTS, type QueueCommonOptions } from './types.js';

export interface NatsQueueOptions extends QueueCommonOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Stream name; buckets and the consumer derive from it. Default `TRELLIS_ASYNC`. */
  stream?: string;
  /** Subject prefix. Default `trellis.async`. */
  subjectPrefix?: string;
  /**
   * JetStream max_deliver: a backstop only, since attempts are counted in the status bucket
   * (a saturated worker's release would otherwise burn deliveries). Default 1000.
   */
  maxDeliver?: number;
  /** Stream duplicate window for Nats-Msg-Id de-duplication of re-published enqueues. Default 2 min. */
  duplicateWindowMs?: number;
  /** How long one operation keeps trying while the server is unreachable. Default 10 s. */
  opTimeoutMs?: number;
}

export interface NatsNames { stream: string; dead: string; durable: string; prefix: string }

export interface OpenedJetStream {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: KV;
  idem: KV;
  names: NatsNames;
  opts: Required<QueueCommonOptions> & { opTimeoutMs: number };
}

export async function openJetStream(o: NatsQueueOptions): Promise<OpenedJetStream> {
  const stream = o.stream ?? 'TRELLIS_ASYNC';
  const prefix = o.subjectPrefix ?? 'trellis.async';
  const names = { stream, dead: `${stream}_DEAD`, durable: `${stream}_WORKER`, prefix };
  const common = {
    ackWaitMs: o.ackWaitMs ?? QUEUE_DEFAULTS.ackWaitMs,
    resultTtlMs: o.resultTtlMs ?? QUEUE_DEFAULTS.resultTtlMs,
    idempotencyWindowMs: o.idempotencyWindowMs ?? QUEUE_DEFAULTS.idempotencyWindowMs,
    defaultMaxAttempts: o.defaultMaxAttempts ?? QUEUE_DEFAULTS.defaultMaxAttempts,
    opTimeoutMs: o.opTimeoutMs ?? 10_000,
  };
  const nc = await connect({
    servers: o.servers, name: 'trellis-async', maxReconnectAttempts: -1, reconnectTimeWait: 250,
    waitOnFirstConnect: true, timeout: 5000,
  });
  try {
    const jsm = await nc.jetstreamManager();
    await ensureStream(jsm, {
      name: stream, subjects: [`${prefix}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File,
      duplicate_window: nanos(o.duplicateWindowMs ?? 120_000),
    });
    await ensureStream(jsm, {
      name: names.dead, subjects: [`${prefix}-dead.>`], retention: RetentionPolicy.Limits, storage: StorageType.File,
      max_age: nanos(common.resultTtlMs), max_msgs_per_subject: 1,
    });
    const consumer = {
      durable_name: names.durable, ack_policy: AckPolicy.Explicit, ack_wait: nanos(common.ackWaitMs),
      max_deliver: o.maxDeliver ?? 1000, deliver_policy: DeliverPolicy.All, filter_subject: `${prefix}.>`,
      max_ack_pending: 100_000,
    };
    const existing = await jsm.consumers.info(stream, names.durable).catch(() => undefined);
    if (existing) await jsm.consumers.update(stream, names.durable, { ack_wait: consumer.ack_wait, max_deliver: consumer.max_deliver });
    else await jsm.consumers.add(stream, consumer);
    const js = nc.jetstream();
    const kv = await js.views.kv(`${stream}_STATUS`, { history: 1, ttl: common.resultTtlMs, storage: StorageType.File });
    const idem = await js.views.kv(`${stream}_IDEMPOTENCY`, { history: 1, ttl: common.idempotencyWindowMs, storage: StorageType.File });
    return { nc, js, jsm, kv, idem, names, opts: common };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

async function ensureStream(jsm: JetStreamManager, cfg: Parameters<JetStreamManager['streams']['add']>[0]): Promise<void> {
  const name = cfg.name as string;
  const info = await jsm.streams.info(name).catch(() => undefined);
  if (!info) await jsm.streams.add(cfg);
}

/** Errors worth retrying while the server restarts (timeouts, disconnects), not bad requests. */
export function isTransient(err: unknown): boolean {
  const msg = String((err as { code?: string; message?: string })?.code ?? '') + ' ' + String((err as Error)?.message ?? err);
  return /TIMEOUT|timeout|503|no responders|DISCONNECT|disconnect|CONNECTION|connection|closed|RECONNECT/i.test(msg) &&
    !/CLOSED_CONNECTION_ERROR|connection closed$/.test(msg);
}

