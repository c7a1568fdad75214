#include "base/status_macros.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

absl::Status FailIf(bool fail) {
  return fail ? absl::NotFoundError("missing") : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool fail, int value) {
  if (fail) return absl::InvalidArgumentError("bad value");
  return std::make_unique<int>(value);
}

absl::Status Chain(bool fail_first, int* calls) {
  ++*calls;
  RETURN_IF_ERROR(FailIf(fail_first));
  ++*calls;
  return absl::OkStatus();
}

absl::StatusOr<int> Doubled(bool fail) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> value, MakeInt(fail, 21));  // move-only value
  return *value * 2;
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtFirstError) {
  int calls = 0;
  absl::Status status = Chain(/*fail_first=*/true, &calls);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "missing");
  EXPECT_EQ(calls, 1);
}

TEST(StatusMacrosTest, ReturnIfErrorContinuesOnOk) {
  int calls = 0;
  EXPECT_TRUE(Chain(/*fail_first=*/false, &calls).ok());
  EXPECT_EQ(calls, 2);
}

TEST(StatusMacrosTest, AssignOrReturnMovesValue) {
  absl::StatusOr<int> result = Doubled(false);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 42);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesError) {
  absl::StatusOr<int> result = Doubled(true);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "bad value");
}

TEST(StatusMacrosTest, ReturnIfErrorAcceptsStatusOr) {
  auto f = []() -> absl::Status {
    RETURN_IF_ERROR(MakeInt(true, 1));
    return absl::OkStatus();
  };
  EXPECT_EQ(f().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace isobar
