// What the KServe parity tests share: reading a folder of manifests, an operator whose Events are
// counted before the recorder folds repeats, and waiting for a Warning Event.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClient, KubeObject } from '../../../operator/src/kube/client.js';
import { EventRecorder } from '../../../operator/src/kube/events.js';
import {
  settled,
  startOperator,
  testConfig,
  testLogger,
  waitFor,
  type RunningOperator,
} from './cluster.js';

/** The YAML files under `dir`, sorted, sub-folders included. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(entry) ? [path] : [];
    });
}

/** An operator on `namespace`, and the count of each `<object>/<reason>` it emitted. */
export async function startCountingOperator(
  namespace: string,
  instance: string,
): Promise<{ op: RunningOperator; emitted: Map<string, number> }> {
  const emitted = new Map<string, number>();
  const op = await startOperator(testConfig(namespace), undefined, undefined, (c) => {
    const recorder = new EventRecorder(c, {
      controller: 'tessera-operator',
      instance,
      logger: testLogger(),
    });
    return {
      emit: (regarding, event) => {
        const key = `${regarding.name}/${event.reason}`;
        emitted.set(key, (emitted.get(key) ?? 0) + 1);
        recorder.emit(regarding, event);
      },
    };
  });
  return { op, emitted };
}

/** The note of a Warning Event with `reason` on the object `name`, once there is one. */
export async function warningEvent(
  client: KubeClient,
  namespace: string,
  name: string,
  reason: string,
): Promise<string> {
  return waitFor(`a ${reason} Event on ${name}`, async () => {
    const { items } = await client.request<{
      items: { type: string; reason: string; note: string; regarding: { name: string } }[];
    }>('GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
    return items.find(
      (e) => e.regarding.name === name && e.type === 'Warning' && e.reason === reason,
    )?.note;
  });
}

/** Events are sent on transitions only: more reconciles (resyncs) add none. */
export async function assertNoRepeatedEvents(
  op: RunningOperator,
  emitted: ReadonlyMap<string, number>,
  reconciles: number,
): Promise<void> {
  await settled(op, reconciles);
  const before = new Map(emitted);
  await settled(op, reconciles);
  assert.deepEqual(new Map(emitted), before);
}

/** Each manifest's outcome in one word: its refusal reason, or what happened to it. */
export function outcomeTable(
  results: ReadonlyMap<string, { outcome: { kind: string; reason?: string } }>,
): Record<string, string> {
  return Object.fromEntries(
    [...results].map(([name, { outcome: o }]) => [
      name,
      o.kind === 'refused' ? (o.reason ?? '') : o.kind,
    ]),
  );
}

/** What became of one applied manifest: refused by the apiserver, deployed, or refused with a reason. */
export type Outcome =
  | { kind: 'rejected'; message: string }
  | { kind: 'deployed'; deployment: KubeObject }
  | { kind: 'refused'; reason: string; message: string };
