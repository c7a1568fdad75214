// The generator and checker behind tests/differential_test.cc: one deployment of tests/apps/model on a
// real supervisor, a Model of what it holds, and seeded random writes and query specs.
//
//   Driver driver(supervisor, "diff-1", /*seed=*/1);
//   ASSERT_TRUE(driver.Start().ok());
//   driver.Write();                          // a random write; the model follows what the server did
//   driver.CheckQuery(driver.PoolSpec());    // cached == fresh == model, or a test failure
//
// Query specs come from a pool that mostly repeats (so cached results are asked again after writes)
// and slowly renews. Failures are reported with gtest assertions that print the spec and the three
// answers; the functions return false once something failed.
#ifndef ISOBAR_TESTS_DIFFERENTIAL_DRIVER_H_
#define ISOBAR_TESTS_DIFFERENTIAL_DRIVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/value.h"
#include "tests/differential_model.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {

class Driver {
 public:
  Driver(SupervisorProcess& supervisor, std::string deployment, uint64_t seed);

  // Creates the deployment, pushes the app with the first schema, and sets up the burst's documents.
  absl::Status Start();

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const std::string& key() const { return key_; }
  const std::string& deployment() const { return deployment_; }
  size_t documents() const;

  uint32_t Roll(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }

  // A spec from the pool (sometimes a new one, replacing an old one).
  storage::Value PoolSpec();
  // `{"spec": spec}` as Convex JSON, the arguments of model:run.
  std::string ArgsOf(const storage::Value& spec, int64_t nonce = -1) const;

  // The spec asked twice (the second answer may come from the cache), asked with a nonce (never
  // cached), and computed by the model: all three must agree. A page that continues is followed
  // once (its continuation is checked the same way, and may join the pool).
  bool CheckQuery(const storage::Value& spec, bool follow_page = true);
  // One random write, or a schema push now and then; the model follows what the server says.
  bool Write();
  // Whether `seen` (a subscription's value_json, or "error: ...") is what the model says of `spec`.
  bool Matches(const storage::Value& spec, const std::string& seen) const;
  // What the model says of `spec`, for messages.
  std::string Expect(const storage::Value& spec) const;

  // Concurrent clients (8 threads) running read-then-write mutations, then the invariants every
  // serial order keeps. The operations run, or 0 after a failure.
  int Burst();

 private:
  struct Answer {
    bool ok = false;
    std::string json;   // canonical Convex JSON of the value (ok)
    std::string error;  // the message (not ok)
  };

  Answer Ask(const storage::Value& spec, int64_t nonce);
  FunctionResult Mutate(const std::string& path, const std::string& args_json);
  // The part of an answer the model predicts (a page's documents, for paginate).
  std::string Predictable(const storage::Value& spec, const std::string& json) const;
  // What the model says of `spec`. A cursor names its index by id: one from before its index was
  // dropped and made again belongs to another index, and is refused.
  Model::Expected Want(const storage::Value& spec) const;
  bool AgreesWithModel(const storage::Value& spec, const Answer& answer, const char* what) const;

  storage::Value NewSpec();
  storage::Value RandomSource(const std::string& kind);
  storage::Value RandomRange(const std::string& index);
  storage::Value RandomFieldValue(const std::string& field);
  storage::Value RandomDocument();
  std::string RandomTable();
  std::string RandomId(bool live_only);
  absl::Status PushSchema(int variant);

  SupervisorProcess& supervisor_;
  const std::string deployment_;
  std::mt19937_64 rng_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<isobar::v1::Functions::Stub> stub_;
  std::string key_;
  Model model_;
  std::vector<storage::Value> pool_;
  std::vector<std::string> deleted_ids_;
  struct Cursor {
    std::vector<storage::Value> after;  // the key of the last document of its page
    int generation = 0;                 // of its index, when it was made
  };
  std::map<std::string, Cursor> cursors_;  // by continueCursor
  std::map<std::string, int> index_generation_;  // "table.index" -> times (re)created by a push
  std::map<std::string, Model::UserIndexes> schema_;
  int schema_variant_ = 0;
  int64_t next_nonce_ = 1;
  int burst_ = 0;
  // The burst's documents.
  std::vector<std::string> counters_;
  std::vector<int> counter_values_;
  std::string account_x_, account_y_;
  int balance_ = 0;
};

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_DIFFERENTIAL_DRIVER_H_
