#include "base/rust_format.h"

#include "gtest/gtest.h"

namespace isobar {
namespace {

// As the humansize crate prints with BINARY options, which Convex's messages use.
TEST(FormatBinarySizeTest, AsConvexPrintsSizes) {
  EXPECT_EQ(FormatBinarySize(0), "0 B");
  EXPECT_EQ(FormatBinarySize(1023), "1023 B");
  EXPECT_EQ(FormatBinarySize(1024), "1 KiB");
  EXPECT_EQ(FormatBinarySize(1536), "1.50 KiB");
  EXPECT_EQ(FormatBinarySize(16u << 20), "16 MiB");
  EXPECT_EQ(FormatBinarySize((16u << 20) + 1), "16.00 MiB");
  EXPECT_EQ(FormatBinarySize(17301504), "16.50 MiB");
}

// As Rust's Debug prints a std::time::Duration.
TEST(FormatRustDurationTest, AsRustPrintsDurations) {
  EXPECT_EQ(FormatRustDuration(0.0), "0ns");
  EXPECT_EQ(FormatRustDuration(-3.0), "0ns");
  EXPECT_EQ(FormatRustDuration(1.0), "1s");
  EXPECT_EQ(FormatRustDuration(1800.0), "1800s");
  EXPECT_EQ(FormatRustDuration(1.5), "1.5s");
  EXPECT_EQ(FormatRustDuration(0.25), "250ms");
  EXPECT_EQ(FormatRustDuration(0, 1500), "1.5µs");
  EXPECT_EQ(FormatRustDuration(0, 7), "7ns");
  EXPECT_EQ(FormatRustDuration(1765000000, 123000000), "1765000000.123s");
}

}  // namespace
}  // namespace isobar
