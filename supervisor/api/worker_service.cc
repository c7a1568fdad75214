#include "supervisor/api/worker_service.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/frames.h"
#include "base/log.h"
#include "base/monotonic.h"
#include "supervisor/workers/stage_timings.h"
#include "supervisor/workers/worker_message.h"

namespace isobar::supervisor {

using isobar::worker::v1::HostMessage;
using isobar::worker::v1::WorkerMessage;

WorkerService::~WorkerService() { Shutdown(); }

void WorkerService::Connect(int fd, WorkerPool::Connection connection) {
  absl::MutexLock lock(&mu_);
  // The readers of workers that went are joined here (at once: they are done), not kept.
  for (auto it = readers_.begin(); it != readers_.end();) {
    if (!it->done.load()) {
      ++it;
      continue;
    }
    it->thread.join();
    it = readers_.erase(it);
  }
  Reader& reader = readers_.emplace_back();
  reader.thread = std::thread([this, fd, connection, done = &reader.done] {
    Serve(fd, connection);
    done->store(true);  // last: nothing after this needs the pool or the service
  });
}

void WorkerService::Shutdown() {
  pool_.Shutdown();
  std::list<Reader> readers;
  {
    absl::MutexLock lock(&mu_);
    readers.swap(readers_);
  }
  for (Reader& reader : readers) reader.thread.join();
}

void WorkerService::Serve(int fd, WorkerPool::Connection attached) {
  prctl(PR_SET_NAME, "isobar-worker-rx");
  auto writer = std::make_shared<WorkerStream>(fd);
  if (absl::Status refused = pool_.Attach(attached, fd, writer); !refused.ok()) {
    // (A worker that died before its reader started: the pool has moved on.)
    ISOBAR_LOG(kInfo, "workers") << "no stream for a worker that is gone: " << refused.message();
    close(fd);
    return;
  }
  const WorkerId worker = attached.worker;
  bool said_hello = false;
  std::string violation;
  WorkerMessage message;
  bool told_repair = false;
  FrameReader reader(fd);
  while (violation.empty()) {
    absl::StatusOr<std::string> frame = reader.Read();
    if (!frame.ok()) {
      // The end of the stream, between messages, is how a worker that exits or dies is seen.
      if (frame.status().code() == absl::StatusCode::kDataLoss) violation = std::string(frame.status().message());
      break;
    }
    if (!message.ParseFromString(*frame)) {
      violation = "a message that does not parse";
      break;
    }
    if (MakeWorkerTextValid(&message) > 0 && !told_repair) {
      told_repair = true;  // once per stream: a worker cannot flood the log this way
      ISOBAR_LOG(kWarning, "workers") << "worker " << worker << " sent text that is not UTF-8; it was repaired";
    }
    switch (message.kind_case()) {
      case WorkerMessage::kHello:
        if (said_hello) {
          violation = "a second Hello";
          break;
        }
        said_hello = true;
        pool_.OnHello(attached, message.hello());
        break;
      case WorkerMessage::kHostCall: {
        const auto& call = message.host_call();
        WorkerPool::Running running;
        if (said_hello) running = pool_.FindRunning(attached, call.invocation_id());
        if (!running.running) {
          // Identity comes from the connection: a worker may only act for the invocations it runs.
          ISOBAR_LOG(kSecurity, "workers") << "worker " << worker << " made a host call for invocation "
                                           << call.invocation_id() << ", which it is not running; refused";
          HostMessage reply;
          auto* result = reply.mutable_host_result();
          result->set_invocation_id(call.invocation_id());
          result->set_call_id(call.call_id());
          result->mutable_error()->set_code(static_cast<int>(absl::StatusCode::kPermissionDenied));
          result->mutable_error()->set_message("host call for an invocation this worker is not running");
          writer->Write(reply);
          break;
        }
        // Served off this thread: the stream keeps reading other invocations' calls meanwhile.
        StageTimings* timings = running.stage_label >= 0 ? pool_.stage_timings() : nullptr;
        const int64_t received_ns = timings != nullptr ? MonotonicNanos() : 0;
        router_.Handle(worker, std::move(running.session), std::move(*message.mutable_host_call()),
                       [writer, timings, received_ns, label = running.stage_label](isobar::worker::v1::HostResult result) {
                         HostMessage reply;
                         *reply.mutable_host_result() = std::move(result);
                         writer->Write(reply);
                         if (timings != nullptr) {
                           timings->Add(label, Stage::kHostServe, absl::Nanoseconds(MonotonicNanos() - received_ns));
                         }
                       });
        break;
      }
      case WorkerMessage::kDone:
        if (!said_hello) {
          violation = "Done before Hello";
          break;
        }
        pool_.OnDone(attached, std::move(*message.mutable_done()));
        break;
      case WorkerMessage::kHeartbeat:
        pool_.OnHeartbeat(attached, message.heartbeat());
        break;
      case WorkerMessage::kPrepared:
        pool_.OnPrepared(attached);
        break;
      case WorkerMessage::kSnapshotMade:
        violation = "SnapshotMade (only a snapshot maker sends it, on its own stream)";
        break;
      case WorkerMessage::KIND_NOT_SET:
        violation = "an empty message";
        break;
    }
  }
  pool_.Detach(attached);  // it kills a live worker
  writer->Close();
  if (!violation.empty()) {
    ISOBAR_LOG(kSecurity, "workers") << "worker " << worker << " broke the protocol (" << violation << ")";
  }
  close(fd);  // after Close: no reply is written to it any more
}

}  // namespace isobar::supervisor
