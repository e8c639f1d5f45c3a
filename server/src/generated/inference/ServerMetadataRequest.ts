// Original file: proto/dataplane.proto


export interface ServerMetadataRequest {
}

export interface ServerMetadataRequest__Output {
}
