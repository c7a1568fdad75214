#include "supervisor/runner/syscalls.h"

#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

// Served on the worker stream's reader thread (host_call_router.h): only ops that can never wait on
// PostgreSQL or on the session's lock (which a read holds while it waits on PostgreSQL).
TEST(SyscallsTest, OnlyOpsThatNeitherReadNorLockAreImmediate) {
  for (const char* op : {"1.0/getUserIdentity", "1.0/getFunctionMetadata", "1.0/getDeploymentMetadata"}) {
    EXPECT_TRUE(IsImmediateSyscall(op)) << op;
    EXPECT_TRUE(IsSessionSyscall(op)) << op;
  }
  for (const char* op : {"1.0/get", "1.0/insert", "1.0/shallowMerge", "1.0/replace", "1.0/remove", "1.0/db/normalizeId",
                         "1.0/queryStream", "1.0/queryStreamNext", "1.0/queryCleanup", "1.0/queryPage", "1.0/count",
                         "1.0/schedule", "1.0/cancel_job", "1.0/getSnapshotTs", "1.0/getTransactionMetrics",
                         "isobar/env", "isobar/sleep", "1.0/actions/query", "no/such/op", ""}) {
    EXPECT_FALSE(IsImmediateSyscall(op)) << op;
  }
}

TEST(SyscallsTest, TheIdentityIsAnsweredFromTheSessionAndMarkedRead) {
  InvocationSession session;
  session.identity_json = R"({"subject":"u1","issuer":"https://issuer.test","tokenIdentifier":"https://issuer.test|u1"})";
  absl::StatusOr<std::string> identity = ServeSyscall(session, "1.0/getUserIdentity", "{}");
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(*identity, session.identity_json);
  EXPECT_TRUE(session.identity_read->load());  // a cached result is then this caller's alone

  InvocationSession refused;
  refused.identity_error = "the token has expired";
  absl::StatusOr<std::string> error = ServeSyscall(refused, "1.0/getUserIdentity", "{}");
  EXPECT_EQ(error.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(error.status().message(), "the token has expired");
  EXPECT_TRUE(refused.identity_read->load());
}

}  // namespace
}  // namespace isobar::supervisor
