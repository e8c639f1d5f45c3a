// Original file: proto/dataplane.proto


export interface SystemSharedMemoryRegisterResponse {
}

export interface SystemSharedMemoryRegisterResponse__Output {
}
