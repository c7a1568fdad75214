// One turn of JavaScript for an invocation: the isolate, handle and context scopes, the invocation
// in its context's slot (where the bindings find it), the CPU watchdog armed, and a TryCatch. Both
// the evaluator's steps and the preload of a context's modules run JavaScript this way.
//
//   JsTurn turn(inv, watchdog, js_thread_clock, budget);
//   ... run JS in turn.context() ...
//   const bool terminated = turn.End();   // before reading turn.try_catch()
//
// End() stops the watchdog and reports whether the turn was cut short (its CPU budget ran out, the
// isolate's heap was exhausted, or V8 was terminating); it then cancels the termination, so the
// isolate can run the next turn. Leaving the scope ends the turn if End() was not called, and always
// clears the context's slot, so no binding reaches an invocation between its turns.
#ifndef ISOBAR_WORKER_JS_TURN_H_
#define ISOBAR_WORKER_JS_TURN_H_

#include <time.h>

#include "absl/time/time.h"
#include "v8-context.h"
#include "v8-exception.h"
#include "v8-isolate.h"
#include "v8-local-handle.h"
#include "worker/invocation.h"
#include "worker/isolate_pool.h"
#include "worker/watchdog.h"

namespace isobar::worker {

class JsTurn {
 public:
  // `inv` has its isolate and context; `budget` is the CPU time this turn may use.
  JsTurn(Invocation& inv, Watchdog& watchdog, clockid_t cpu_clock, absl::Duration budget)
      : inv_(inv),
        watchdog_(watchdog),
        isolate_scope_(inv.isolate->isolate()),
        handle_scope_(inv.isolate->isolate()),
        context_(inv.context->context.Get(inv.isolate->isolate())),
        context_scope_(context_),
        try_catch_(inv.isolate->isolate()) {
    context_->SetAlignedPointerInEmbedderData(kInvocationSlot, &inv_);
    watchdog_.Arm(inv.isolate->isolate(), cpu_clock, budget);
  }

  ~JsTurn() {
    if (!ended_) End();
    context_->SetAlignedPointerInEmbedderData(kInvocationSlot, nullptr);
  }

  JsTurn(const JsTurn&) = delete;
  JsTurn& operator=(const JsTurn&) = delete;
  // On the stack only, as V8's scopes and TryCatch must be.
  static void* operator new(size_t) = delete;

  v8::Local<v8::Context> context() const { return context_; }
  const v8::TryCatch& try_catch() const { return try_catch_; }

  // Stops the watchdog; true if the turn was cut short (and the termination is then cancelled).
  bool End() {
    ended_ = true;
    v8::Isolate* isolate = inv_.isolate->isolate();
    const bool terminated = watchdog_.Disarm() || try_catch_.HasTerminated() || isolate->IsExecutionTerminating() ||
                            inv_.isolate->heap_exhausted();
    if (terminated) isolate->CancelTerminateExecution();
    return terminated;
  }

 private:
  Invocation& inv_;
  Watchdog& watchdog_;
  bool ended_ = false;
  // In the order V8 needs them entered (and, in reverse, left).
  v8::Isolate::Scope isolate_scope_;
  v8::HandleScope handle_scope_;
  v8::Local<v8::Context> context_;
  v8::Context::Scope context_scope_;
  v8::TryCatch try_catch_;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_JS_TURN_H_
