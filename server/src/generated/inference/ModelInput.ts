// Original file: proto/model_config.proto

import type { Long } from '@grpc/proto-loader';

export interface ModelInput {
  'name'?: (string);
  'data_type'?: (number);
  'dims'?: (number | string | Long)[];
  'optional'?: (boolean);
}

export interface ModelInput__Output {
  'name': (string);
  'data_type': (number);
  'dims': (string)[];
  'optional': (boolean);
}
