// M (wmlib/memory.py: MDNRNN) in plain JavaScript, to dream in the browser: one LSTM step over
// [z, action], the mixture it predicts for every dimension of the next z, and a draw from it at
// a temperature τ (wmlib/mixture.py: sample). Weights from wmlib/browser.py: memory_weights.
"use strict";
(function (worldModels) {
  const sigmoid = (value) => 1 / (1 + Math.exp(-value));

  /** M, ready to run, from the JSON of wmlib.browser.memory_weights. */
  function memoryFrom(weights) {
    const layer = (pair) => ({
      kernel: worldModels.unpack(pair.kernel),
      bias: worldModels.unpack(pair.bias),
    });
    return {
      lstm: {
        ...layer(weights.lstm),
        recurrentKernel: worldModels.unpack(weights.lstm.recurrent_kernel),
      },
      head: layer(weights.head),
      done: layer(weights.done),
      latentSize: weights.latent_size,
      mixtures: weights.mixtures,
    };
  }

  /**
   * One LSTM step (wmlib/memory.py: lstm_step), gates side by side in Keras' order:
   * i, f, o = σ(·) and g = tanh(·) of x·W + h·U + b; c' = f·c + i·g; h' = o·tanh(c').
   */
  function lstmStep(lstm, input, { h, c }) {
    const units = h.length;
    const noBias = { values: new Float32Array(4 * units) };
    const recurrent = worldModels.dense(h, lstm.recurrentKernel, noBias);
    const gates = worldModels.dense(input, lstm.kernel, lstm.bias);
    for (let index = 0; index < gates.length; index++) gates[index] += recurrent[index];
    const nextH = new Float32Array(units);
    const nextC = new Float32Array(units);
    for (let unit = 0; unit < units; unit++) {
      const inputGate = sigmoid(gates[unit]);
      const forgetGate = sigmoid(gates[units + unit]);
      const candidate = Math.tanh(gates[2 * units + unit]);
      const outputGate = sigmoid(gates[3 * units + unit]);
      nextC[unit] = forgetGate * c[unit] + inputGate * candidate;
      nextH[unit] = outputGate * Math.tanh(nextC[unit]);
    }
    return { h: nextH, c: nextC };
  }

  /** For every dimension of z, the K mixing logits, means and log σ that M's head gives. */
  function mixtureFrom(memory, h) {
    const parameters = worldModels.dense(h, memory.head.kernel, memory.head.bias);
    const K = memory.mixtures;
    return Array.from({ length: memory.latentSize }, (_, dimension) => {
      const first = dimension * 3 * K;
      return {
        logits: parameters.subarray(first, first + K),
        means: parameters.subarray(first + K, first + 2 * K),
        logSigmas: parameters.subarray(first + 2 * K, first + 3 * K),
      };
    });
  }

  /**
   * One value per dimension at a temperature τ (wmlib/mixture.py: sample): a component is chosen
   * with probabilities softmax(logits / τ), and its Gaussian's noise is scaled by √τ.
   */
  function sampleMixture(mixture, temperature, random) {
    return mixture.map(({ logits, means, logSigmas }) => {
      const largest = Math.max(...logits);
      const weights = Array.from(logits, (logit) => Math.exp((logit - largest) / temperature));
      let uniform = random.uniform() * weights.reduce((sum, weight) => sum + weight, 0);
      let chosen = 0;
      while (chosen < weights.length - 1 && uniform >= weights[chosen]) {
        uniform -= weights[chosen];
        chosen++;
      }
      const sigma = Math.exp(logSigmas[chosen]);
      return means[chosen] + sigma * Math.sqrt(temperature) * random.normal();
    });
  }

  /** Seeded random numbers (mulberry32; normals by Box–Muller): a dream can be replayed. */
  function seededRandom(seed) {
    let state = seed >>> 0;
    const uniform = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let value = Math.imul(state ^ (state >>> 15), state | 1);
      value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
      return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
    };
    const normal = () =>
      Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    return { uniform, normal };
  }

  /**
   * One step of the dream (wmlib/memory.py: DreamEnv.step): M remembers [z, action], and the next
   * z is drawn from its mixture. Returns the next z, M's new state and the probability that the
   * episode ends.
   */
  function dreamStep(memory, z, action, state, temperature, random) {
    const next = lstmStep(memory.lstm, [...z, ...action], state);
    const nextZ = sampleMixture(mixtureFrom(memory, next.h), temperature, random);
    const doneLogit = worldModels.dense(next.h, memory.done.kernel, memory.done.bias)[0];
    return { z: nextZ, state: next, done: sigmoid(doneLogit) };
  }

  Object.assign(worldModels, {
    memoryFrom,
    lstmStep,
    mixtureFrom,
    sampleMixture,
    seededRandom,
    dreamStep,
  });
})((window.worldModels = window.worldModels || {}));
