// A custom runtime: the counterpart of MLServer's streaming example (`text_model.TextModel`,
// docs/user-guide/streaming.md). `predict` answers the prompt reversed word by word in one
// response; `predictStream` sends the prompt back one word per response, `extra.delay_ms` apart.
// See examples/custom-runtime/README.md and docs/custom-runtimes.md.
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeStrings, encodeStrings, getInput } from '@tessera/server/runtime-api';

/** @implements {import('@tessera/server/runtime-api').CustomRuntime} */
export default class TextModel {
  delayMs = 0;

  /** @param {import('@tessera/server/runtime-api').RuntimeSettings} settings */
  load(settings) {
    const delay = settings.extra['delay_ms'];
    this.delayMs = typeof delay === 'number' ? delay : 0;
  }

  /** @param {import('@tessera/server/runtime-api').RuntimeRequest} request */
  predict(request) {
    const [prompt = ''] = decodeStrings(getInput(request, 'prompt'));
    return { outputs: [encodeStrings('output', [prompt.split(' ').reverse().join(' ')])] };
  }

  /** @param {import('@tessera/server/runtime-api').RuntimeRequest} request */
  async *predictStream(request) {
    const [prompt = ''] = decodeStrings(getInput(request, 'prompt'));
    for (const word of prompt.split(' ')) {
      if (this.delayMs > 0) await sleep(this.delayMs);
      yield { outputs: [encodeStrings('output', [word])] };
    }
  }
}
