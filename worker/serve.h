// The worker's JS-thread loop: takes events from the supervisor's stream and drives the evaluator,
// interleaving invocations. An invocation that waits for host results has its batch sent as
// asynchronous host calls; it resumes when all of them are answered, and meanwhile other invocations
// start and resume. When no event is waiting, the next context is prepared.
#ifndef ISOBAR_WORKER_SERVE_H_
#define ISOBAR_WORKER_SERVE_H_

#include "worker/evaluator.h"
#include "worker/host_channel.h"

namespace isobar::worker {

// Returns when the stream ends (every invocation still waiting has been finished by then).
// `module_source_bytes`: how much module source to keep by hash (worker/module_sources.h).
void Serve(HostChannel& channel, Evaluator& evaluator, size_t module_source_bytes = 256u << 20);

// A snapshot maker's life (--make-snapshot): waits for the one MakeSnapshot, makes the blob, answers
// SnapshotMade. Returns when the supervisor has ended the stream (after reading the answer).
void ServeSnapshotMaker(HostChannel& channel, Evaluator& evaluator);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_SERVE_H_
