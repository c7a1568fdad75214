// The worker's side of isobar.worker.v1 over a real socketpair, framed as the supervisor frames it
// (base/frames.h): the worker's channel,
// evaluator and serve loop (in a thread of this process, on real V8) against an in-process fake host
// that speaks the protocol as a scripted supervisor. Shows invocations interleaving over the wire:
// one waits for its host call while another's batch is answered and finishes first.
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "base/frames.h"
#include "gtest/gtest.h"
#include "isobar/worker/v1/worker.pb.h"
#include "worker/evaluator.h"
#include "worker/host_channel.h"
#include "worker/module_hash.h"
#include "worker/serve.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::HostMessage;
using isobar::worker::v1::WorkerMessage;

// The supervisor's end of the socketpair, as a stream of messages.
class Stream {
 public:
  explicit Stream(int fd) : reader_(fd), writer_(fd) {}
  bool Read(WorkerMessage* message) {
    absl::StatusOr<std::string> frame = reader_.Read();
    return frame.ok() && message->ParseFromString(*frame);
  }
  void Write(const HostMessage& message) { ASSERT_TRUE(writer_.Write(message.SerializeAsString()).ok()); }

 private:
  FrameReader reader_;
  FrameWriter writer_;
};

// A scripted supervisor: Connect runs the script; when it returns, the stream ends.
class Host {
 public:
  virtual ~Host() = default;
  virtual void Connect(Stream* stream) = 0;
};

HostMessage InvokeQuery(uint64_t id, const std::string& body,
                        v1::Invoke::ContextPolicy policy = v1::Invoke::FRESH) {
  const std::string source = absl::StrCat("export const fn = { isQuery: true, invokeQuery: async () => JSON.stringify(await (",
                                          body, ")()) };");
  HostMessage message;
  v1::Invoke* invoke = message.mutable_invoke();
  invoke->set_invocation_id(id);
  invoke->set_deployment("d");
  invoke->set_cpu_budget_ms(1000);
  invoke->set_context_policy(policy);
  v1::FunctionCall* call = invoke->mutable_function();
  call->set_kind(v1::FunctionCall::QUERY);
  call->set_module_path("m.js");
  call->set_export_name("fn");
  call->set_args_json("[{}]");
  *call->add_modules() = ModuleFromSource("m.js", source);
  return message;
}

HostMessage Answer(const v1::HostCall& call, const std::string& result_json) {
  HostMessage message;
  message.mutable_host_result()->set_invocation_id(call.invocation_id());
  message.mutable_host_result()->set_call_id(call.call_id());
  message.mutable_host_result()->set_result_json(result_json);
  return message;
}

// A scripted supervisor. Everything it receives is recorded as "call <invocation> <op> <args>" or
// "done <invocation> <result or error>".
class FakeHost final : public Host {
 public:
  void Connect(Stream* stream) override {
    auto next = [&]() {
      WorkerMessage message;
      // Prepared (the end of idle work) comes whenever the worker finds itself idle: not scripted here.
      while (stream->Read(&message) && message.has_prepared()) {
      }
      if (message.has_host_call()) {
        const auto& call = message.host_call();
        received.push_back(absl::StrCat("call ", call.invocation_id(), " ", call.op(), " ", call.args_json()));
      } else if (message.has_done()) {
        const auto& done = message.done();
        received.push_back(absl::StrCat("done ", done.invocation_id(), " ",
                                        done.has_error() ? done.error().message() : done.result_json()));
      }
      return message;
    };
    // 1 waits for a slow host call; 2 reads two documents concurrently (one batch of two calls).
    stream->Write(InvokeQuery(1, "async () => JSON.parse(await Convex.asyncSyscall('slow', '{}'))"));
    const v1::HostCall slow = next().host_call();
    stream->Write(InvokeQuery(2, "async () => Promise.all([Convex.asyncSyscall('1.0/get', '{\"id\":\"a\"}'), "
                                 "Convex.asyncSyscall('1.0/get', '{\"id\":\"b\"}')]).then((r) => r.map((x) => JSON.parse(x)))"));
    const v1::HostCall get_a = next().host_call();
    const v1::HostCall get_b = next().host_call();
    // Answered in the opposite order; 2 finishes while 1 still waits.
    stream->Write(Answer(get_b, R"("B")"));
    stream->Write(Answer(get_a, R"("A")"));
    next();  // done 2
    stream->Write(Answer(slow, R"("slow result")"));
    next();  // done 1
    // A synchronous syscall blocks its invocation until answered.
    stream->Write(InvokeQuery(3, "async () => JSON.parse(Convex.syscall('sync', '7'))"));
    const v1::HostCall sync = next().host_call();
    stream->Write(Answer(sync, "8"));
    next();  // done 3
    // A cancelled invocation sends no Done, even when its result arrives afterwards.
    stream->Write(InvokeQuery(4, "async () => await Convex.asyncSyscall('never', '{}')"));
    const v1::HostCall never = next().host_call();
    HostMessage cancel;
    cancel.mutable_cancel()->set_invocation_id(4);
    stream->Write(cancel);
    stream->Write(Answer(never, "1"));
    stream->Write(InvokeQuery(5, "async () => 'after cancel'"));
    next();  // done 5
  }
  std::vector<std::string> received;
};

// Runs the worker's serve loop (in a thread, on real V8) against `host` over a socketpair, until the
// host ends the stream.
void ServeAgainst(Host& host) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  std::thread worker([fd = fds[1]] {
    absl::StatusOr<std::unique_ptr<HostChannel>> channel = HostChannel::Open(fd);
    ASSERT_TRUE(channel.ok()) << channel.status();
    Watchdog watchdog;
    Evaluator evaluator(**channel, watchdog, {});
    Serve(**channel, evaluator);
  });
  {
    Stream stream(fds[0]);
    host.Connect(&stream);
  }
  shutdown(fds[0], SHUT_RDWR);  // the worker's loop returns
  worker.join();
  close(fds[0]);
}

TEST(HostProtocolTest, InvocationsInterleaveOverTheRealProtocol) {
  FakeHost host;
  ServeAgainst(host);
  EXPECT_THAT(host.received,
              ::testing::ElementsAre("call 1 slow {}", R"(call 2 1.0/get {"id":"a"})", R"(call 2 1.0/get {"id":"b"})",
                                     R"(done 2 ["A","B"])", R"(done 1 "slow result")", "call 3 sync 7", "done 3 8",
                                     "call 4 never {}", R"(done 5 "after cancel")"));
}

// A Done after which the worker has nothing running and idle work to do says so (Done.preparing), and
// Prepared follows once that work is over; the supervisor places calls elsewhere meanwhile.
class IdleWorkHost final : public Host {
 public:
  void Connect(Stream* stream) override {
    auto read = [&]() {
      WorkerMessage message;
      if (!stream->Read(&message)) return std::string("end");
      if (message.has_prepared()) return std::string("prepared");
      if (message.has_host_call()) {
        stream->Write(Answer(message.host_call(), "1"));
        return std::string("call");
      }
      if (message.has_done()) return absl::StrCat("done ", message.done().invocation_id(), " preparing=", message.done().preparing());
      return std::string("other");
    };
    const std::string body = "async () => JSON.parse(await Convex.asyncSyscall('1.0/get', '{}'))";
    // The first call: a spare isolate and the next context are still to be made.
    stream->Write(InvokeQuery(1, body, v1::Invoke::WARM));
    for (int i = 0; i < 3; ++i) received.push_back(read());
    // Warm again: its context is reused, the prepared one stays, nothing to do.
    stream->Write(InvokeQuery(2, body, v1::Invoke::WARM));
    for (int i = 0; i < 2; ++i) received.push_back(read());
    // Fresh: it takes the prepared context, and the next one is made (its module evaluated ahead).
    stream->Write(InvokeQuery(3, body));
    for (int i = 0; i < 3; ++i) received.push_back(read());
  }
  std::vector<std::string> received;
};

TEST(HostProtocolTest, IdleWorkIsAnnouncedInDoneAndItsEndReported) {
  IdleWorkHost host;
  ServeAgainst(host);
  EXPECT_THAT(host.received, ::testing::ElementsAre("call", "done 1 preparing=1", "prepared",  //
                                                    "call", "done 2 preparing=0",                //
                                                    "call", "done 3 preparing=1", "prepared"));
}

}  // namespace
}  // namespace isobar::worker
