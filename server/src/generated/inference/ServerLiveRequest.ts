// Original file: proto/dataplane.proto


export interface ServerLiveRequest {
}

export interface ServerLiveRequest__Output {
}
