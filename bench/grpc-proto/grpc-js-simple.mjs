// Prototype: ModelInfer/ModelMetadata/ModelConfig for `simple` on grpc-js + proto-loader with the
// loader options Tessera uses, and nothing else (no metrics, spans, core): the floor of grpc-js.
//   [GRPC_PROTO_CHANNELZ=1] node bench/grpc-proto/grpc-js-simple.mjs <grpc-port> <count-port>
import { Server, ServerCredentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { TENSORS, TYPE_INT32, computeSimple, exitOnSignal, serveCount } from './simple-model.mjs';

const [grpcPort, countPort] = process.argv.slice(2).map(Number);
const definition = loadSync(['dataplane.proto'], {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [join(import.meta.dirname, '../../proto')],
});
const { inference } = loadPackageDefinition(definition);
const dims = (t) => ({ name: t.name, data_type: TYPE_INT32, dims: t.shape });

// channelz off as in server/src/transport/grpc/server.ts; GRPC_PROTO_CHANNELZ=1 measures its cost.
const server = new Server({
  'grpc.enable_channelz': process.env.GRPC_PROTO_CHANNELZ === '1' ? 1 : 0,
});
server.addService(inference.GRPCInferenceService.service, {
  ServerMetadata: (_call, callback) =>
    callback(null, { name: 'grpc-js-simple', version: '0', extensions: [] }),
  ModelMetadata: (_call, callback) =>
    callback(null, { name: 'simple', versions: ['1'], platform: 'onnx', ...TENSORS }),
  ModelConfig: (_call, callback) =>
    callback(null, {
      config: {
        name: 'simple',
        max_batch_size: 0,
        input: TENSORS.inputs.map(dims),
        output: TENSORS.outputs.map(dims),
      },
    }),
  ModelInfer: ({ request }, callback) => {
    try {
      const raw = computeSimple(request.raw_input_contents[0], request.raw_input_contents[1]);
      callback(null, {
        model_name: 'simple',
        model_version: '1',
        id: request.id,
        outputs: TENSORS.outputs,
        raw_output_contents: raw,
      });
    } catch (error) {
      callback({ code: 3, details: error.message });
    }
  },
});
server.bindAsync(`127.0.0.1:${grpcPort}`, ServerCredentials.createInsecure(), (error) => {
  if (error) throw error;
  serveCount(countPort);
});
exitOnSignal(() => server.forceShutdown());
