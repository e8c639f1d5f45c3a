/**
 * The gRPC services: `inference.GRPCInferenceService` (Triton's proto, a superset of OIP) and
 * MLServer's `inference.model_repository.ModelRepositoryService`. Each handler converts in, calls
 * the data plane, converts out.
 */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { DataPlane } from '../../core/dataplane.js';
import { ErrorCode, ServerError, adminOnly } from '../../errors.js';
import type { ModelInferRequest__Output } from '../../generated/inference/ModelInferRequest.js';
import type { ModelMetadataRequest__Output } from '../../generated/inference/ModelMetadataRequest.js';
import type { ModelReadyRequest__Output } from '../../generated/inference/ModelReadyRequest.js';
import type { RepositoryIndexRequest__Output } from '../../generated/inference/RepositoryIndexRequest.js';
import type { RepositoryModelLoadRequest__Output } from '../../generated/inference/RepositoryModelLoadRequest.js';
import type { ModelConfigRequest__Output } from '../../generated/inference/ModelConfigRequest.js';
import type { ModelStatisticsRequest__Output } from '../../generated/inference/ModelStatisticsRequest.js';
import type { SystemSharedMemoryRegisterRequest__Output } from '../../generated/inference/SystemSharedMemoryRegisterRequest.js';
import type { SystemSharedMemoryStatusRequest__Output } from '../../generated/inference/SystemSharedMemoryStatusRequest.js';
import type { SystemSharedMemoryUnregisterRequest__Output } from '../../generated/inference/SystemSharedMemoryUnregisterRequest.js';
import {
  fromCoreIndex,
  fromCoreInferResponse,
  fromCoreModelConfig,
  fromCoreModelMetadata,
  fromCoreStatistics,
  toCoreInferRequest,
  toCoreLoadParameters,
} from './convert.js';
import { unary, type HandlerDeps } from './handler.js';
import { modelStreamInfer } from './stream-infer.js';

const DATAPLANE = 'inference.GRPCInferenceService';
const REPOSITORY = 'inference.model_repository.ModelRepositoryService';

const optionalVersion = (version: string): string | undefined =>
  version === '' ? undefined : version;

/** Every repository RPC, refused with PERMISSION_DENIED (admin_port is set). */
function refusedRepositoryHandlers(
  deps: HandlerDeps,
  service: string,
): UntypedServiceImplementation {
  const refuse = (): Promise<never> => Promise.reject(adminOnly('gRPC'));
  return Object.fromEntries(
    ['RepositoryIndex', 'RepositoryModelLoad', 'RepositoryModelUnload'].map((method) => [
      method,
      unary(deps, { service, method }, refuse),
    ]),
  );
}

/** The repository handlers, shared by both services (their messages agree on the fields used). */
function repositoryHandlers(
  dataplane: DataPlane,
  deps: HandlerDeps,
  service: string,
): UntypedServiceImplementation {
  if (deps.repositoryRefused === true) return refusedRepositoryHandlers(deps, service);
  return {
    RepositoryIndex: unary(
      deps,
      { service, method: 'RepositoryIndex' },
      async (req: RepositoryIndexRequest__Output) =>
        fromCoreIndex(await dataplane.repositoryIndex(req.ready)),
    ),
    RepositoryModelLoad: unary(
      deps,
      { service, method: 'RepositoryModelLoad' },
      async (req: RepositoryModelLoadRequest__Output) => {
        await dataplane.repositoryLoad(req.model_name, toCoreLoadParameters(req.parameters));
        return {};
      },
    ),
    RepositoryModelUnload: unary(
      deps,
      { service, method: 'RepositoryModelUnload' },
      async (req: RepositoryModelLoadRequest__Output) => {
        await dataplane.repositoryUnload(req.model_name, toCoreLoadParameters(req.parameters));
        return {};
      },
    ),
  };
}

/** Handlers for GRPCInferenceService. */
export function inferenceService(
  dataplane: DataPlane,
  deps: HandlerDeps,
): UntypedServiceImplementation {
  const s = DATAPLANE;
  return {
    ServerLive: unary(deps, { service: s, method: 'ServerLive' }, () =>
      Promise.resolve({ live: dataplane.live() }),
    ),
    ServerReady: unary(deps, { service: s, method: 'ServerReady' }, () =>
      Promise.resolve({ ready: dataplane.ready() }),
    ),
    ServerMetadata: unary(deps, { service: s, method: 'ServerMetadata' }, () => {
      const meta = dataplane.serverMetadata();
      return Promise.resolve({
        name: meta.name,
        version: meta.version,
        extensions: [...meta.extensions],
      });
    }),
    ModelReady: unary(
      deps,
      { service: s, method: 'ModelReady' },
      (req: ModelReadyRequest__Output) =>
        Promise.resolve({ ready: dataplane.modelReady(req.name, optionalVersion(req.version)) }),
    ),
    ModelMetadata: unary(
      deps,
      { service: s, method: 'ModelMetadata' },
      (req: ModelMetadataRequest__Output) =>
        Promise.resolve(
          fromCoreModelMetadata(dataplane.modelMetadata(req.name, optionalVersion(req.version))),
        ),
    ),
    ModelInfer: unary(
      deps,
      { service: s, method: 'ModelInfer' },
      async (req: ModelInferRequest__Output, ctx, trailers) => {
        if (req.model_name === '')
          throw new ServerError(ErrorCode.INVALID_INPUT, 'model_name is required');
        const coreRequest = toCoreInferRequest(req);
        const version = optionalVersion(req.model_version);
        const response = await dataplane.infer(
          coreRequest,
          { model: req.model_name, ...(version === undefined ? {} : { version }) },
          ctx,
        );
        const headers = response.parameters?.['headers'];
        if (typeof headers === 'object') {
          for (const [key, value] of Object.entries(headers))
            trailers.set(key.toLowerCase(), value);
        }
        return fromCoreInferResponse(
          response,
          deps.outputContents !== 'as_request' || req.raw_input_contents.length > 0,
        );
      },
    ),
    ModelConfig: unary(
      deps,
      { service: s, method: 'ModelConfig' },
      (req: ModelConfigRequest__Output) =>
        Promise.resolve({
          config: fromCoreModelConfig(
            dataplane.modelConfig(req.name, optionalVersion(req.version)),
          ),
        }),
    ),
    ModelStatistics: unary(
      deps,
      { service: s, method: 'ModelStatistics' },
      (req: ModelStatisticsRequest__Output) =>
        Promise.resolve(
          fromCoreStatistics(
            dataplane.modelStatistics(
              req.name === '' ? undefined : req.name,
              optionalVersion(req.version),
            ),
          ),
        ),
    ),
    ModelStreamInfer: modelStreamInfer(dataplane, deps),
    ...sharedMemoryHandlers(dataplane, deps, s),
    ...repositoryHandlers(dataplane, deps, s),
  };
}

/** Triton's shared-memory RPCs (extension_shared_memory.md); CUDA ones answer UNIMPLEMENTED-like refusals. */
function sharedMemoryHandlers(
  dataplane: DataPlane,
  deps: HandlerDeps,
  service: string,
): UntypedServiceImplementation {
  const optionalName = (name: string): string | undefined => (name === '' ? undefined : name);
  const refuseCuda = (): Promise<never> =>
    Promise.resolve().then(() => dataplane.cudaSharedMemory());
  return {
    SystemSharedMemoryStatus: unary(
      deps,
      { service, method: 'SystemSharedMemoryStatus' },
      (req: SystemSharedMemoryStatusRequest__Output) =>
        Promise.resolve({
          regions: Object.fromEntries(
            dataplane
              .systemSharedMemoryStatus(optionalName(req.name))
              .map((r) => [
                r.name,
                { name: r.name, key: r.key, offset: r.offset, byte_size: r.byte_size },
              ]),
          ),
        }),
    ),
    SystemSharedMemoryRegister: unary(
      deps,
      { service, method: 'SystemSharedMemoryRegister' },
      async (req: SystemSharedMemoryRegisterRequest__Output) => {
        await dataplane.registerSystemSharedMemory(
          req.name,
          req.key,
          toCount('offset', req.offset),
          toCount('byte_size', req.byte_size),
        );
        return {};
      },
    ),
    SystemSharedMemoryUnregister: unary(
      deps,
      { service, method: 'SystemSharedMemoryUnregister' },
      async (req: SystemSharedMemoryUnregisterRequest__Output) => {
        await dataplane.unregisterSystemSharedMemory(optionalName(req.name));
        return {};
      },
    ),
    CudaSharedMemoryStatus: unary(deps, { service, method: 'CudaSharedMemoryStatus' }, refuseCuda),
    CudaSharedMemoryRegister: unary(
      deps,
      { service, method: 'CudaSharedMemoryRegister' },
      refuseCuda,
    ),
    CudaSharedMemoryUnregister: unary(
      deps,
      { service, method: 'CudaSharedMemoryUnregister' },
      refuseCuda,
    ),
  };
}

/** A uint64 field (a decimal string with `--longs=String`) as a safe integer. */
function toCount(field: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ServerError(ErrorCode.INVALID_INPUT, `${field} ${value} is too large`);
  }
  return n;
}

/** Handlers for MLServer's ModelRepositoryService. */
export function modelRepositoryService(
  dataplane: DataPlane,
  deps: HandlerDeps,
): UntypedServiceImplementation {
  return repositoryHandlers(dataplane, deps, REPOSITORY);
}
