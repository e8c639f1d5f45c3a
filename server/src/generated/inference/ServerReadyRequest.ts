// Original file: proto/dataplane.proto


export interface ServerReadyRequest {
}

export interface ServerReadyRequest__Output {
}
