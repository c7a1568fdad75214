// Prelude fragment: fetch() in actions and HTTP actions. The worker has no sockets: the supervisor makes
// the request (supervisor/runner/fetch_calls.h), under the deployment's egress policy, and the bodies
// travel a part at a time both ways, so a large one is never held whole here.
//
// Failures are Convex's: a malformed request or a refused redirect is a TypeError, the network (or the
// egress policy, or a limit) an Error, an abort a DOMException named AbortError.

const kFetchPartBytes = 1 << 20;  // a request body goes in parts of at most this
const kInlineBodyBytes = 16 << 20;  // a body given as bytes up to this travels with the request

const fetchAbortError = () => new (webEvents().DOMException)("The signal has been aborted", "AbortError");

// A fetch host call's JSON result; throws the failure it reports ({error: {type, message}}).
function fetchResult(text) {
  const result = jsonParse(text);
  if (result !== null && typeof result === "object" && result.error !== undefined) {
    throw result.error.type === "TypeError" ? new TypeError(result.error.message) : new Error(result.error.message);
  }
  return result;
}
const fetchCall = async (op, args) => fetchResult(await asyncSyscall(op, jsonStringify(args)));

const kRedirectModes = ["follow", "manual", "error"];
// A fetch's id is the runtime's, so that an abort can name a fetch whose start is still on its way.
let nextFetchId = 1;

async function actionFetch(input, init = undefined) {
  requireArgumentCount(arguments.length, 1, "fetch", "Window");
  const { Request, bodyBytesOf, bodyStreamOf, takeBodyStream, fetchedResponse } = webFetch();
  const request = new Request(input, init);  // the URL, method, headers and body, checked as Convex does
  const redirect = init?.redirect === undefined ? "follow" : String(init.redirect);
  if (!kRedirectModes.includes(redirect)) {
    throw new TypeError(`Failed to execute 'fetch': '${redirect.slice(0, 50)}' is not a valid redirect mode`);
  }
  const signal = init?.signal ?? (input instanceof Request ? input.signal : null);
  if (signal?.aborted) throw fetchAbortError();

  let stream = bodyStreamOf(request);
  let body = null;
  if (stream === null) {
    const bytes = bodyBytesOf(request);
    if (bytes !== null && bytes.length > kInlineBodyBytes) {
      stream = byteStream(bytes);  // a very large body goes in parts
    } else if (bytes !== null) {
      body = native.base64Encode(bytes);
    }
  } else {
    stream = takeBodyStream(request, "fetch");
  }
  const id = nextFetchId++;
  let finished = false;
  const cancel = () => {
    if (finished) return;
    finished = true;
    asyncSyscall("isobar/fetchCancel", jsonStringify({ id })).catch(() => {});
  };
  const onAbort = () => cancel();
  signal?.addEventListener("abort", onAbort);
  const failure = (error) => (signal?.aborted ? fetchAbortError() : error);
  // Without a body to stream, the answer carries the response's head too.
  let started;
  try {
    started = await fetchCall("isobar/fetchStart", {
      id, url: request.url, method: request.method, headerPairs: [...request.headers], body, streamed: stream !== null,
      redirect,
    });
  } catch (error) {
    finished = true;
    signal?.removeEventListener("abort", onAbort);
    throw failure(error);
  }

  // A streamed request body is sent while the response is awaited (a server may answer before it has
  // read it all); a stream that fails ends the request.
  let uploadError = null;
  if (stream !== null) {
    (async () => {
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!(value instanceof Uint8Array)) {
          throw new TypeError("Failed to execute 'fetch': the body stream gave a chunk that is not a Uint8Array");
        }
        for (let at = 0; at < value.length; at += kFetchPartBytes) {
          const data = native.base64Encode(value.subarray(at, at + kFetchPartBytes));
          await fetchCall("isobar/fetchWrite", { id, data, last: false });
        }
      }
      await fetchCall("isobar/fetchWrite", { id, data: "", last: true });
    })().catch((error) => {
      uploadError = error;
      cancel();
    });
  }

  let head = started.head;
  try {
    if (head === undefined) head = await fetchCall("isobar/fetchHead", { id });
  } catch (error) {
    finished = true;
    signal?.removeEventListener("abort", onAbort);
    throw failure(uploadError ?? error);
  }
  if (signal?.aborted) {  // aborted as the head arrived
    cancel();
    signal.removeEventListener("abort", onAbort);
    throw fetchAbortError();
  }
  const nullBody = request.method === "HEAD" || [101, 204, 205, 304].includes(head.status);
  if (nullBody) {
    cancel();
    signal?.removeEventListener("abort", onAbort);
    return fetchedResponse(head, null);
  }
  const bodyStream = new (webStreams().ReadableStream)({
    async pull(controller) {
      try {
        // "d:<base64>" a part, "e:<base64>" the last part, "e:" the end; JSON only for a failure.
        const text = await asyncSyscall("isobar/fetchRead", jsonStringify({ id }));
        if (text[0] === "{") fetchResult(text);  // a failure: throws it
        if (text.length > 2) controller.enqueue(native.base64Decode(text.slice(2)));
        if (text[0] === "e") {
          finished = true;
          signal?.removeEventListener("abort", onAbort);
          controller.close();
        }
      } catch (error) {
        finished = true;
        signal?.removeEventListener("abort", onAbort);
        controller.error(failure(error));
      }
    },
    cancel() {
      cancel();
      signal?.removeEventListener("abort", onAbort);
    },
  });
  return fetchedResponse(head, bodyStream);
}
