/**
 * The engine module (runtime/engine.ts) that hosts a custom runtime: it imports the user's module,
 * picks the runtime class, checks it has `load` and `predict`, loads it, and runs `predict` /
 * `predictStream` with every failure turned into a message that names the model. It runs in a
 * worker thread of the custom runtimes' pool (or on the main thread with `parallel_workers: 0`),
 * so user code never holds the event loop that answers health probes (ADR 0011).
 */
import { registerHooks } from 'node:module';
import { ErrorCode, ServerError, getErrorMessage, redactPaths } from '../../errors.js';
import type { RuntimeResult } from '../../core/model-runtime.js';
import type { CustomRuntime, RuntimeRequest, RuntimeSettings } from '../../runtime-api.js';
import type { Engine } from '../engine.js';
import { checkRuntimeResponse } from './output-check.js';

/** What the main thread sends to open a custom runtime. */
export interface CustomOpenArgs {
  /** URL of the user's module. */
  readonly module: string;
  /** The implementation as written, for messages. */
  readonly implementation: string;
  readonly exportName?: string;
  readonly settings: RuntimeSettings;
}

/** What an open custom runtime says about itself. */
export interface CustomMetadata {
  readonly streams: boolean;
}

/** A `predict` answer: piscina clones errors without their code, so failures travel as data. */
export type CustomReply =
  | { readonly ok: true; readonly result: RuntimeResult }
  | { readonly ok: false; readonly code: string; readonly message: string };

const RUNTIME_API = new URL(
  import.meta.url.endsWith('.ts') ? '../../runtime-api.ts' : '../../runtime-api.js',
  import.meta.url,
).href;

let hooked = false;

/** Lets `@tessera/server/runtime-api` resolve from any model folder, to this server's copy. */
function hookRuntimeApi(): void {
  if (hooked) return;
  hooked = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === '@tessera/server/runtime-api')
        return { url: RUNTIME_API, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}

function openFailed(message: string): Error {
  return new ServerError(ErrorCode.MODEL_LOAD_FAILED, message);
}

const isClass = (value: unknown): value is new () => unknown =>
  typeof value === 'function' && typeof (value as { prototype?: unknown }).prototype === 'object';

/** The runtime class: the named export, else the default one, else the module's only class. */
function pickClass(mod: Record<string, unknown>, args: CustomOpenArgs): new () => unknown {
  const what = args.implementation.split('#')[0] ?? args.implementation;
  if (args.exportName !== undefined) {
    const named = mod[args.exportName];
    if (isClass(named)) return named;
    throw openFailed(`${what} has no exported class '${args.exportName}'`);
  }
  if (isClass(mod['default'])) return mod['default'];
  const classes = Object.values(mod).filter(isClass);
  const [only] = classes;
  if (classes.length === 1 && only !== undefined) return only;
  throw openFailed(
    classes.length === 0
      ? `${what} exports no runtime class (export default class with load() and predict())`
      : `${what} exports ${classes.length} classes; name one with '${what}#ClassName'`,
  );
}

function checkMethods(runtime: Record<string, unknown>, name: string): void {
  const missing = ['load', 'predict'].filter((m) => typeof runtime[m] !== 'function');
  if (missing.length > 0) {
    throw openFailed(
      `the runtime class ${name} has no ${missing.map((m) => `${m}()`).join(' or ')} method`,
    );
  }
  for (const optional of ['predictStream', 'unload']) {
    if (runtime[optional] !== undefined && typeof runtime[optional] !== 'function') {
      throw openFailed(`the runtime class ${name}: ${optional} must be a method`);
    }
  }
}

/** A user error as the client sees it: InputError → 400, anything else → 500, both naming the model. */
function userError(model: string, folder: string, error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  const text = redactPaths(getErrorMessage(error), [folder]);
  if (error instanceof Error && error.name === 'InputError') {
    return new ServerError(ErrorCode.INVALID_INPUT, `model '${model}': ${text}`);
  }
  return new ServerError(
    ErrorCode.INFERENCE_FAILED,
    `inference failed in model '${model}': ${text}`,
  );
}

/** Opens the runtime named by `args`; every failure is a MODEL_LOAD_FAILED message without paths. */
export async function open(
  args: CustomOpenArgs,
): Promise<Engine<RuntimeRequest, CustomReply, CustomMetadata>> {
  hookRuntimeApi();
  const { settings } = args;
  const clean = (error: unknown): string => redactPaths(getErrorMessage(error), [settings.folder]);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(args.module)) as Record<string, unknown>;
  } catch (error) {
    throw openFailed(`cannot import ${args.implementation}: ${clean(error)}`);
  }
  const RuntimeClass = pickClass(mod, args);
  let runtime: CustomRuntime;
  try {
    runtime = new RuntimeClass() as CustomRuntime;
  } catch (error) {
    throw openFailed(`the constructor of ${RuntimeClass.name} failed: ${clean(error)}`);
  }
  checkMethods(runtime as unknown as Record<string, unknown>, RuntimeClass.name);
  let loaded: unknown;
  try {
    loaded = await runtime.load(settings);
  } catch (error) {
    throw openFailed(`${RuntimeClass.name}.load() failed: ${clean(error)}`);
  }
  if (loaded === false) throw openFailed(`${RuntimeClass.name}.load() returned false`);
  return customEngine(runtime, settings);
}

function customEngine(
  runtime: CustomRuntime,
  settings: RuntimeSettings,
): Engine<RuntimeRequest, CustomReply, CustomMetadata> {
  const model = settings.name;
  const fail = (error: unknown): ServerError => userError(model, settings.folder, error);
  const predictStream = runtime.predictStream?.bind(runtime);
  return {
    metadata: { streams: predictStream !== undefined },
    async run(request): Promise<CustomReply> {
      try {
        return { ok: true, result: checkRuntimeResponse(model, await runtime.predict(request)) };
      } catch (error) {
        const e = fail(error);
        return { ok: false, code: e.code, message: e.message };
      }
    },
    ...(predictStream === undefined
      ? {}
      : {
          stream: (request: RuntimeRequest) =>
            checkedStream(model, fail, () => predictStream(request)),
        }),
    async close(): Promise<void> {
      await runtime.unload?.();
    },
  };
}

/**
 * The runtime's stream with each response checked; the `finally` returns the runtime's iterator
 * whenever this one stops early (client gone), which runs the runtime's own `finally` blocks.
 */
async function* checkedStream(
  model: string,
  fail: (error: unknown) => ServerError,
  start: () => AsyncIterable<unknown>,
): AsyncGenerator<RuntimeResult> {
  let iterator: AsyncIterator<unknown>;
  try {
    const iterable = start();
    if (
      typeof (iterable as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function'
    ) {
      throw new Error('predictStream() must return an async iterable (an async generator)');
    }
    iterator = iterable[Symbol.asyncIterator]();
  } catch (error) {
    throw fail(error);
  }
  let done = false;
  try {
    for (;;) {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (error) {
        done = true;
        throw fail(error);
      }
      if (step.done === true) {
        done = true;
        return;
      }
      yield checkRuntimeResponse(model, step.value);
    }
  } finally {
    if (!done) await iterator.return?.();
  }
}
