// Original file: proto/dataplane.proto


export interface SystemSharedMemoryUnregisterResponse {
}

export interface SystemSharedMemoryUnregisterResponse__Output {
}
