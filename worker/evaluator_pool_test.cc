// The evaluator's step machine and isolate pool on real V8: interleaved invocations, per-deployment
// isolates (isolation, LRU, recycling, statistics), fresh and warm contexts, the code cache, limits
// on arguments and results, and the import phase.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/evaluator.h"
#include "worker/module_hash.h"
#include "worker/module_loader.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::FunctionCall;
using isobar::worker::v1::Invoke;
using ::testing::HasSubstr;

// A Convex-shaped export without the npm package: invokeQuery/invokeMutation/invokeAction call `body`.
std::string Exported(const std::string& flag, const std::string& method, const std::string& body) {
  return absl::StrCat("{ ", flag, ": true, isPublic: true, ", method, ": async (...a) => JSON.stringify(await (", body,
                      ")(...a)) }");
}

class RecordingHost : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId invocation, absl::string_view op, absl::string_view args) override {
    calls.push_back(absl::StrCat(invocation.value(), " ", op, " ", args));
    return std::string(args);
  }
  std::vector<std::string> calls;
};

class EvaluatorPoolTest : public ::testing::Test {
 protected:
  // The module "m.js" of `deployment` exporting `fn` as a query (or the given kind) running `body`.
  Invoke Query(uint64_t id, const std::string& deployment, const std::string& module_source,
               const std::string& args = "[{}]", Invoke::ContextPolicy policy = Invoke::FRESH) {
    Invoke invoke;
    invoke.set_invocation_id(id);
    invoke.set_deployment(deployment);
    invoke.set_context_policy(policy);
    invoke.set_cpu_budget_ms(1000);
    FunctionCall* call = invoke.mutable_function();
    call->set_kind(FunctionCall::QUERY);
    call->set_module_path("m.js");
    call->set_export_name("fn");
    call->set_args_json(args);
    *call->add_modules() = ModuleFromSource("m.js", module_source);
    return invoke;
  }
  std::string QueryModule(const std::string& body) { return absl::StrCat("export const fn = ", Exported("isQuery", "invokeQuery", body), ";"); }

  RecordingHost host_;
  Watchdog watchdog_;
  EvaluatorLimits limits_;
};

TEST_F(EvaluatorPoolTest, InvocationsInterleaveWhileOneWaitsForTheHost) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string waits = QueryModule("async () => JSON.parse(await Convex.asyncSyscall('slow', '\"a\"'))");
  Evaluator::Step a = evaluator.Start(Query(1, "d", waits));
  ASSERT_FALSE(a.done.has_value());
  ASSERT_EQ(a.batches.size(), 1u);
  ASSERT_EQ(a.batches[0].calls.size(), 1u);
  EXPECT_EQ(a.batches[0].calls[0].op, "slow");
  // While 1 waits, 2 runs to completion in the same isolate, and 3 in another deployment's.
  Evaluator::Step b = evaluator.Start(Query(2, "d", QueryModule("async () => 'b'")));
  ASSERT_TRUE(b.done.has_value());
  EXPECT_EQ(*b.done->result_json, R"("b")");
  Evaluator::Step c = evaluator.Start(Query(3, "e", QueryModule("async () => 'c'")));
  ASSERT_TRUE(c.done.has_value());
  EXPECT_EQ(evaluator.running(), 1u);
  Evaluator::Step resumed = evaluator.Resume(InvocationId(1), 1, {std::string(R"("from host")")});
  ASSERT_TRUE(resumed.done.has_value());
  EXPECT_EQ(*resumed.done->result_json, R"("from host")");
  EXPECT_EQ(evaluator.running(), 0u);
}

// An action's calls go out together and settle in whatever order the host answers them (a fetch and
// a timer wait side by side); a query's go one batch at a time.
TEST_F(EvaluatorPoolTest, AnActionsCallsAreOutTogether) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string both =
      "async () => { const [a, b] = await Promise.all([Convex.asyncSyscall('first', '1'),"
      " Convex.asyncSyscall('second', '2')]); return JSON.parse(a) + JSON.parse(b); }";
  Invoke action = Query(1, "d", absl::StrCat("export const fn = ", Exported("isAction", "invokeAction", both), ";"));
  action.mutable_function()->set_kind(FunctionCall::ACTION);
  Evaluator::Step step = evaluator.Start(action);
  ASSERT_FALSE(step.done.has_value());
  ASSERT_EQ(step.batches.size(), 2u);
  EXPECT_EQ(step.batches[0].calls[0].op, "first");
  EXPECT_EQ(step.batches[1].calls[0].op, "second");
  Evaluator::Step waiting = evaluator.Resume(InvocationId(1), step.batches[1].id, {std::string(R"("b")")});
  ASSERT_FALSE(waiting.done.has_value());
  EXPECT_TRUE(waiting.batches.empty());
  Evaluator::Step done = evaluator.Resume(InvocationId(1), step.batches[0].id, {std::string(R"("a")")});
  ASSERT_TRUE(done.done.has_value());
  EXPECT_EQ(*done.done->result_json, R"("ab")");
  // At most 64 calls out at once; the rest wait their turn.
  const std::string hundred =
      "async () => (await Promise.all(Array.from({ length: 100 }, (_, i) => Convex.asyncSyscall('op', String(i)))))"
      ".length";
  Invoke many = Query(3, "d", absl::StrCat("export const fn = ", Exported("isAction", "invokeAction", hundred), ";"));
  many.mutable_function()->set_kind(FunctionCall::ACTION);
  Evaluator::Step first = evaluator.Start(many);
  ASSERT_EQ(first.batches.size(), 64u);
  Evaluator::Step next = evaluator.Resume(InvocationId(3), first.batches[0].id, {std::string("0")});
  ASSERT_EQ(next.batches.size(), 1u);
  EXPECT_EQ(next.batches[0].calls[0].args_json, "64");
  evaluator.Cancel(InvocationId(3));
  // A batch that is not out is refused.
  Evaluator::Step query = evaluator.Start(Query(2, "d", QueryModule(both)));
  ASSERT_EQ(query.batches.size(), 1u);
  EXPECT_EQ(query.batches[0].calls[0].op, "first");
  EXPECT_EQ(evaluator.Resume(InvocationId(2), query.batches[0].id + 1, {std::string("1")}).done->result_json.status().code(),
            absl::StatusCode::kInternal);
}

TEST_F(EvaluatorPoolTest, TheCpuBudgetSpansSlices) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  // Spins `a` iterations, waits for the host, spins `b` more.
  const std::string spins = QueryModule(
      "async (args) => { const { a, b } = JSON.parse(args)[0];"
      " const spin = (n) => { let x = 0; for (let i = 0; i < n; i++) x += i % 7; return x; };"
      " spin(a); await Convex.asyncSyscall('x', '1'); spin(b); return 1; }");
  auto run = [&](uint64_t id, int a, int b, absl::Duration budget) {
    Invoke invoke = Query(id, "d", spins, absl::StrCat(R"([{"a":)", a, R"(,"b":)", b, "}]"));
    invoke.set_cpu_budget_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(budget)));
    Evaluator::Step step = evaluator.Start(invoke);
    EXPECT_FALSE(step.done.has_value()) << "the first slice should fit the budget";
    if (step.done.has_value()) return std::move(*step.done);
    return std::move(*evaluator.Resume(InvocationId(id), 1, {std::string("1")}).done);
  };
  constexpr int kUnit = 30'000'000;
  run(1, kUnit, 0, absl::Seconds(10));  // warm the JIT
  const absl::Duration unit = run(2, kUnit, 0, absl::Seconds(10)).cpu_time;
  // A budget of 2.5 units: 1 unit before the host call fits, 1 + 4 in all does not.
  InvocationResult over = run(3, kUnit, 4 * kUnit, std::max(unit * 2.5, absl::Milliseconds(2)));
  EXPECT_EQ(over.result_json.status().code(), absl::StatusCode::kDeadlineExceeded);
  InvocationResult within = run(4, kUnit, kUnit / 4, std::max(unit * 2.5, absl::Milliseconds(2)));
  EXPECT_TRUE(within.result_json.ok()) << within.result_json.status();
  // The isolate of the terminated invocation was retired; the next one got a new isolate.
  EXPECT_EQ(evaluator.isolate_stats().recycles, 1u);
}

TEST_F(EvaluatorPoolTest, CancelDropsAWaitingInvocation) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  Evaluator::Step step = evaluator.Start(Query(1, "d", QueryModule("async () => await Convex.asyncSyscall('x', '1')")));
  ASSERT_FALSE(step.done.has_value());
  evaluator.Cancel(InvocationId(1));
  EXPECT_EQ(evaluator.running(), 0u);
  EXPECT_EQ(evaluator.Resume(InvocationId(1), 1, {std::string("1")}).done->result_json.status().code(),
            absl::StatusCode::kNotFound);
}

// Invoke.prefetched answers a db.get of one of its ids in the worker (no host call) while the function
// has made only reads; a get naming a table, one of another id, and any get after a write go to the
// host. Done says which ids were answered, once per get.
TEST_F(EvaluatorPoolTest, PrefetchedDocumentsAnswerGetsUntilTheFunctionWrites) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string body =
      "async () => { const get = (id, more) => Convex.asyncSyscall('1.0/get', JSON.stringify({ id, isSystem: false, "
      "version: '1.0', ...more })); const a = await get('doc1'); const b = await get('doc2'); "
      "const c = await get('doc1', { table: 't' }); const s = await get('doc1', { isSystem: true }); "
      "const again = await get('doc1'); await Convex.asyncSyscall('1.0/insert', '{}'); const d = await get('doc1'); "
      "return [a, b, c, s, again, d]; }";
  Invoke invoke = Query(1, "d", QueryModule(body));
  isobar::worker::v1::Prefetched* prefetched = invoke.add_prefetched();
  prefetched->set_id("doc1");
  prefetched->set_result_json(R"({"_id":"doc1","n":1})");
  // Run as Evaluator::Run does, noting which batch says which prefetched ids were used before it.
  std::vector<std::vector<std::string>> reported;
  Evaluator::Step step = evaluator.Start(invoke);
  while (!step.done.has_value()) {
    ASSERT_EQ(step.batches.size(), 1u);
    const HostBatch batch = std::move(step.batches.front());
    reported.push_back(batch.prefetched_used);
    std::vector<absl::StatusOr<std::string>> results;
    for (const HostRequest& call : batch.calls) results.push_back(host_.Call(InvocationId(1), call.op, call.args_json));
    step = evaluator.Resume(InvocationId(1), batch.id, std::move(results));
  }
  InvocationResult result = std::move(*step.done);
  ASSERT_TRUE(result.result_json.ok()) << result.result_json.status();
  // The host echoes the arguments it was sent.
  // Each use is told once: with the next batch (so the host counts it before serving it), else in Done.
  using ::testing::ElementsAre;
  using ::testing::IsEmpty;
  EXPECT_THAT(reported, ElementsAre(ElementsAre("doc1"), IsEmpty(), IsEmpty(), ElementsAre("doc1"), IsEmpty()));
  EXPECT_THAT(result.prefetch_used, IsEmpty());
  ASSERT_EQ(host_.calls.size(), 5u);
  EXPECT_THAT(host_.calls[3], HasSubstr("1.0/insert"));
  EXPECT_THAT(host_.calls[4], HasSubstr("1.0/get"));  // after the write: the host answers
}

// Deciding whether a get may be answered ahead runs none of user code's JavaScript: a getter on
// Object.prototype (which could queue a write first) is never called.
TEST_F(EvaluatorPoolTest, APrefetchedGetRunsNoUserGetter) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string body =
      "async () => { let called = 0; for (const name of ['table', 'isSystem', 'id']) "
      "Object.defineProperty(Object.prototype, name, { get() { called++; return undefined; }, configurable: true }); "
      "const doc = await Convex.asyncSyscall('1.0/get', '{\"id\":\"doc1\"}'); "
      "for (const name of ['table', 'isSystem', 'id']) delete Object.prototype[name]; return [doc, called]; }";
  Invoke invoke = Query(1, "d", QueryModule(body));
  isobar::worker::v1::Prefetched* prefetched = invoke.add_prefetched();
  prefetched->set_id("doc1");
  prefetched->set_result_json("null");
  InvocationResult result = evaluator.Run(invoke);
  ASSERT_TRUE(result.result_json.ok()) << result.result_json.status();
  EXPECT_EQ(*result.result_json, R"(["null",0])");
  EXPECT_TRUE(host_.calls.empty());
}

TEST_F(EvaluatorPoolTest, DeploymentsNeverShareState) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string sets = QueryModule("async () => { globalThis.secret = 'A'; Object.prototype.polluted = 1; return 'set'; }");
  const std::string reads = QueryModule("async () => [typeof secret, ({}).polluted === undefined]");
  ASSERT_EQ(*evaluator.Run(Query(1, "A", sets)).result_json, R"("set")");
  EXPECT_EQ(*evaluator.Run(Query(2, "B", reads)).result_json, R"(["undefined",true])");
  // Fresh: A's next invocation does not see it either.
  EXPECT_EQ(*evaluator.Run(Query(3, "A", reads)).result_json, R"(["undefined",true])");
}

TEST_F(EvaluatorPoolTest, WarmContextsKeepModuleStateForTheSameCode) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string counter =
      "let n = 0; export const fn = { isQuery: true, invokeQuery: async () => JSON.stringify([++n, Math.random()]) };";
  Invoke first = Query(1, "A", counter, "[{}]", Invoke::WARM);
  first.set_seed(5);
  const std::string a = *evaluator.Run(first).result_json;
  Invoke second = Query(2, "A", counter, "[{}]", Invoke::WARM);
  second.set_seed(5);
  const std::string b = *evaluator.Run(second).result_json;
  EXPECT_THAT(a, ::testing::StartsWith("[1,"));
  EXPECT_THAT(b, ::testing::StartsWith("[2,"));
  // Per-request globals are reset: the same seed gives the same random number.
  EXPECT_EQ(a.substr(2), b.substr(2));
  // Other code, or the fresh policy, starts over; so does another deployment.
  EXPECT_THAT(*evaluator.Run(Query(3, "A", counter + " // v2", "[{}]", Invoke::WARM)).result_json, ::testing::StartsWith("[1,"));
  EXPECT_THAT(*evaluator.Run(Query(4, "A", counter)).result_json, ::testing::StartsWith("[1,"));
  EXPECT_THAT(*evaluator.Run(Query(5, "B", counter, "[{}]", Invoke::WARM)).result_json, ::testing::StartsWith("[1,"));
}

TEST_F(EvaluatorPoolTest, ASpareIsolateMadeWhileIdleServesTheNextNewDeployment) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  evaluator.Prepare();  // idle: a spare isolate, with a context ready
  EXPECT_EQ(evaluator.isolate_stats().creations, 1u);
  const std::string sets = QueryModule("async () => { globalThis.secret = 'A'; return 'set'; }");
  ASSERT_EQ(*evaluator.Run(Query(1, "A", sets)).result_json, R"("set")");
  EXPECT_EQ(evaluator.isolate_stats().creations, 1u);  // A adopted the spare
  evaluator.Prepare();
  EXPECT_EQ(evaluator.isolate_stats().creations, 2u);
  // B adopts a spare that never ran anything: nothing of A's is there.
  EXPECT_EQ(*evaluator.Run(Query(2, "B", QueryModule("async () => typeof secret"))).result_json, R"("undefined")");
  EXPECT_EQ(evaluator.isolate_stats().creations, 2u);
  EXPECT_EQ(evaluator.isolate_stats().misses, 2u);
}

// Top-level code records when it ran: the invocation's frozen time when modules evaluate on the
// request path, the real clock when they were evaluated ahead (preload.h).
TEST_F(EvaluatorPoolTest, IdleWorkersEvaluateTheLastCallsModulesAhead) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string module =
      "console.log('top level'); const loadedAt = Date.now(); let calls = 0;"
      " export const fn = { isQuery: true, invokeQuery: async () => JSON.stringify([loadedAt, ++calls]) };";
  auto run = [&](uint64_t id, const std::string& source, double now) {
    Invoke invoke = Query(id, "A", source);
    invoke.set_unix_time_ms(now);
    return evaluator.Run(invoke);
  };
  InvocationResult first = run(1, module, 1000);
  EXPECT_EQ(*first.result_json, "[1000,1]");
  evaluator.Prepare();  // idle: the next context evaluates m.js
  InvocationResult second = run(2, module, 2000);
  const double real_now = static_cast<double>(absl::ToUnixMillis(absl::Now()));
  double loaded_at = 0;
  ASSERT_TRUE(absl::SimpleAtod(second.result_json->substr(1, second.result_json->find(',') - 1), &loaded_at))
      << *second.result_json;
  EXPECT_GT(loaded_at, real_now - 60'000) << "evaluated ahead, at the real time";
  EXPECT_THAT(*second.result_json, ::testing::EndsWith(",1]")) << "a context that ran no function";
  // The top-level output reaches the invocation that took the context, once.
  ASSERT_EQ(second.logs.size(), 1u);
  EXPECT_EQ(second.logs[0].message, "'top level'");  // quoted, as Convex logs strings
  // Other code cannot use a context preloaded with m.js: its modules evaluate on the request path.
  evaluator.Prepare();
  EXPECT_EQ(*run(3, module + " // v2", 3000).result_json, "[3000,1]");

  // Top-level code that calls the host is never evaluated ahead: the call belongs to an invocation.
  const std::string reads_env =
      "const mode = Convex.syscall('isobar/env', '{}'); const loadedAt = Date.now();"
      " export const fn = { isQuery: true, invokeQuery: async () => JSON.stringify(loadedAt) };";
  EXPECT_EQ(*run(4, reads_env, 4000).result_json, "4000");
  host_.calls.clear();
  evaluator.Prepare();
  EXPECT_TRUE(host_.calls.empty());
  EXPECT_EQ(*run(5, reads_env, 5000).result_json, "5000");
  EXPECT_THAT(host_.calls, ::testing::ElementsAre("5 isobar/env {}"));
  // Nor is top-level code that throws; the invocation reports the error as before.
  const std::string throws = "if (Date.now() > 6500) throw new Error('late'); export const fn = { isQuery: true, invokeQuery: async () => '1' };";
  EXPECT_EQ(*run(6, throws, 6000).result_json, "1");
  evaluator.Prepare();
  EXPECT_THAT(run(7, throws, 7000).result_json.status().message(), HasSubstr("late"));
}

TEST_F(EvaluatorPoolTest, InvocationsSayWhetherTheyReadTheClock) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  EXPECT_FALSE(evaluator.Run(Query(1, "A", QueryModule("async () => Math.random()"))).observed_time);
  EXPECT_TRUE(evaluator.Run(Query(2, "A", QueryModule("async () => Date.now()"))).observed_time);
  EXPECT_TRUE(evaluator.Run(Query(3, "A", QueryModule("async () => new Date().getTime()"))).observed_time);
  EXPECT_FALSE(evaluator.Run(Query(4, "A", QueryModule("async () => new Date(0).getTime()"))).observed_time);
  // Read at import time: every invocation of that module depends on it, preloaded or not.
  const std::string at_import = "const t = Date.now(); export const fn = { isQuery: true, invokeQuery: async () => String(t) };";
  EXPECT_TRUE(evaluator.Run(Query(5, "A", at_import)).observed_time);
  evaluator.Prepare();
  EXPECT_TRUE(evaluator.Run(Query(6, "A", at_import)).observed_time);
  Invoke warm = Query(7, "A", at_import, "[{}]", Invoke::WARM);
  EXPECT_TRUE(evaluator.Run(warm).observed_time);
  warm.set_invocation_id(8);
  EXPECT_TRUE(evaluator.Run(warm).observed_time) << "the warm context's module read it once, for all";
}

TEST_F(EvaluatorPoolTest, LeastRecentlyUsedIsolatesAreEvicted) {
  limits_.max_isolates = 2;
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string ok = QueryModule("async () => 1");
  for (const char* deployment : {"A", "B", "A", "C", "A"}) {
    ASSERT_TRUE(evaluator.Run(Query(1, deployment, ok)).result_json.ok());
  }
  IsolateStats stats = evaluator.isolate_stats();
  EXPECT_EQ(stats.misses, 3u);     // A, B, C
  EXPECT_EQ(stats.hits, 2u);       // A twice
  EXPECT_EQ(stats.evictions, 1u);  // B, the least recently used, made room for C
  EXPECT_EQ(stats.isolates, 2u);
  EXPECT_GT(stats.heap_in_use_bytes, 0u);
  ASSERT_TRUE(evaluator.Run(Query(1, "B", ok)).result_json.ok());
  EXPECT_EQ(evaluator.isolate_stats().misses, 4u);
}

TEST_F(EvaluatorPoolTest, HeapExhaustionEndsThatIsolatesInvocationsOnly) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  // 1 (deployment A) waits; 2 exhausts A's heap; 3 (deployment B) waits meanwhile.
  ASSERT_FALSE(evaluator.Start(Query(1, "A", QueryModule("async () => await Convex.asyncSyscall('x', '1')"))).done.has_value());
  ASSERT_FALSE(evaluator.Start(Query(3, "B", QueryModule("async () => JSON.parse(await Convex.asyncSyscall('x', '1'))"))).done.has_value());
  Evaluator::Step hog = evaluator.Start(Query(2, "A", QueryModule("async () => { const a = []; for (;;) a.push(new Array(1e5).fill(a.length)); }")));
  ASSERT_TRUE(hog.done.has_value());
  EXPECT_EQ(hog.done->result_json.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(evaluator.Resume(InvocationId(1), 1, {std::string("1")}).done->result_json.status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*evaluator.Resume(InvocationId(3), 1, {std::string(R"("b")")}).done->result_json, R"("b")");
  EXPECT_EQ(evaluator.isolate_stats().recycles, 1u);
  // A gets a new isolate.
  EXPECT_EQ(*evaluator.Run(Query(4, "A", QueryModule("async () => 'again'"))).result_json, R"("again")");
}

TEST_F(EvaluatorPoolTest, CompiledCodeIsCachedByModuleHash) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string source = QueryModule("async () => 'cached'");
  ASSERT_TRUE(evaluator.Run(Query(1, "A", source)).result_json.ok());
  const uint64_t misses = evaluator.code_cache().misses();
  const uint64_t hits = evaluator.code_cache().hits();
  EXPECT_EQ(misses, 2u);  // the runtime's prelude and the module, compiled from source once
  // Another deployment's isolate with the same bytes compiles nothing from source: the prelude and
  // the module both come from the cache.
  EXPECT_EQ(*evaluator.Run(Query(2, "B", source)).result_json, R"("cached")");
  EXPECT_EQ(evaluator.code_cache().misses(), misses);
  EXPECT_EQ(evaluator.code_cache().hits(), hits + 2);
  EXPECT_EQ(evaluator.code_cache().rejects(), 0u);
}

TEST_F(EvaluatorPoolTest, ArgumentsAndResultsAreBounded) {
  limits_.max_value_bytes = 1000;
  limits_.max_value_nesting = 64;
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string echo = QueryModule("async (args) => JSON.parse(args)");
  EXPECT_EQ(*evaluator.Run(Query(1, "A", echo, R"([{"a":1}])")).result_json, R"([{"a":1}])");
  InvocationResult big = evaluator.Run(Query(2, "A", echo, absl::StrCat(R"([")", std::string(2000, 'x'), R"("])")));
  EXPECT_EQ(big.result_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.result_json.status().message(), HasSubstr("The arguments is too large"));
  InvocationResult deep = evaluator.Run(Query(3, "A", echo, std::string(65, '[') + std::string(65, ']')));
  EXPECT_THAT(deep.result_json.status().message(), HasSubstr("nests too deeply"));
  InvocationResult result = evaluator.Run(Query(4, "A", QueryModule("async () => 'y'.repeat(5000)")));
  EXPECT_EQ(result.result_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.result_json.status().message(), HasSubstr("The result is too large"));
}

TEST_F(EvaluatorPoolTest, TheImportPhase) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  // No database while modules evaluate.
  InvocationResult db = evaluator.Run(Query(1, "A", "await Convex.asyncSyscall('1.0/get', '{}'); export const fn = 1;"));
  EXPECT_THAT(db.result_json.status().message(), HasSubstr("Can't use database at import time"));
  // import() while importing works; afterwards it is refused.
  Invoke invoke = Query(2, "A", absl::StrCat("const other = await import('./other.js'); export const fn = ",
                                             Exported("isQuery", "invokeQuery",
                                                      "async () => [other.value, await import('./other.js').then(() => 'no', e => e.message)]"),
                                             ";"));
  *invoke.mutable_function()->add_modules() = ModuleFromSource("other.js", "export const value = 42;");
  EXPECT_EQ(*evaluator.Run(invoke).result_json,
            R"([42,"import(\"./other.js\") is only allowed while modules are being imported"])");
  EXPECT_TRUE(host_.calls.empty());
}

TEST_F(EvaluatorPoolTest, WebAssemblyOnlyWhereAllowed) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::string probe = QueryModule("async () => typeof WebAssembly");
  EXPECT_EQ(*evaluator.Run(Query(1, "A", probe)).result_json, R"("undefined")");
  Invoke allowed = Query(2, "W", QueryModule(
      "async () => { const m = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); return typeof m; }"));
  allowed.set_allow_wasm(true);
  EXPECT_EQ(*evaluator.Run(allowed).result_json, R"("object")");
}

TEST(ResolveRelativeTest, StaysInsideTheDeployment) {
  EXPECT_EQ(*ResolveRelative("a/b.js", "./c.js"), "a/c.js");
  EXPECT_EQ(*ResolveRelative("a/b.js", "../_deps/X.js"), "_deps/X.js");
  EXPECT_FALSE(ResolveRelative("a.js", "../x.js").ok());
  EXPECT_FALSE(ResolveRelative("a.js", "fs").ok());
  EXPECT_FALSE(ResolveRelative("a.js", "/etc/passwd").ok());
}

}  // namespace
}  // namespace isobar::worker
