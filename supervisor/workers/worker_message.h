// What a worker says, made safe to read. The text fields of the worker protocol are `bytes` on the
// wire (worker.proto says why); user code chooses much of what they hold, so a log line, an error
// message or a result may be anything. Every message read from a worker's stream goes through
// MakeWorkerTextValid first: each text field becomes well-formed UTF-8 (U+FFFD for what is not), so
// nothing downstream (public protos, JSON, logs) ever sees ill-formed text, and no string a tenant
// writes can break the stream that other tenants' calls share.
#ifndef ISOBAR_SUPERVISOR_WORKERS_WORKER_MESSAGE_H_
#define ISOBAR_SUPERVISOR_WORKERS_WORKER_MESSAGE_H_

#include "isobar/worker/v1/worker.pb.h"

namespace isobar::supervisor {

// How many text fields needed repair (0 for a worker that behaves).
int MakeWorkerTextValid(isobar::worker::v1::WorkerMessage* message);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_WORKERS_WORKER_MESSAGE_H_
