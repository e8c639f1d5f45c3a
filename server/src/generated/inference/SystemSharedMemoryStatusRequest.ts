// Original file: proto/dataplane.proto


export interface SystemSharedMemoryStatusRequest {
  'name'?: (string);
}

export interface SystemSharedMemoryStatusRequest__Output {
  'name': (string);
}
