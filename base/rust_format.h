// Quantities printed as Convex prints them in its messages (Convex is written in Rust):
//
//   FormatBinarySize(17301504) == "16.50 MiB"   // the humansize crate, BINARY options
//   FormatRustDuration(1.0) == "1s"             // Rust's Debug of a std::time::Duration
//   FormatRustDuration(0.0015) == "1.5ms"
#ifndef ISOBAR_BASE_RUST_FORMAT_H_
#define ISOBAR_BASE_RUST_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace isobar {

// Binary units (B, KiB, MiB, GiB, TiB); two decimals unless the value is whole.
std::string FormatBinarySize(size_t bytes);

// Whole seconds with the nanoseconds as a trimmed fraction ("1765000000.5s"), or below one second in
// ms, µs or ns ("250ms", "1.5µs", "0ns"). Negative values print as "0ns".
std::string FormatRustDuration(double seconds);
std::string FormatRustDuration(uint64_t seconds, uint32_t nanos);

}  // namespace isobar

#endif  // ISOBAR_BASE_RUST_FORMAT_H_
