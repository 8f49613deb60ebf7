// The chapters' widgets on the static page: each <div class="world-models-widget"> that
// wmlib/browser.py: static_widget saved holds its data as JSON; this builds a working widget
// from it, with plain HTML controls, once the page has loaded.
"use strict";
(function (worldModels) {
  /** A new element with attributes, and children appended. */
  function element(tag, attributes = {}, ...children) {
    const node = Object.assign(document.createElement(tag), attributes);
    node.append(...children);
    return node;
  }

  /** A labelled range input that calls `onInput(value)` as it moves. */
  function slider(label, { min, max, step, value }, onInput) {
    const input = element("input", { type: "range", min, max, step, value });
    const shown = element("output", { value: Number(value).toFixed(2) });
    input.addEventListener("input", () => {
      shown.value = Number(input.value).toFixed(2);
      onInput(Number(input.value));
    });
    const row = element("label", { className: "world-models-slider" }, label, input, shown);
    return { input, row };
  }

  /** A 64×64 canvas shown `width` pixels wide, with crisp pixels. */
  function frameCanvas(width) {
    return element("canvas", { width: 64, height: 64, style: `width: ${width}px` });
  }

  /** A slider over precomputed frames (the episode player, the gate and generation viewers). */
  function framePlayer(root, data) {
    const style = `width: ${data.width}px; max-width: 100%`;
    const image = element("img", { src: data.frames[0], style });
    const caption = element("div", {
      className: "world-models-caption",
      textContent: data.captions[0],
    });
    const last = data.frames.length - 1;
    const { row } = slider(data.label, { min: 0, max: last, step: 1, value: 0 }, (index) => {
      image.src = data.frames[index];
      caption.textContent = data.captions[index];
    });
    row.querySelector("output").remove();
    root.append(row, image, caption);
  }

  /** Sliders over latent dimensions of V, decoded in the browser (chapter 2). */
  function latentSliders(root, data) {
    const decoder = worldModels.decoderFrom(data.decoder);
    const random = worldModels.seededRandom(1);
    const original = element("img", { style: `width: ${data.width}px` });
    const decoded = frameCanvas(data.width);
    const caption = element("div", { className: "world-models-caption" });
    let z = [];
    let example = 0;
    const redraw = () => worldModels.drawFrame(decoded, worldModels.decode(decoder, z));
    const sliders = data.dimensions.map((dimension) => {
      const range = { min: -3, max: 3, step: 0.05, value: 0 };
      return slider(`z[${dimension}]`, range, (value) => {
        z[dimension] = value;
        redraw();
      });
    });
    const show = (start) => {
      z = [...start];
      data.dimensions.forEach((dimension, index) => {
        const value = Math.min(3, Math.max(-3, z[dimension]));
        sliders[index].input.value = value;
        sliders[index].row.querySelector("output").value = value.toFixed(2);
      });
      redraw();
    };
    const nextFrame = () => {
      original.src = data.frames[example];
      original.style.visibility = "visible";
      caption.textContent = `left: frame ${data.examples[example]}; right: decoded from z`;
      show(data.means[example]);
      example = (example + 1) % data.frames.length;
    };
    const priorSample = () => {
      original.style.visibility = "hidden";
      caption.textContent = "right: z drawn from the prior N(0, I)";
      show(data.means[0].map(() => random.normal()));
    };
    const buttons = [
      element("button", { textContent: "random frame", onclick: nextFrame }),
      element("button", { textContent: "sample prior", onclick: priorSample }),
    ];
    const rows = sliders.map((each) => each.row);
    const grid = element("div", { className: "world-models-grid" }, ...rows);
    const pictures = element("div", {}, original, decoded);
    root.append(element("div", {}, ...buttons), pictures, caption, grid);
    nextFrame();
  }

  /** Act inside M's dream, decoded by V, both in the browser (chapters 5 and 10). */
  function dreamPlayer(root, data) {
    const decoder = worldModels.decoderFrom(data.decoder);
    const memory = worldModels.memoryFrom(data.memory);
    const picture = frameCanvas(data.width);
    const caption = element("div", { className: "world-models-caption" });
    const action = data.actions.map(([, , , start]) => start);
    let temperature = 1;
    const controls = data.actions.map(([name, min, max, value], index) =>
      slider(name, { min, max, step: 0.05, value }, (moved) => (action[index] = moved)),
    );
    const range = { min: 0.05, max: 2, step: 0.05, value: 1 };
    controls.push(slider("temperature", range, (moved) => (temperature = moved)));
    let dream;
    const show = (ended) => {
      worldModels.drawFrame(picture, worldModels.decode(decoder, dream.z));
      const end = ended ? " (M predicts the episode ends)" : "";
      caption.textContent = `dream step ${dream.steps}${end}`;
    };
    const restart = () => {
      const [h, c] = data.initial_memory.map((values) => Float32Array.from(values));
      const random = worldModels.seededRandom(data.seed);
      dream = { z: data.initial_z, state: { h, c }, steps: 0, random };
      show(false);
    };
    const step = () => {
      const { z, state, random } = dream;
      const next = worldModels.dreamStep(memory, z, action, state, temperature, random);
      Object.assign(dream, { z: next.z, state: next.state, steps: dream.steps + 1 });
      show(next.done > 0.5);
    };
    const buttons = [
      element("button", { textContent: "step", onclick: step }),
      element("button", { textContent: "restart", onclick: restart }),
    ];
    const rows = controls.map((each) => each.row);
    root.append(element("div", {}, ...buttons), picture, caption, ...rows);
    restart();
  }

  const builders = {
    "frame-player": framePlayer,
    "latent-sliders": latentSliders,
    "dream-player": dreamPlayer,
  };

  /** Build every saved widget of the page that is not built yet. */
  function buildWidgets() {
    for (const root of document.querySelectorAll(".world-models-widget:not(.built)")) {
      const data = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
      root.classList.add("built");
      root.querySelector(".world-models-fallback").remove();
      builders[root.dataset.kind](root, data);
    }
  }

  Object.assign(worldModels, { buildWidgets });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", buildWidgets);
  } else {
    buildWidgets();
  }
})((window.worldModels = window.worldModels || {}));
