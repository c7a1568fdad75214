// main() for test binaries that run JavaScript: GoogleTest, then V8 initialised once for the process.
#include <memory>

#include "gtest/gtest.h"
#include "v8-platform.h"
#include "worker/v8_runtime.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::unique_ptr<v8::Platform> platform = isobar::worker::InitializeV8(argv[0]);
  return RUN_ALL_TESTS();
}
