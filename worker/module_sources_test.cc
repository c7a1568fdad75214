#include "worker/module_sources.h"

#include "gtest/gtest.h"
#include "worker/module_hash.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::Module;

google::protobuf::RepeatedPtrField<Module> Modules(std::initializer_list<Module> list) {
  google::protobuf::RepeatedPtrField<Module> out;
  for (const Module& m : list) *out.Add() = m;
  return out;
}

Module WithoutSource(Module m) {
  m.clear_source();
  return m;
}

TEST(ModuleSourcesTest, SourcesSentOnceAreFilledInLater) {
  ModuleSources sources(1 << 20);
  const Module a = ModuleFromSource("a.js", "export const a = 1;");
  const Module b = ModuleFromSource("b.js", "export const b = 2;");
  auto first = Modules({a, WithoutSource(b)});
  EXPECT_EQ(sources.Resolve(&first).code(), absl::StatusCode::kFailedPrecondition);
  auto sent = Modules({a, b});
  ASSERT_TRUE(sources.Resolve(&sent).ok());
  auto later = Modules({WithoutSource(a), WithoutSource(b)});
  ASSERT_TRUE(sources.Resolve(&later).ok());
  EXPECT_EQ(later[0].source(), a.source());
  EXPECT_EQ(later[1].source(), b.source());
}

TEST(ModuleSourcesTest, ASourceThatDoesNotMatchItsHashIsRefused) {
  ModuleSources sources(1 << 20);
  Module lying = ModuleFromSource("a.js", "export const a = 1;");
  lying.set_source("export const a = 2;");
  auto modules = Modules({lying});
  EXPECT_EQ(sources.Resolve(&modules).code(), absl::StatusCode::kDataLoss);
  auto again = Modules({WithoutSource(lying)});
  EXPECT_EQ(sources.Resolve(&again).code(), absl::StatusCode::kFailedPrecondition);  // never remembered
}

TEST(ModuleSourcesTest, TheLeastRecentlyUsedGoBeyondTheBudget) {
  const Module a = ModuleFromSource("a.js", std::string(600, 'a'));
  const Module b = ModuleFromSource("b.js", std::string(600, 'b'));
  ModuleSources sources(1000);
  auto sent_a = Modules({a});
  ASSERT_TRUE(sources.Resolve(&sent_a).ok());
  auto sent_b = Modules({b});
  ASSERT_TRUE(sources.Resolve(&sent_b).ok());
  EXPECT_LE(sources.bytes(), 1000u);
  auto only_a = Modules({WithoutSource(a)});
  EXPECT_EQ(sources.Resolve(&only_a).code(), absl::StatusCode::kFailedPrecondition);
  auto only_b = Modules({WithoutSource(b)});
  EXPECT_TRUE(sources.Resolve(&only_b).ok());
}

}  // namespace
}  // namespace isobar::worker
