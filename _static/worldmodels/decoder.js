// V's decoder (wmlib/vision.py: build_decoder) in plain JavaScript: z in, a 64×64×3 frame out.
// The weights come from wmlib/browser.py: decoder_weights, as float16 in base64 (`unpack` also
// reads M's large kernels, sent as 8-bit integers); the dense layer there already holds the
// first transposed convolution (both are linear on a 1×1 map).
"use strict";
(function (worldModels) {
  /** The number a float16 bit pattern stands for (IEEE 754 half precision). */
  function halfToNumber(bits) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) return sign * fraction * 2 ** -24;
    if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
    return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }

  /** The bytes a base64 string holds. */
  function fromBase64(text) {
    return Uint8Array.from(atob(text), (character) => character.charCodeAt(0));
  }

  /**
   * An array of wmlib.browser.packed, {shape, data} (float16), or of wmlib.browser.quantised,
   * {shape, scale, int8} (8-bit integers, a scale per column), as {shape, values: Float32Array}.
   */
  function unpack(packed) {
    if (packed.int8) {
      const integers = new Int8Array(fromBase64(packed.int8).buffer);
      const scale = unpack(packed.scale).values;
      const columns = scale.length;
      const values = Float32Array.from(integers, (value, index) => value * scale[index % columns]);
      return { shape: packed.shape, values };
    }
    const bytes = fromBase64(packed.data);
    const view = new DataView(bytes.buffer);
    const values = new Float32Array(bytes.length / 2);
    for (let index = 0; index < values.length; index++) {
      values[index] = halfToNumber(view.getUint16(2 * index, true));
    }
    return { shape: packed.shape, values };
  }

  /** x·W + b for a vector x and a kernel W of shape (inputs, outputs). */
  function dense(input, kernel, bias) {
    const [inputs, outputs] = kernel.shape;
    const output = Float32Array.from(bias.values);
    for (let row = 0; row < inputs; row++) {
      const value = input[row];
      if (value === 0) continue;
      const weights = kernel.values.subarray(row * outputs, (row + 1) * outputs);
      for (let column = 0; column < outputs; column++) output[column] += value * weights[column];
    }
    return output;
  }

  const activations = {
    relu: (value) => Math.max(value, 0),
    sigmoid: (value) => 1 / (1 + Math.exp(-value)),
  };

  /**
   * A transposed convolution with "valid" padding, as Keras' Conv2DTranspose: every input pixel
   * adds its values times the kernel to a kernel-sized patch of the output, patches `stride`
   * apart. `input` is (height, width, channels), row-major; the kernel is (kernel height,
   * kernel width, inputs, outputs). Returns the activated output and its shape.
   */
  function conv2dTranspose(input, [height, width, inputs], layer) {
    const [kernelHeight, kernelWidth, , outputs] = layer.kernel.shape;
    const stride = layer.stride;
    const outputHeight = (height - 1) * stride + kernelHeight;
    const outputWidth = (width - 1) * stride + kernelWidth;
    const output = new Float32Array(outputHeight * outputWidth * outputs);
    const kernel = layer.kernel.values;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let row = 0; row < kernelHeight; row++) {
          for (let column = 0; column < kernelWidth; column++) {
            const target = ((y * stride + row) * outputWidth + x * stride + column) * outputs;
            const tap = (row * kernelWidth + column) * inputs;
            for (let channel = 0; channel < inputs; channel++) {
              const value = input[(y * width + x) * inputs + channel];
              if (value === 0) continue;
              const weights = (tap + channel) * outputs;
              for (let out = 0; out < outputs; out++) {
                output[target + out] += value * kernel[weights + out];
              }
            }
          }
        }
      }
    }
    const activation = activations[layer.activation];
    for (let index = 0; index < output.length; index++) {
      output[index] = activation(output[index] + layer.bias.values[index % outputs]);
    }
    return { values: output, shape: [outputHeight, outputWidth, outputs] };
  }

  /** The decoder, ready to run, from the JSON of wmlib.browser.decoder_weights. */
  function decoderFrom(weights) {
    return {
      dense: { kernel: unpack(weights.dense.kernel), bias: unpack(weights.dense.bias) },
      startShape: weights.start_shape,
      transposed: weights.transposed.map((layer) => ({
        kernel: unpack(layer.kernel),
        bias: unpack(layer.bias),
        stride: layer.stride,
        activation: layer.activation,
      })),
    };
  }

  /** z (an array of numbers) → the frame's values in [0, 1], (64, 64, 3) row-major. */
  function decode(decoder, z) {
    const first = dense(z, decoder.dense.kernel, decoder.dense.bias).map(activations.relu);
    let map = { values: first, shape: decoder.startShape };
    for (const layer of decoder.transposed) map = conv2dTranspose(map.values, map.shape, layer);
    return map.values;
  }

  /** Draw a decoded frame on a canvas of its size (64×64), rounding to grey levels as V does. */
  function drawFrame(canvas, values) {
    const context = canvas.getContext("2d");
    const picture = context.createImageData(canvas.width, canvas.height);
    for (let pixel = 0; pixel < canvas.width * canvas.height; pixel++) {
      for (let colour = 0; colour < 3; colour++) {
        picture.data[4 * pixel + colour] = Math.round(values[3 * pixel + colour] * 255);
      }
      picture.data[4 * pixel + 3] = 255;
    }
    context.putImageData(picture, 0, 0);
  }

  Object.assign(worldModels, { unpack, dense, decoderFrom, decode, drawFrame });
})((window.worldModels = window.worldModels || {}));
