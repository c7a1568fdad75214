#include "supervisor/workers/worker_message.h"

#include "base/utf8.h"

namespace isobar::supervisor {
namespace {

int Repair(std::string* text) { return MakeValidUtf8(text) ? 1 : 0; }

int Repair(isobar::worker::v1::Error* error) {
  return Repair(error->mutable_message()) + Repair(error->mutable_convex_error_data()) + Repair(error->mutable_stack());
}

}  // namespace

int MakeWorkerTextValid(isobar::worker::v1::WorkerMessage* message) {
  using isobar::worker::v1::Done;
  using isobar::worker::v1::WorkerMessage;
  int repaired = 0;
  switch (message->kind_case()) {
    case WorkerMessage::kHello:
      repaired += Repair(message->mutable_hello()->mutable_v8_version());
      break;
    case WorkerMessage::kHostCall:
      repaired += Repair(message->mutable_host_call()->mutable_op());
      repaired += Repair(message->mutable_host_call()->mutable_args_json());
      break;
    case WorkerMessage::kDone: {
      Done* done = message->mutable_done();
      if (done->outcome_case() == Done::kResultJson) repaired += Repair(done->mutable_result_json());
      if (done->outcome_case() == Done::kError) repaired += Repair(done->mutable_error());
      for (auto& line : *done->mutable_log_lines()) {
        repaired += Repair(line.mutable_level()) + Repair(line.mutable_message());
      }
      break;
    }
    default:
      break;
  }
  return repaired;
}

}  // namespace isobar::supervisor
