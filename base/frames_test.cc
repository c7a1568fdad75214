// Frames through a real socketpair, and the decoder on bytes split anywhere.
#include "base/frames.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

class Socketpair {
 public:
  Socketpair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0); }
  ~Socketpair() {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  int a() const { return fds_[0]; }
  int b() const { return fds_[1]; }
  void CloseA() {
    close(fds_[0]);
    fds_[0] = -1;
  }

 private:
  int fds_[2] = {-1, -1};
};

std::string Encoded(const std::vector<std::string>& payloads) {
  std::string out;
  for (const std::string& p : payloads) out += FrameHeader(p.size()) + p;
  return out;
}

TEST(FrameDecoderTest, FramesComeOutWholeHoweverTheBytesAreSplit) {
  const std::vector<std::string> payloads = {"", "a", std::string(70000, 'x'), std::string("\0\1\2", 3), "end"};
  const std::string wire = Encoded(payloads);
  std::mt19937 random(20261207);  // replayable
  for (int round = 0; round < 200; ++round) {
    FrameDecoder decoder;
    std::vector<std::string> out;
    size_t at = 0;
    while (at < wire.size()) {
      const size_t n = std::min(wire.size() - at, static_cast<size_t>(random() % (round % 2 == 0 ? 7 : 90000)) + 1);
      ASSERT_TRUE(decoder.Append(absl::string_view(wire).substr(at, n)));
      at += n;
      while (std::optional<std::string> frame = decoder.Next()) out.push_back(*frame);
    }
    EXPECT_EQ(out, payloads) << "round " << round;
    EXPECT_EQ(decoder.pending(), 0u);
  }
}

TEST(FrameDecoderTest, ALengthPastTheLimitBreaksTheStreamAtItsHeader) {
  FrameDecoder decoder(/*max_frame_bytes=*/10);
  EXPECT_TRUE(decoder.Append(FrameHeader(10) + std::string(10, 'y')));
  EXPECT_EQ(decoder.Next(), std::string(10, 'y'));
  EXPECT_FALSE(decoder.Append(FrameHeader(11)));  // refused before any of its bytes
  EXPECT_TRUE(decoder.broken());
  EXPECT_EQ(decoder.Next(), std::nullopt);
  EXPECT_FALSE(decoder.Append("more"));
  // Garbage as long as 4 GB minus one is refused just the same.
  FrameDecoder garbage;
  EXPECT_FALSE(garbage.Append("\xff\xff\xff\xff"));
}

TEST(FramesTest, ASocketCarriesFramesFromManyWritersWithoutInterleaving) {
  Socketpair pair;
  FrameWriter writer(pair.a());
  constexpr int kThreads = 4, kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < kEach; ++i) {
        // Big enough that a frame takes several sends on a full socket.
        const std::string payload(static_cast<size_t>(1000 + 997 * i), static_cast<char>('a' + t));
        ASSERT_TRUE(writer.Write(payload).ok());
      }
    });
  }
  FrameReader reader(pair.b());
  std::vector<int> seen(kThreads, 0);
  for (int n = 0; n < kThreads * kEach; ++n) {
    absl::StatusOr<std::string> frame = reader.Read();
    ASSERT_TRUE(frame.ok()) << frame.status();
    ASSERT_FALSE(frame->empty());
    const int t = (*frame)[0] - 'a';
    ASSERT_TRUE(t >= 0 && t < kThreads);
    // A writer's frames arrive in its order, each whole and of one letter.
    EXPECT_EQ(frame->size(), static_cast<size_t>(1000 + 997 * seen[t]));
    EXPECT_EQ(frame->find_first_not_of(static_cast<char>('a' + t)), std::string::npos);
    ++seen[t];
  }
  for (std::thread& t : threads) t.join();
  writer.Close();
  EXPECT_EQ(writer.Write("late").code(), absl::StatusCode::kUnavailable);
}

TEST(FramesTest, WritersNeverWaitForTheirPeer) {
  // Each side writes a frame far bigger than the socket's buffers before either reads: writes that
  // waited for the peer would deadlock here.
  Socketpair pair;
  FrameWriter left(pair.a()), right(pair.b());
  const std::string big_left(8u << 20, 'l'), big_right(8u << 20, 'r');
  ASSERT_TRUE(left.Write(big_left).ok());
  ASSERT_TRUE(right.Write(big_right).ok());
  ASSERT_TRUE(left.Write("after").ok());  // queued behind, in order
  FrameReader left_reader(pair.a()), right_reader(pair.b());
  EXPECT_EQ(*right_reader.Read(), big_left);
  EXPECT_EQ(*right_reader.Read(), "after");
  EXPECT_EQ(*left_reader.Read(), big_right);
}

TEST(FramesTest, APeerThatDoesNotReadFailsTheStreamAndSeesItsEnd) {
  {
    // Past the queue's bound: at once.
    Socketpair pair;
    FrameWriter writer(pair.a(), {.max_queued_bytes = 1u << 20});
    EXPECT_EQ(writer.Write(std::string(4u << 20, 'w')).code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(writer.Write("small").code(), absl::StatusCode::kUnavailable);
  }
  {
    // A frame waiting past max_wait: the stream fails, and the peer's reader finds the end after
    // what had gone out.
    Socketpair pair;
    FrameWriter writer(pair.a(), {.max_wait = absl::Milliseconds(200)});
    ASSERT_TRUE(writer.Write(std::string(16u << 20, 'w')).ok());
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    absl::Status status;
    do {
      absl::SleepFor(absl::Milliseconds(20));  // the polling rate; the writer fails on its own clock
      status = writer.Write("x");
    } while (status.ok() && absl::Now() < deadline);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
    FrameReader reader(pair.b());
    EXPECT_EQ(reader.Read().status().code(), absl::StatusCode::kDataLoss);  // the cut frame, then the end
  }
}

TEST(FramesTest, TheEndOfTheStreamIsToldApartFromACutFrame) {
  {
    Socketpair pair;
    ASSERT_TRUE(FrameWriter(pair.a()).Write("whole").ok());
    pair.CloseA();
    FrameReader reader(pair.b());
    EXPECT_EQ(*reader.Read(), "whole");
    EXPECT_EQ(reader.Read().status().code(), absl::StatusCode::kOutOfRange);
  }
  {
    Socketpair pair;
    const std::string cut = FrameHeader(100) + "only part";
    ASSERT_EQ(write(pair.a(), cut.data(), cut.size()), static_cast<ssize_t>(cut.size()));
    pair.CloseA();
    FrameReader reader(pair.b());
    EXPECT_EQ(reader.Read().status().code(), absl::StatusCode::kDataLoss);
  }
  {
    Socketpair pair;
    FrameReader reader(pair.b(), /*max_frame_bytes=*/8);
    ASSERT_TRUE(FrameWriter(pair.a()).Write("123456789").ok());
    EXPECT_EQ(reader.Read().status().code(), absl::StatusCode::kDataLoss);
  }
  {
    // A peer gone: the writer fails (no SIGPIPE kills the test).
    Socketpair pair;
    FrameWriter writer(pair.b());
    pair.CloseA();
    EXPECT_EQ(writer.Write("nobody").code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(writer.Write("again").code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(FrameWriter(-1).Write(std::string(kMaxFrameBytes + 1, 'z')).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace isobar
