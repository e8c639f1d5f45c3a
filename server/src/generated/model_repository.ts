import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { ModelRepositoryServiceClient as _inference_model_repository_ModelRepositoryServiceClient, ModelRepositoryServiceDefinition as _inference_model_repository_ModelRepositoryServiceDefinition } from './inference/model_repository/ModelRepositoryService';
import type { RepositoryIndexRequest as _inference_model_repository_RepositoryIndexRequest, RepositoryIndexRequest__Output as _inference_model_repository_RepositoryIndexRequest__Output } from './inference/model_repository/RepositoryIndexRequest';
import type { RepositoryIndexResponse as _inference_model_repository_RepositoryIndexResponse, RepositoryIndexResponse__Output as _inference_model_repository_RepositoryIndexResponse__Output } from './inference/model_repository/RepositoryIndexResponse';
import type { RepositoryModelLoadRequest as _inference_model_repository_RepositoryModelLoadRequest, RepositoryModelLoadRequest__Output as _inference_model_repository_RepositoryModelLoadRequest__Output } from './inference/model_repository/RepositoryModelLoadRequest';
import type { RepositoryModelLoadResponse as _inference_model_repository_RepositoryModelLoadResponse, RepositoryModelLoadResponse__Output as _inference_model_repository_RepositoryModelLoadResponse__Output } from './inference/model_repository/RepositoryModelLoadResponse';
import type { RepositoryModelUnloadRequest as _inference_model_repository_RepositoryModelUnloadRequest, RepositoryModelUnloadRequest__Output as _inference_model_repository_RepositoryModelUnloadRequest__Output } from './inference/model_repository/RepositoryModelUnloadRequest';
import type { RepositoryModelUnloadResponse as _inference_model_repository_RepositoryModelUnloadResponse, RepositoryModelUnloadResponse__Output as _inference_model_repository_RepositoryModelUnloadResponse__Output } from './inference/model_repository/RepositoryModelUnloadResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  inference: {
    model_repository: {
      ModelRepositoryService: SubtypeConstructor<typeof grpc.Client, _inference_model_repository_ModelRepositoryServiceClient> & { service: _inference_model_repository_ModelRepositoryServiceDefinition }
      RepositoryIndexRequest: MessageTypeDefinition<_inference_model_repository_RepositoryIndexRequest, _inference_model_repository_RepositoryIndexRequest__Output>
      RepositoryIndexResponse: MessageTypeDefinition<_inference_model_repository_RepositoryIndexResponse, _inference_model_repository_RepositoryIndexResponse__Output>
      RepositoryModelLoadRequest: MessageTypeDefinition<_inference_model_repository_RepositoryModelLoadRequest, _inference_model_repository_RepositoryModelLoadRequest__Output>
      RepositoryModelLoadResponse: MessageTypeDefinition<_inference_model_repository_RepositoryModelLoadResponse, _inference_model_repository_RepositoryModelLoadResponse__Output>
      RepositoryModelUnloadRequest: MessageTypeDefinition<_inference_model_repository_RepositoryModelUnloadRequest, _inference_model_repository_RepositoryModelUnloadRequest__Output>
      RepositoryModelUnloadResponse: MessageTypeDefinition<_inference_model_repository_RepositoryModelUnloadResponse, _inference_model_repository_RepositoryModelUnloadResponse__Output>
    }
  }
}

