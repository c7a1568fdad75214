// Everything the supervisor does with a message from a worker before it touches the database: the
// protobuf parse, the UTF-8 repair of every text field, the error and log conversions into public
// API messages (which must then serialize and parse as the public proto, whose strings are checked),
// and the decoding of a host call's arguments (JSON, a query, ids) and of a result.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/utf8.h"
#include "isobar/v1/api.pb.h"
#include "isobar/worker/v1/worker.pb.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "storage/query.h"
#include "supervisor/runner/error_detail.h"
#include "supervisor/runner/syscall_args.h"
#include "supervisor/workers/worker_message.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using isobar::worker::v1::Done;
using isobar::worker::v1::WorkerMessage;

// A public message made of worker text must survive the public proto's UTF-8 checks.
template <typename Message>
void RoundTrips(const Message& message) {
  std::string wire;
  FUZZ_CHECK(message.SerializeToString(&wire));
  Message back;
  FUZZ_CHECK(back.ParseFromString(wire));
}

void HostCallArguments(const std::string& args_json) {
  absl::StatusOr<isobar::storage::Value> args = isobar::supervisor::ParseSyscallArgs(args_json);
  if (!args.ok()) return;
  if (args->Get("query").type() == isobar::storage::Value::Type::kObject) {
    (void)isobar::storage::ParseQuery(args->Get("query"));
  }
  for (const char* field : {"id", "idString"}) {
    const isobar::storage::Value& id = args->Get(field);
    if (id.type() == isobar::storage::Value::Type::kString) (void)isobar::storage::DecodeDocumentId(id.string());
  }
  (void)isobar::supervisor::CallArguments(*args);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  WorkerMessage message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) return 0;
  isobar::supervisor::MakeWorkerTextValid(&message);
  FUZZ_CHECK(isobar::supervisor::MakeWorkerTextValid(&message) == 0);  // repaired once and for all
  switch (message.kind_case()) {
    case WorkerMessage::kHostCall:
      FUZZ_CHECK(isobar::IsValidUtf8(message.host_call().op()));
      HostCallArguments(message.host_call().args_json());
      break;
    case WorkerMessage::kDone: {
      const Done& done = message.done();
      for (const auto& line : done.log_lines()) {
        isobar::v1::LogLine out;
        out.set_level(line.level());
        out.set_message(line.message());
        RoundTrips(out);
      }
      if (done.outcome_case() == Done::kError) {
        RoundTrips(isobar::supervisor::DescribeWorkerError(done.error()).detail);
      } else if (done.outcome_case() == Done::kResultJson) {
        (void)isobar::storage::ParseConvexJson(done.result_json());
      }
      break;
    }
    case WorkerMessage::kHello: {
      isobar::v1::WorkerStats stats;
      stats.set_state(message.hello().v8_version());
      RoundTrips(stats);
      break;
    }
    default:
      break;
  }
  return 0;
}
