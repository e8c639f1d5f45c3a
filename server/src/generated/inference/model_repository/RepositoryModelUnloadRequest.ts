// Original file: proto/model_repository.proto


export interface RepositoryModelUnloadRequest {
  'repository_name'?: (string);
  'model_name'?: (string);
}

export interface RepositoryModelUnloadRequest__Output {
  'repository_name': (string);
  'model_name': (string);
}
