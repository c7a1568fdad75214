// A client's live query set over Functions.Subscribe, read by a thread of its own, for tests that
// wait for what a subscriber sees: "does the value of query 3 become X within 10 s?".
//
//   LiveQueries live(channel, key, "board");
//   live.Add(1, "messages:list");
//   ASSERT_TRUE(live.WaitFor([](const LiveQueries::Values& v) { return v.count(1) > 0; }, absl::Seconds(10)));
//
// Values are the query's updated value_json, or "error: <message>" for a failed one; they change only
// as transitions arrive. Each transition must start where the previous one ended (checked).
#ifndef ISOBAR_TESTS_LIVE_QUERIES_H_
#define ISOBAR_TESTS_LIVE_QUERIES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"

namespace isobar::testing {

class LiveQueries {
 public:
  using Values = std::map<uint32_t, std::string>;

  LiveQueries(const std::shared_ptr<grpc::Channel>& channel, const std::string& key, std::string deployment);
  ~LiveQueries();  // cancels the stream and joins the reader

  // False when the stream is closed.
  bool Add(uint32_t id, const std::string& path, const std::string& args_json = "{}") ABSL_LOCKS_EXCLUDED(mu_);
  bool Remove(uint32_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits until `ready(values)` holds (true) or `timeout` passes or the stream ends (false).
  bool WaitFor(const std::function<bool(const Values&)>& ready, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until the server ends the stream; whether it did within `timeout`.
  bool AwaitEnd(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  Values values() const ABSL_LOCKS_EXCLUDED(mu_);
  // The end timestamp of the newest transition (0 before any).
  int64_t ts() const ABSL_LOCKS_EXCLUDED(mu_);
  // Problems seen in transitions (a chain broken, a stream error), for a test to report.
  std::string problems() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Read();

  const std::string deployment_;
  std::unique_ptr<isobar::v1::Functions::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<isobar::v1::SubscribeRequest, isobar::v1::Transition>> stream_;
  absl::Mutex write_mu_;  // one writer at a time on the stream
  mutable absl::Mutex mu_;
  Values values_ ABSL_GUARDED_BY(mu_);
  int64_t ts_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::string problems_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_LIVE_QUERIES_H_
