// Original file: proto/model_config.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelOutput {
  'name'?: (string);
  'data_type'?: (number);
  'dims'?: (number | string | Long)[];
}

export interface ModelOutput__Output {
  'name': (string);
  'data_type': (number);
  'dims': (string)[];
}
