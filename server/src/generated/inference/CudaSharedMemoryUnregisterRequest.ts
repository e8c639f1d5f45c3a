// Original file: proto/dataplane.proto


export interface CudaSharedMemoryUnregisterRequest {
  'name'?: (string);
}

export interface CudaSharedMemoryUnregisterRequest__Output {
  'name': (string);
}
