/**
 * Validation of the management API's JSON bodies (zod). Errors name the field and the
 * reason, one line, so a 400 tells the user exactly what to fix.
 */
import { z } from 'zod';
import { MAX_CONTAINER_CONCURRENCY } from '../autoscaler/spec.js';
import type { FunctionDeployment } from '../types.js';

/** DNS-1123 label, as OpenFaaS/Kubernetes names functions: no name can leave the data directory. */
export const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const BUNDLE_IMAGE_RE = /^bundle:([a-f0-9]{64})$/;
const MEMORY_RE = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/;
const CPU_RE = /^\d+(\.\d+)?m?$/;
const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h))+$|^\d+(\.\d+)?$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_TIMEOUT_MS = 3_600_000;
export const DEFAULT_TIMEOUT_MS = 60_000;

export const functionName = z.string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(NAME_RE, 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit');

const stringMap = (keyRe: RegExp | null, what: string) => z.record(
  keyRe ? z.string().regex(keyRe, `${what} names must match ${keyRe.source}`) : z.string().min(1).max(253),
  z.string({ error: 'values must be strings' }),
);

const resources = z.object({
  memory: z.string().regex(MEMORY_RE, 'must be a quantity like 128Mi, 1Gi or 134217728').optional(),
  cpu: z.string().regex(CPU_RE, 'must be a quantity like 500m or 1').optional(),
}).loose();

export const deploymentSchema = z.object({
  service: functionName,
  image: z.string().max(512).optional(),
  namespace: z.string().optional(),
  envProcess: z.string().min(1, 'must not be empty').max(4096).optional(),
  envVars: stringMap(ENV_NAME_RE, 'environment variable').optional(),
  labels: stringMap(null, 'label').optional(),
  annotations: stringMap(null, 'annotation').optional(),
  secrets: z.array(functionName).max(64).optional(),
  limits: resources.optional(),
  requests: resources.optional(),
  constraints: z.array(z.string()).optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  runtime: z.enum(['node', 'python3', 'command'], { error: 'must be one of node, python3, command' }).optional(),
  handler: z.string().min(1).max(256)
    .refine((h) => !h.startsWith('/') && !h.split(/[\\/]/).includes('..'), 'must be a relative path inside the bundle')
    .optional(),
  concurrency: z.number({ error: 'must be a number' }).int('must be an integer').min(0, 'must be >= 0')
    .max(MAX_CONTAINER_CONCURRENCY, `must be <= ${MAX_CONTAINER_CONCURRENCY}`).optional(),
  timeout: z.union([
    z.number().positive('must be > 0').max(MAX_TIMEOUT_MS / 1000, 'must be at most 1h'),
    z.string().regex(DURATION_RE, 'must be a duration like 30s, 500ms, 1m30s or seconds as a number'),
  ], { error: 'must be a duration like 30s or a number of seconds' }).optional(),
  mode: z.enum(['http', 'classic'], { error: 'must be http or classic' }).optional(),
});

export const scaleSchema = z.object({
  serviceName: functionName.optional(),
  replicas: z.number({ error: 'must be a number' }).int('must be an integer').min(0, 'must be >= 0').max(1000, 'must be <= 1000'),
});

export const deleteSchema = z.object({ functionName });

export const secretSchema = z.object({
  name: functionName,
  value: z.string({ error: 'must be a string' }).max(512 * 1024, 'must be at most 512 KiB').optional(),
  rawValue: z.string().optional(),
});
export const secretDeleteSchema = z.object({ name: functionName });

export class ValidationError extends Error {}

/** Parses with a schema; throws ValidationError("field: reason; ...") on failure. */
export function parseOrThrow<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const reasons = r.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`);
  throw new ValidationError(`invalid ${what}: ${reasons.join('; ')}`);
}

/** Go-style duration or seconds → ms (validated by the schema already). */
export function timeoutMs(t: string | number | undefined): number {
  if (t === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof t === 'number') return t * 1000;
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    ms += Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]];
  }
  return ms;
}

export type ValidDeployment = z.infer<typeof deploymentSchema> & FunctionDeployment;
