/**
 * The METRIC frames a Python worker sends when a runtime calls MLServer's `mlserver.register` or
 * `mlserver.log` (docs/python-runtimes.md, "Custom metrics"), and the sink the runtime hands them
 * to (observability/custom-metrics.ts exposes them with prom-client). The heads come from model
 * code, so they are parsed, not trusted.
 */
import { z } from 'zod';

/** Where custom metrics go; labels are MLServer's `model_name` and `model_version`. */
export interface CustomMetricSink {
  register(model: ModelLabels, name: string, description: string): void;
  observe(model: ModelLabels, name: string, value: number): void;
}

export interface ModelLabels {
  readonly name: string;
  readonly version: string;
}

const METRIC_HEAD = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('register'),
    name: z.string(),
    description: z.string(),
    key: z.string().nullable(),
  }),
  z.object({
    op: z.literal('observe'),
    name: z.string(),
    value: z.number(),
    key: z.string().nullable(),
  }),
]);

export type MetricHead = z.infer<typeof METRIC_HEAD>;

/** A METRIC frame's head, or undefined when it is not one. */
export function parseMetricHead(head: unknown): MetricHead | undefined {
  const parsed = METRIC_HEAD.safeParse(head);
  return parsed.success ? parsed.data : undefined;
}
