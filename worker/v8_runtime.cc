#include "worker/v8_runtime.h"

#include "libplatform/libplatform.h"
#include "v8-initialization.h"

namespace isobar::worker {

std::unique_ptr<v8::Platform> InitializeV8(const char* argv0) {
  v8::V8::InitializeICUDefaultLocation(argv0);
  // Strings are never code (eval, new Function): refused for every context, not just ones we remember
  // to configure. WebAssembly is removed per context unless the deployment allows it (isolate_pool.cc).
  // Single-threaded GC keeps JS-visible timing free of helper-thread noise.
  constexpr char kFlags[] = "--disallow-code-generation-from-strings --single-threaded-gc";
  v8::V8::SetFlagsFromString(kFlags, sizeof(kFlags) - 1);
  std::unique_ptr<v8::Platform> platform = v8::platform::NewDefaultPlatform(/*thread_pool_size=*/1);
  v8::V8::InitializePlatform(platform.get());
  v8::V8::Initialize();
  return platform;
}

}  // namespace isobar::worker
