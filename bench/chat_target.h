// A deployment of tests/apps/chat under load, for the benchmarks that compare systems on it
// (bench/peer, bench/scaling): its Functions stub and key, and a new document for every get, so that
// the query cache answers none.
#ifndef ISOBAR_BENCH_CHAT_TARGET_H_
#define ISOBAR_BENCH_CHAT_TARGET_H_

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "isobar/worker/v1/worker.pb.h"
#include "storage/convex_json.h"
#include "tests/supervisor_fixture.h"

namespace isobar::bench {

// Documents each deployment gets: more than the gets of a benchmark's rounds.
inline constexpr int kChatDocuments = 24000;

struct ChatTarget {
  std::string name;
  std::string deployment;
  std::string key;
  std::unique_ptr<isobar::v1::Functions::Stub> stub;
  std::vector<std::string> get_args;  // {"id": ...} of every document, read in turn
  std::atomic<size_t> next{0};
  // Per scenario, the value of each round.
  std::map<std::string, std::vector<double>> rounds;
  // At 16 in flight: CPU microseconds per call by process name, summed over the rounds; and calls.
  std::map<std::string, std::map<std::string, double>> cpu_us;
  std::map<std::string, double> calls;

  bool Call(bool mutation, const std::string& path, const std::string& args, std::string* result = nullptr) {
    testing::FunctionResult called =
        testing::CallFunction(*stub, mutation ? testing::CallKind::kMutation : testing::CallKind::kQuery,
                              {.deployment = deployment, .key = key, .path = path, .args_json = args});
    if (!called.status.ok()) {
      std::fprintf(stderr, "%s %s: %s\n", name.c_str(), path.c_str(), called.status.error_message().c_str());
      return false;
    }
    if (result != nullptr) *result = called.response.result_json();
    return true;
  }
  bool Get() { return Call(false, "messages:get", get_args[next.fetch_add(1) % get_args.size()]); }
  bool Send() { return Call(true, "messages:send", R"({"channel":"bench","author":"ann","body":"hello"})"); }
};

// Creates `target.deployment` on `supervisor` with the chat app and `policy`, and fills it.
inline absl::Status DeployChat(testing::SupervisorProcess& supervisor, ChatTarget& target,
                               isobar::v1::ContextPolicy policy) {
  absl::StatusOr<std::string> key = supervisor.Deploy(target.deployment, "tests/apps/chat.modules", nullptr, policy);
  if (!key.ok()) return key.status();
  target.key = *key;
  target.stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()));
  for (int batch = 0; batch < kChatDocuments / 3000; ++batch) {
    std::string ids_json;
    if (!target.Call(true, "messages:sendMany", R"({"channel":"bench","n":3000})", &ids_json)) {
      return absl::InternalError("sendMany failed");
    }
    absl::StatusOr<storage::Value> parsed = storage::ParseConvexJson(ids_json);
    if (!parsed.ok() || parsed->type() != storage::Value::Type::kArray) return absl::InternalError("sendMany: no ids");
    for (const storage::Value& id : parsed->array()) target.get_args.push_back(absl::StrCat(R"({"id":")", id.string(), R"("})"));
  }
  return absl::OkStatus();
}

// The worker's Invoke of the chat app's messages:get (`bundle`: tests/apps/chat.modules), for the
// benchmarks that run the engine in process (bench/isolate, bench/peer's raw fresh realm).
inline worker::v1::Invoke ChatGetInvoke(uint64_t id, const std::vector<worker::v1::Module>& bundle,
                                        worker::v1::Invoke::ContextPolicy policy) {
  worker::v1::Invoke invoke;
  invoke.set_invocation_id(id);
  invoke.set_deployment("chat");
  invoke.set_context_policy(policy);
  invoke.set_cpu_budget_ms(1000);
  worker::v1::FunctionCall* call = invoke.mutable_function();
  call->set_kind(worker::v1::FunctionCall::QUERY);
  call->set_module_path("messages.js");
  call->set_export_name("get");
  call->set_args_json(R"([{"id":"x"}])");
  for (const worker::v1::Module& module : bundle) *call->add_modules() = module;
  return invoke;
}

}  // namespace isobar::bench

#endif  // ISOBAR_BENCH_CHAT_TARGET_H_
