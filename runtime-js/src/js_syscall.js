// Prelude fragment: Convex.jsSyscall (CONVEX_ABI.md §2.9), implemented in JS with live values.
// The JSON shapes for HTTP are ours: request {url, method, headerPairs, body: base64 | null,
// streamed?: true}, response {status, statusText, headerPairs, body: base64 | null}.

const jsSyscalls = {
  requestFromConvexJson({ convexJson }) {
    // A large body comes as the handler reads it (isobar/httpRequestRead), a part at a time.
    const body = convexJson.streamed === true ? requestBodyStream()
      : convexJson.body === null || convexJson.body === undefined ? null : native.base64Decode(convexJson.body);
    return new (webFetch().Request)(convexJson.url, { method: convexJson.method, headers: convexJson.headerPairs, body });
  },
  convexJsonFromResponse({ response }) {
    if (!(response instanceof webFetch().Response)) throw new Error("HTTP actions must return a Response");
    if (webFetch().bodyStreamOf(response) !== null) {
      // Only runHttpAction sends a stream as it comes; the convex package's runRequest wants bytes.
      throw new Error("A streamed Response body can only be returned from an HTTP action");
    }
    const bytes = webFetch().bodyBytesOf(response);
    return {
      status: response.status,
      statusText: response.statusText,
      headerPairs: [...response.headers],
      body: bytes === null ? null : native.base64Encode(bytes),
    };
  },
  "isobar/runHttpAction"({ router, args, path }) {
    return runHttpAction(router, args, path);
  },
  "storage/storeBlob"({ requestId, version, blob, options }) {
    if (!isBlob(blob)) throw new Error("store() expects a Blob");
    return asyncSyscall("1.0/storage/storeBlob", jsonStringify({
      requestId, version, sha256: options?.sha256, contentType: blob.type || null, data: native.base64Encode(blobBytes(blob)),
    })).then((result) => jsonParse(result));
  },
  "storage/getBlob"({ requestId, version, storageId }) {
    return asyncSyscall("1.0/storage/getBlob", jsonStringify({ requestId, version, storageId })).then((result) => {
      const parsed = jsonParse(result);
      return parsed === null ? null : new (webBlob().Blob)([native.base64Decode(parsed.data)], { type: parsed.contentType ?? "" });
    });
  },
};

function requestBodyStream() {
  return new (webStreams().ReadableStream)({
    async pull(controller) {
      const part = jsonParse(await asyncSyscall("isobar/httpRequestRead", "{}"));
      if (part.done) {
        controller.close();
      } else {
        controller.enqueue(native.base64Decode(part.data));
      }
    },
  });
}

// An HTTP action, run as the convex package's router.runRequest runs it (CONVEX_ABI.md §3.3), with one
// difference: a Response whose body is a stream is sent as the stream gives it. Its status and headers
// go with isobar/httpResponseStart, each chunk with isobar/httpResponseChunk, each host call awaited
// (so a client that reads slowly slows the handler down), and the result is {"streamed":true}. The
// worker calls this (call_steps.cc) through Convex.jsSyscall("isobar/runHttpAction").
async function runHttpAction(router, args, path) {
  const { Response, bodyStreamOf, takeBodyStream } = webFetch();
  const request = jsSyscalls.requestFromConvexJson({ convexJson: jsonParse(args) });
  const match = router.lookup(path, request.method);
  const response = match ? await match[0].invokeHttpAction(request)
                         : new Response(`No HttpAction routed for ${path}`, { status: 404 });
  if (!(response instanceof Response) || bodyStreamOf(response) === null) {
    return jsonStringify(jsSyscalls.convexJsonFromResponse({ response }));
  }
  const reader = takeBodyStream(response, "HTTP action").getReader();
  await asyncSyscall("isobar/httpResponseStart", jsonStringify({ status: response.status, headerPairs: [...response.headers], body: null }));
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof Uint8Array)) {
      throw new TypeError("An HTTP action's response body stream gave a chunk that is not a Uint8Array");
    }
    if (value.length > 0) await asyncSyscall("isobar/httpResponseChunk", jsonStringify({ data: native.base64Encode(value) }));
  }
  return jsonStringify({ streamed: true });
}

function runJsSyscall(op, args) {
  const handler = Object.prototype.hasOwnProperty.call(jsSyscalls, op) ? jsSyscalls[op] : undefined;
  if (handler === undefined) throw new Error(`Unknown JS syscall: ${String(op).slice(0, 100)}`);
  return handler(args ?? {});
}
