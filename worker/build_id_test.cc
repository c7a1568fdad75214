#include "worker/build_id.h"

#include <dlfcn.h>

#include <string>

#include "gtest/gtest.h"

namespace isobar::worker {
namespace {

TEST(BuildIdTest, IsSixtyFourHexDigitsAndStable) {
  const std::string id = LoadedBuildId();
  ASSERT_EQ(id.size(), 64u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  EXPECT_EQ(LoadedBuildId(), id);
}

TEST(BuildIdTest, ChangesWhenAnotherObjectIsLoaded) {
  // Every loaded object counts: a process with one more library runs other code.
  const char* const kLibrary = "libresolv.so.2";  // part of glibc, not linked by this test
  ASSERT_EQ(dlopen(kLibrary, RTLD_NOW | RTLD_NOLOAD), nullptr) << kLibrary << " is loaded already";
  const std::string before = LoadedBuildId();
  void* handle = dlopen(kLibrary, RTLD_NOW);
  ASSERT_NE(handle, nullptr) << dlerror();
  EXPECT_NE(LoadedBuildId(), before);
  dlclose(handle);
}

}  // namespace
}  // namespace isobar::worker
