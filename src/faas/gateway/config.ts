/**
 * The `gateway:` YAML section, shared by `trellis gateway --config` and `trellis up`:
 *
 *   gateway:
 *     listen: 127.0.0.1:8080
 *     data_dir: ./.trellis
 *     auth: { invoke: false }
 *     warm_pool: { node: 2, python3: 1 }     # or true (these defaults) / false (none)
 *     autoscaler:                             # Knative's config-autoscaler keys, in snake_case
 *       stable_window: 60s
 *       panic_window_percentage: 10
 *       panic_threshold_percentage: 200
 *       scale_to_zero_grace_period: 30s
 *       container_concurrency_target_percentage: 70   # alias: target_utilization_percentage
 *       container_concurrency_target_default: 100
 *       tick_interval: 2s
 *
 * Errors name the field: `gateway.autoscaler.stable_window: ...`.
 */
import { z } from 'zod';
import { autoscalerConfig, parseDurationMs, type AutoscalerConfig } from '../autoscaler/index.js';

const duration = z.union([z.string(), z.number()]);
const num = z.number({ error: 'must be a number' });
const count = z.number({ error: 'must be a number' }).int('must be an integer').min(0, 'must be >= 0');

/** YAML key → AutoscalerConfig key, and how the value converts. */
const AUTOSCALER_KEYS = {
  stable_window: ['stableWindowMs', 'duration'],
  panic_window_percentage: ['panicWindowPercentage', 'number'],
  panic_threshold_percentage: ['panicThresholdPercentage', 'number'],
  scale_to_zero_grace_period: ['scaleToZeroGracePeriodMs', 'duration'],
  scale_to_zero_pod_retention_period: ['scaleToZeroPodRetentionPeriodMs', 'duration'],
  enable_scale_to_zero: ['enableScaleToZero', 'boolean'],
  container_concurrency_target_percentage: ['targetUtilization', 'percent'],
  target_utilization_percentage: ['targetUtilization', 'percent'],
  container_concurrency_target_default: ['concurrencyTargetDefault', 'number'],
  requests_per_second_target_default: ['rpsTargetDefault', 'number'],
  target_burst_capacity: ['targetBurstCapacity', 'number'],
  max_scale_up_rate: ['maxScaleUpRate', 'number'],
  max_scale_down_rate: ['maxScaleDownRate', 'number'],
  initial_scale: ['initialScale', 'number'],
  allow_zero_initial_scale: ['allowZeroInitialScale', 'boolean'],
  min_scale: ['minScale', 'number'],
  max_scale: ['maxScale', 'number'],
  scale_down_delay: ['scaleDownDelayMs', 'duration'],
  activation_scale: ['activationScale', 'number'],
  tick_interval: ['tickIntervalMs', 'duration'],
} as const satisfies Record<string, readonly [keyof AutoscalerConfig, 'duration' | 'number' | 'percent' | 'boolean']>;

type AutoscalerYamlKey = keyof typeof AUTOSCALER_KEYS;

const autoscalerSchema = z.object(Object.fromEntries(Object.entries(AUTOSCALER_KEYS).map(([k, [, kind]]) => [
  k, (kind === 'duration' ? duration : kind === 'boolean' ? z.boolean({ error: 'must be true or false' }) : num).optional(),
])) as unknown as Record<AutoscalerYamlKey, z.ZodOptional<z.ZodType<string | number | boolean>>>).strict();

const warmPoolSchema = z.union([
  z.boolean(),
  z.object({ node: count.max(64, 'must be <= 64').optional(), python3: count.max(64, 'must be <= 64').optional() }).strict(),
], { error: 'must be true, false, or sizes per runtime like { node: 2, python3: 1 }' });

/** The fields both `trellis gateway` and `trellis up` accept. */
export const gatewaySectionShape = {
  listen: z.string().optional(),
  data_dir: z.string().optional(),
  auth: z.object({ invoke: z.boolean().optional() }).strict().optional(),
  warm_pool: warmPoolSchema.optional(),
  autoscaler: autoscalerSchema.optional(),
};

export const gatewaySectionSchema = z.object(gatewaySectionShape).strict();
export type GatewaySection = z.infer<typeof gatewaySectionSchema>;

export class GatewayConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'GatewayConfigError'; }
}

/** Parses a `gateway:` section (any schema built from gatewaySectionShape); errors name `gateway.<path>`. */
export function parseGatewaySection<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    const path = i.path.length > 0 ? `gateway.${i.path.join('.')}` : 'gateway';
    throw new GatewayConfigError(`${path}: ${i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : i.message}`);
  }
  return r.data;
}

/** What the section means for startFunctionPlatform (warm pool sizes, autoscaler settings). */
export interface GatewaySettings {
  warmPool: boolean | { node?: number; python3?: number };
  autoscaler: Partial<AutoscalerConfig>;
}

export function gatewaySettings(section: Pick<GatewaySection, 'warm_pool' | 'autoscaler'>): GatewaySettings {
  const autoscaler: Partial<AutoscalerConfig> = {};
  const given = section.autoscaler ?? {};
  const from = new Map<keyof AutoscalerConfig, AutoscalerYamlKey>();
  for (const [k, v] of Object.entries(given) as [AutoscalerYamlKey, string | number | boolean | undefined][]) {
    if (v === undefined) continue;
    const [key, kind] = AUTOSCALER_KEYS[k];
    const field = `gateway.autoscaler.${k}`;
    const other = from.get(key);
    if (other !== undefined) throw new GatewayConfigError(`${field}: give either ${other} or ${k}, not both`);
    from.set(key, k);
    let value: number | boolean;
    if (kind === 'duration') {
      try { value = parseDurationMs(v as string | number, field); } catch (err) { throw new GatewayConfigError((err as Error).message); }
    } else if (kind === 'percent') {
      value = (v as number) / 100;
    } else {
      value = v as number | boolean;
    }
    (autoscaler as Record<string, number | boolean>)[key] = value;
  }
  try {
    autoscalerConfig(autoscaler);
  } catch (err) {
    // autoscalerConfig names its own key (e.g. stableWindowMs): point at the YAML field instead.
    const msg = (err as Error).message;
    const m = /^autoscaler config: (\w+) = .*? is invalid: (.*)$/.exec(msg);
    const yaml = m ? from.get(m[1] as keyof AutoscalerConfig) : undefined;
    if (m && yaml) {
      const raw = given[yaml];
      throw new GatewayConfigError(`gateway.autoscaler.${yaml}: ${String(raw)} is invalid: ${m[2]}`);
    }
    throw new GatewayConfigError(`gateway.autoscaler: ${msg}`);
  }
  return { warmPool: section.warm_pool ?? true, autoscaler };
}
