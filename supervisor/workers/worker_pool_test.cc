// WorkerPool decisions that need no worker: --sandbox=strict refuses to start when a namespace is
// refused here. (Everything with real workers is in tests/walking_skeleton_test.cc.)
#include "supervisor/workers/worker_pool.h"

#include <sched.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/namespaces.h"

namespace isobar::supervisor {
namespace {

TEST(WorkerPoolTest, StrictRefusesToStartWithoutEveryNamespace) {
  WorkerPoolOptions options;
  options.worker_binary = "/bin/true";  // never started
  options.namespaces = sandbox::kWorkerNamespaces;
  options.require_namespaces = true;
  // A machine (a container, say) that refuses network and IPC namespaces.
  options.plan_sandbox = [](int wanted) {
    sandbox::SandboxPlan plan;
    plan.namespaces = wanted & ~(CLONE_NEWNET | CLONE_NEWIPC);
    return plan;
  };
  WorkerPool pool(options);
  absl::Status started = pool.Start(nullptr);
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.message(), ::testing::HasSubstr("--sandbox=strict: this machine refuses the net, ipc namespace(s)"));
}

}  // namespace
}  // namespace isobar::supervisor
