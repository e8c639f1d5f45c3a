// Original file: proto/dataplane.proto


export interface SystemSharedMemoryUnregisterRequest {
  'name'?: (string);
}

export interface SystemSharedMemoryUnregisterRequest__Output {
  'name': (string);
}
