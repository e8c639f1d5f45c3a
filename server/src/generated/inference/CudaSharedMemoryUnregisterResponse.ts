// Original file: proto/dataplane.proto


export interface CudaSharedMemoryUnregisterResponse {
}

export interface CudaSharedMemoryUnregisterResponse__Output {
}
