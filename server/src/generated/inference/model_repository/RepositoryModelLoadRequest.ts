// Original file: proto/model_repository.proto


export interface RepositoryModelLoadRequest {
  'repository_name'?: (string);
  'model_name'?: (string);
}

export interface RepositoryModelLoadRequest__Output {
  'repository_name': (string);
  'model_name': (string);
}
