// The frame decoder (base/frames.h) that reads every message a worker sends the supervisor, and every
// message the supervisor sends a worker. The input is cut into chunks as a socket might deliver them
// (the first byte picks the limit, each chunk's length comes from the input too); what must hold:
// frames come out whole and in order (re-encoded, they are exactly the bytes consumed), a decoder that
// breaks does so only at a header announcing more than the limit, and delivering the same bytes in one
// piece gives the same frames.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "base/frames.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

struct Decoded {
  std::vector<std::string> frames;
  bool broken = false;
  size_t pending = 0;
};

Decoded DecodeInChunks(absl::string_view wire, size_t max, absl::string_view cuts) {
  isobar::FrameDecoder decoder(max);
  Decoded out;
  size_t at = 0, cut = 0;
  while (at < wire.size()) {
    const size_t n = cuts.empty() ? wire.size() : 1 + static_cast<uint8_t>(cuts[cut++ % cuts.size()]) % 32;
    const absl::string_view chunk = wire.substr(at, n);
    at += chunk.size();
    if (!decoder.Append(chunk)) {
      out.broken = true;
      break;
    }
    while (std::optional<std::string> frame = decoder.Next()) out.frames.push_back(*frame);
  }
  out.broken = out.broken || decoder.broken();
  out.pending = decoder.pending();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max = static_cast<size_t>(data[0]) * 4;  // small limits, so that both sides of one are met
  const size_t cut_bytes = data[1] % 16;
  if (size < 2 + cut_bytes) return 0;
  const absl::string_view cuts(reinterpret_cast<const char*>(data) + 2, cut_bytes);
  const absl::string_view wire(reinterpret_cast<const char*>(data) + 2 + cut_bytes, size - 2 - cut_bytes);

  const Decoded chunked = DecodeInChunks(wire, max, cuts);
  const Decoded whole = DecodeInChunks(wire, max, "");
  FUZZ_CHECK(chunked.frames == whole.frames);
  FUZZ_CHECK(chunked.broken == whole.broken);

  std::string again;
  for (const std::string& frame : whole.frames) {
    FUZZ_CHECK(frame.size() <= max);
    again += isobar::FrameHeader(frame.size()) + frame;
  }
  FUZZ_CHECK(wire.substr(0, again.size()) == again);
  const absl::string_view rest = wire.substr(again.size());
  if (whole.broken) {
    // Broken exactly at a complete header past the limit.
    FUZZ_CHECK(rest.size() >= isobar::kFrameHeaderBytes);
    FUZZ_CHECK(isobar::FrameLength(rest) > max);
  } else {
    FUZZ_CHECK(whole.pending == rest.size());  // the unfinished frame is held, not lost
  }
  return 0;
}
