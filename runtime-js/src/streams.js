// Prelude fragment: the Web Streams classes (web-streams-polyfill, bundled as loadWebStreams(), as
// Convex's runtime bundles it), made on first use in a context; TextEncoderStream and
// TextDecoderStream over them.

const webStreams = once(() => {
  const classes = loadWebStreams();
  class TextEncoderStream extends classes.TransformStream {
    constructor() {
      super({
        transform(chunk, controller) {
          const text = String(chunk);
          if (text.length > 0) controller.enqueue(utf8Encode(text));
        },
      });
    }
    get encoding() { return "utf-8"; }
    get [Symbol.toStringTag]() { return "TextEncoderStream"; }
  }
  class TextDecoderStream extends classes.TransformStream {
    constructor(label = "utf-8", options = {}) {
      const decoder = new TextDecoder(label, options);
      super({
        transform(chunk, controller) {
          const text = decoder.decode(chunk, { stream: true });
          if (text.length > 0) controller.enqueue(text);
        },
        flush(controller) {
          const text = decoder.decode();
          if (text.length > 0) controller.enqueue(text);
        },
      });
    }
    get encoding() { return "utf-8"; }
    get [Symbol.toStringTag]() { return "TextDecoderStream"; }
  }
  return { ...classes, TextEncoderStream, TextDecoderStream };
});
for (const name of [
  "ReadableStream", "ReadableStreamDefaultReader", "ReadableStreamBYOBReader", "ReadableStreamBYOBRequest",
  "ReadableByteStreamController", "ReadableStreamDefaultController", "TransformStream",
  "TransformStreamDefaultController", "WritableStream", "WritableStreamDefaultWriter",
  "WritableStreamDefaultController", "ByteLengthQueuingStrategy", "CountQueuingStrategy", "TextEncoderStream",
  "TextDecoderStream",
]) {
  defineLazy(name, () => webStreams()[name]);
}

// A stream of one chunk: `bytes` (a Uint8Array the stream may keep).
const byteStream = (bytes) =>
  new (webStreams().ReadableStream)({
    start(controller) {
      if (bytes.length > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
