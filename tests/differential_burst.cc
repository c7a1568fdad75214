// Driver::Burst: concurrent clients and the invariants every serial order of their mutations keeps.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "tests/differential_driver.h"

namespace isobar::testing {

using storage::Value;

int Driver::Burst() {
  constexpr int kThreads = 8;
  const int burst = burst_++;
  const std::string table = absl::StrCat("e", burst);  // a new table: "insert if empty" on a missing table
  std::vector<std::string> names;
  for (int k = 0; k < 4; ++k) names.push_back(absl::StrCat("n", burst, "_", k));

  absl::Mutex mu;
  std::vector<std::string> ensured;
  std::map<std::string, int> claims;
  std::vector<int> increments(counters_.size(), 0);
  int withdrawals = 0, calls = 0;
  std::vector<std::string> failures;
  // A client retries what failed retryably (an OCC conflict beyond the server's retries, say).
  auto call = [&](const std::string& path, const std::string& args) -> std::optional<std::string> {
    for (int attempt = 0;; ++attempt) {
      FunctionResult r = Mutate(path, args);
      absl::MutexLock lock(&mu);
      ++calls;
      if (r.status.ok()) return r.response.result_json();
      if (!r.detail.retryable() || attempt == 30) {
        failures.push_back(absl::StrCat(path, " ", args, ": ", r.status.error_message()));
        return std::nullopt;
      }
    }
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        std::optional<std::string> id = call("model:ensure", absl::StrCat(R"({"table":")", table, R"("})"));
        absl::MutexLock lock(&mu);
        if (id.has_value()) ensured.push_back(*id);
      }
      for (const std::string& name : names) {
        std::optional<std::string> won = call("model:claim", absl::StrCat(R"({"name":")", name, R"("})"));
        absl::MutexLock lock(&mu);
        if (won == "true") ++claims[name];
      }
      const size_t counter = static_cast<size_t>(t) % counters_.size();
      for (int i = 0; i < 5; ++i) {
        std::optional<std::string> done = call("model:increment", absl::StrCat(R"({"id":")", counters_[counter], R"("})"));
        absl::MutexLock lock(&mu);
        if (done.has_value()) ++increments[counter];
      }
      for (int i = 0; i < 3; ++i) {
        std::optional<std::string> took =
            call("model:withdraw", absl::StrCat(R"({"x":")", account_x_, R"(","y":")", account_y_, R"(","fromX":)",
                                                (t + i) % 2 == 0 ? "true" : "false", "}"));
        absl::MutexLock lock(&mu);
        if (took == "true") ++withdrawals;
      }
    });
  }
  for (std::thread& client : clients) client.join();

  bool ok = true;
  auto check = [&ok](bool holds) {
    ok = ok && holds;
    return holds;
  };
  EXPECT_TRUE(check(failures.empty())) << "calls failed for good: " << failures.front();
  // "Insert if absent" on a table that did not exist: one document, and every client got it.
  Answer rows = Ask(*Value::MakeObject({{"kind", Value::String("collect")}, {"table", Value::String(table)}}), next_nonce_++);
  Value documents = rows.ok ? *storage::ParseConvexJson(rows.json) : Value::MakeArray({});
  EXPECT_TRUE(check(documents.array().size() == 1)) << "ensure on a new table made " << documents.array().size()
                                                    << " documents: " << rows.json << rows.error;
  for (const std::string& id : ensured) {
    EXPECT_TRUE(check(documents.array().size() == 1 && id == storage::ToConvexJson(documents.array()[0].Get("_id"))))
        << "a client got " << id;
  }
  // Claims through an index range: each name once.
  for (const std::string& name : names) {
    EXPECT_TRUE(check(claims[name] == 1)) << name << " was claimed " << claims[name] << " times";
    Value spec = *Value::MakeObject(
        {{"kind", Value::String("collect")}, {"table", Value::String("claims")}, {"index", Value::String("by_name")},
         {"range", Value::MakeArray({*Value::MakeObject({{"field", Value::String("name")}, {"op", Value::String("eq")},
                                                         {"value", Value::String(name)}})})}});
    Answer claimed = Ask(spec, next_nonce_++);
    EXPECT_TRUE(check(claimed.ok && storage::ParseConvexJson(claimed.json)->array().size() == 1))
        << name << ": " << claimed.json << claimed.error;
  }
  // Counters lose no acknowledged increment; write skew never overdraws.
  auto get = [&](const std::string& id) {
    Answer doc = Ask(*Value::MakeObject({{"kind", Value::String("get")}, {"id", Value::String(id)}}), next_nonce_++);
    return doc.ok ? *storage::ParseConvexJson(doc.json) : Value::Null();
  };
  for (size_t i = 0; i < counters_.size(); ++i) {
    counter_values_[i] += increments[i];
    const Value n = get(counters_[i]).Get("n");
    EXPECT_TRUE(check(n.type() == Value::Type::kFloat64 && n.float64() == counter_values_[i]))
        << "counter " << i << " is " << storage::ToConvexJson(n) << " after " << counter_values_[i] << " increments";
  }
  balance_ -= withdrawals;
  const double x = get(account_x_).Get("balance").float64(), y = get(account_y_).Get("balance").float64();
  EXPECT_TRUE(check(x + y == balance_ && x + y >= 0)) << "x " << x << " + y " << y << " after " << withdrawals
                                                       << " withdrawals (expected " << balance_ << ")";
  return ok ? calls : 0;
}

}  // namespace isobar::testing
