// The native side of runtime-js: the bindings the prelude receives (never globals), and the calls the
// evaluator makes into it. Each binding finds its Invocation through the calling context.
//
//   native.syscall(op, argsJson) -> string           HostCalls::Call, blocking
//   native.asyncSyscall(op, argsJson) -> Promise     queued on the invocation (CONVEX_ABI.md §2.10)
//   native.log(level, text)                          a captured log line (bounded)
//   native.randomBytes(n) -> ArrayBuffer             kernel randomness (actions)
//   native.digest(name, Uint8Array) -> ArrayBuffer   SHA-1/256/384/512
//   native.observedTime()                            the frozen clock was read (cached results expire)
//   native.base64Encode(Uint8Array) -> string        canonical base64 (the runtime's bodies and blobs)
//   native.base64Decode(string) -> Uint8Array        and back; throws on anything else
#ifndef ISOBAR_WORKER_BINDINGS_H_
#define ISOBAR_WORKER_BINDINGS_H_

#include <cstdint>
#include <string>

#include "v8-context.h"
#include "v8-function.h"
#include "v8-isolate.h"
#include "v8-promise.h"
#include "v8-script.h"

namespace isobar::worker {

class CodeCache;
struct Invocation;

// Compiles runtime-js's prelude for `isolate` (once; each context binds it), from `cache` when an
// earlier isolate left its code there.
v8::MaybeLocal<v8::UnboundScript> CompilePrelude(v8::Isolate* isolate, CodeCache& cache);
// Leaves the prelude's compiled code (including the functions that ran while it installed itself)
// in `cache` for later isolates, if it is not there yet.
void CachePrelude(v8::Local<v8::UnboundScript> prelude, CodeCache& cache);

// Runs the prelude in `context` with the native bindings; returns its enterInvocation function.
v8::MaybeLocal<v8::Function> InstallPrelude(v8::Local<v8::Context> context, v8::Local<v8::UnboundScript> prelude);

// Calls enterInvocation for one invocation. False if it threw (or execution was terminated).
bool EnterInvocation(v8::Local<v8::Context> context, v8::Local<v8::Function> enter, bool deterministic,
                     uint64_t seed, double unix_time_ms);

// The isolate's promise-reject callback: records unhandled rejections on the invocation.
// Adds a log line to `invocation`, within its limits on lines and line length. (native.log, and the
// lines of nested function calls as they return.)
void AppendLog(Invocation& invocation, std::string level, std::string line);

void OnPromiseReject(v8::PromiseRejectMessage message);

// The native callbacks above as V8 external references (null-terminated), for startup snapshots.
const intptr_t* BindingReferences();

// Touches what OpenSSL and the kernel initialise lazily for the bindings, before the sandbox.
void WarmUpBindings();

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_BINDINGS_H_
