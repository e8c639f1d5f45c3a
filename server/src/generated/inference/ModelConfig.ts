// Original file: proto/model_config.proto

import type { ModelInput as _inference_ModelInput, ModelInput__Output as _inference_ModelInput__Output } from '../inference/ModelInput';
import type { ModelOutput as _inference_ModelOutput, ModelOutput__Output as _inference_ModelOutput__Output } from '../inference/ModelOutput';
import type { ModelInstanceGroup as _inference_ModelInstanceGroup, ModelInstanceGroup__Output as _inference_ModelInstanceGroup__Output } from '../inference/ModelInstanceGroup';
import type { ModelDynamicBatching as _inference_ModelDynamicBatching, ModelDynamicBatching__Output as _inference_ModelDynamicBatching__Output } from '../inference/ModelDynamicBatching';
import type { ModelResponseCache as _inference_ModelResponseCache, ModelResponseCache__Output as _inference_ModelResponseCache__Output } from '../inference/ModelResponseCache';

export interface ModelConfig {
  'name'?: (string);
  'platform'?: (string);
  'max_batch_size'?: (number);
  'input'?: (_inference_ModelInput)[];
  'output'?: (_inference_ModelOutput)[];
  'instance_group'?: (_inference_ModelInstanceGroup)[];
  'default_model_filename'?: (string);
  'dynamic_batching'?: (_inference_ModelDynamicBatching | null);
  'backend'?: (string);
  'response_cache'?: (_inference_ModelResponseCache | null);
  'scheduling_choice'?: "dynamic_batching";
}

export interface ModelConfig__Output {
  'name': (string);
  'platform': (string);
  'max_batch_size': (number);
  'input': (_inference_ModelInput__Output)[];
  'output': (_inference_ModelOutput__Output)[];
  'instance_group': (_inference_ModelInstanceGroup__Output)[];
  'default_model_filename': (string);
  'dynamic_batching'?: (_inference_ModelDynamicBatching__Output | null);
  'backend': (string);
  'response_cache': (_inference_ModelResponseCache__Output | null);
  'scheduling_choice'?: "dynamic_batching";
}
