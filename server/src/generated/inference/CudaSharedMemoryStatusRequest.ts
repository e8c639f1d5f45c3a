// Original file: proto/dataplane.proto


export interface CudaSharedMemoryStatusRequest {
  'name'?: (string);
}

export interface CudaSharedMemoryStatusRequest__Output {
  'name': (string);
}
