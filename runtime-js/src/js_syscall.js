// Prelude fragment: Convex.jsSyscall (CONVEX_ABI.md §2.9), implemented in JS with live values.
// The JSON shapes for HTTP are ours: request {url, method, headerPairs, body: base64 | null},
// response {status, statusText, headerPairs, body: base64 | null}.

const jsSyscalls = {
  requestFromConvexJson({ convexJson }) {
    const body = convexJson.body === null || convexJson.body === undefined ? null : native.base64Decode(convexJson.body);
    return new (webFetch().Request)(convexJson.url, { method: convexJson.method, headers: convexJson.headerPairs, body });
  },
  convexJsonFromResponse({ response }) {
    if (!(response instanceof webFetch().Response)) throw new Error("HTTP actions must return a Response");
    const bytes = webFetch().bodyBytesOf(response);
    return {
      status: response.status,
      statusText: response.statusText,
      headerPairs: [...response.headers],
      body: bytes === null ? null : native.base64Encode(bytes),
    };
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

function runJsSyscall(op, args) {
  const handler = Object.prototype.hasOwnProperty.call(jsSyscalls, op) ? jsSyscalls[op] : undefined;
  if (handler === undefined) throw new Error(`Unknown JS syscall: ${String(op).slice(0, 100)}`);
  return handler(args ?? {});
}
