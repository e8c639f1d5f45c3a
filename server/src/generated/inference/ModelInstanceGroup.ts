// Original file: proto/model_config.proto


export interface ModelInstanceGroup {
  'name'?: (string);
  'count'?: (number);
  'kind'?: (number);
}

export interface ModelInstanceGroup__Output {
  'name': (string);
  'count': (number);
  'kind': (number);
}
