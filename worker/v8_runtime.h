// Process-wide V8 initialisation: ICU, the platform (with its worker threads) and V8 itself.
//
// Call InitializeV8 once, on the main thread, before any isolate exists and before the seccomp filter
// goes in (the platform starts threads and V8 reads CPU features). The returned platform must outlive
// every isolate; workers never tear V8 down (they _exit once sandboxed).
#ifndef ISOBAR_WORKER_V8_RUNTIME_H_
#define ISOBAR_WORKER_V8_RUNTIME_H_

#include <memory>

#include "v8-platform.h"

namespace isobar::worker {

std::unique_ptr<v8::Platform> InitializeV8(const char* argv0);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_V8_RUNTIME_H_
