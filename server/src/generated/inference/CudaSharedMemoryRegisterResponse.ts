// Original file: proto/dataplane.proto


export interface CudaSharedMemoryRegisterResponse {
}

export interface CudaSharedMemoryRegisterResponse__Output {
}
