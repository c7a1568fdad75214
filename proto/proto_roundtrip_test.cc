// The generated code links, and messages survive serialisation unchanged, including the oneofs that
// multiplex the worker stream.
#include <string>

#include "gtest/gtest.h"
#include "isobar/v1/api.pb.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar {
namespace {

TEST(ProtoRoundTripTest, HostCallInWorkerMessage) {
  worker::v1::WorkerMessage message;
  worker::v1::HostCall* call = message.mutable_host_call();
  call->set_invocation_id(7);
  call->set_call_id(3);
  call->set_op("isobar/echo");
  call->set_args_json(R"({"x":"\u00e9"})");

  std::string bytes;
  ASSERT_TRUE(message.SerializeToString(&bytes));
  worker::v1::WorkerMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_EQ(parsed.kind_case(), worker::v1::WorkerMessage::kHostCall);
  EXPECT_EQ(parsed.host_call().invocation_id(), 7u);
  EXPECT_EQ(parsed.host_call().call_id(), 3u);
  EXPECT_EQ(parsed.host_call().op(), "isobar/echo");
  EXPECT_EQ(parsed.host_call().args_json(), R"({"x":"\u00e9"})");
}

TEST(ProtoRoundTripTest, DoneCarriesErrorOrResult) {
  worker::v1::WorkerMessage message;
  worker::v1::Done* done = message.mutable_done();
  done->set_invocation_id(9);
  done->mutable_error()->set_code(4);
  done->mutable_error()->set_message("CPU time limit exceeded");
  done->add_log_lines()->set_message("hello");

  worker::v1::WorkerMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(message.SerializeAsString()));
  ASSERT_EQ(parsed.done().outcome_case(), worker::v1::Done::kError);
  EXPECT_EQ(parsed.done().error().code(), 4);
  EXPECT_EQ(parsed.done().log_lines(0).message(), "hello");
}

TEST(ProtoRoundTripTest, TruncatedBytesAreRejected) {
  v1::EvalRequest request;
  request.set_source(std::string(300, 'x'));
  std::string bytes = request.SerializeAsString();
  bytes.resize(bytes.size() / 2);
  v1::EvalRequest parsed;
  EXPECT_FALSE(parsed.ParseFromString(bytes));
}

}  // namespace
}  // namespace isobar
