// The Convex sync protocol across connections and a supervisor restart, spoken raw over WebSocket as
// the convex package's client speaks it: a mutation resent under the same session and request id
// (after a dropped connection, and after the supervisor was killed and restarted) is applied once and
// answered with the first result; a paginated query's journal comes with its result, its page grows
// with new documents instead of shifting, and a new connection that brings the journal back gets the
// same page. And the convex package's own ConvexClient rides through a restart without losing a
// mutation (tests/clients/convex_reconnect_client.js, driven over its stdin and stdout).
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "base/process.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using storage::Value;

Value Parse(const std::string& text) {
  storage::ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Value> value = storage::ParseConvexJson(text, plain);
  EXPECT_TRUE(value.ok()) << value.status() << ": " << text;
  return value.ok() ? *value : Value::Null();
}

// One sync connection to a deployment.
class SyncSocket {
 public:
  SyncSocket(net::io_context& ioc, const std::string& http_url, const std::string& deployment,
             const std::string& session, int connection_count)
      : ws_(ioc) {
    const std::string hostport = http_url.substr(http_url.find("://") + 3);
    const std::string host = hostport.substr(0, hostport.rfind(':'));
    tcp::resolver resolver(ioc);
    net::connect(ws_.next_layer(), resolver.resolve(host, hostport.substr(hostport.rfind(':') + 1)));
    ws_.next_layer().set_option(tcp::socket::receive_buffer_size(1 << 20));
    ws_.handshake(hostport, absl::StrCat("/d/", deployment, "/api/1.48.0/sync"));
    Send(absl::StrCat(R"({"type":"Connect","sessionId":")", session, R"(","connectionCount":)", connection_count,
                      R"(,"lastCloseReason":null,"maxObservedTimestamp":null})"));
  }
  void Send(const std::string& text) { ws_.write(net::buffer(text)); }
  // Messages until one of `type` (others, such as Transitions and Pings, are skipped).
  Value Next(absl::string_view type) {
    for (int i = 0; i < 100; ++i) {
      beast::flat_buffer buffer;
      ws_.read(buffer);
      Value message = Parse(beast::buffers_to_string(buffer.data()));
      if (message.Get("type").type() == Value::Type::kString && message.Get("type").string() == type) return message;
    }
    ADD_FAILURE() << "no " << type << " in 100 messages";
    return Value::Null();
  }
  void Close() {
    beast::error_code ignored;
    ws_.close(websocket::close_code::normal, ignored);
  }

 private:
  websocket::stream<tcp::socket> ws_;
};

// A Transition's modification of query `id`: its value (and, through `journal`, its journal).
Value QueryValue(const Value& transition, int id, Value* journal = nullptr) {
  for (const Value& modification : transition.Get("modifications").array()) {
    if (modification.Get("queryId").type() == Value::Type::kFloat64 && modification.Get("queryId").float64() == id) {
      if (journal != nullptr) *journal = modification.Get("journal");
      return modification.Get("value");
    }
  }
  return Value::Undefined();
}

std::string PostMutation(int request_id, const std::string& body) {
  return absl::StrCat(R"({"type":"Mutation","requestId":)", request_id,
                      R"(,"udfPath":"posts:post","args":[{"author":"sync","body":")", body, R"("}]})");
}

class SyncReconnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(supervisor_.Start().ok());
    ASSERT_TRUE(supervisor_.Deploy("wall", "tests/apps/site.modules").ok());
  }
  // The number of posts, from a connection of its own.
  double Count() {
    SyncSocket socket(ioc_, supervisor_.http_url(), "wall", absl::StrCat("counter-", counter_++), 0);
    socket.Send(R"({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"posts:count","args":[{}]}]})");
    Value value = QueryValue(socket.Next("Transition"), 0);
    socket.Close();
    return value.type() == Value::Type::kFloat64 ? value.float64() : -1;
  }

  SupervisorProcess supervisor_{{.workers = 1, .enable_eval = false}};
  net::io_context ioc_;
  int counter_ = 0;
};

TEST_F(SyncReconnectTest, AMutationResentUnderItsSessionIsAppliedOnce) {
  std::string first_id;
  {
    SyncSocket socket(ioc_, supervisor_.http_url(), "wall", "session-a", 0);
    socket.Send(PostMutation(0, "once"));
    Value response = socket.Next("MutationResponse");
    ASSERT_TRUE(response.Get("success").type() == Value::Type::kBoolean && response.Get("success").boolean());
    first_id = response.Get("result").string();
    socket.Close();
  }
  // The client did not see that answer (say): it reconnects and sends the same request again.
  {
    SyncSocket socket(ioc_, supervisor_.http_url(), "wall", "session-a", 1);
    socket.Send(PostMutation(0, "once"));
    Value response = socket.Next("MutationResponse");
    EXPECT_EQ(response.Get("result").string(), first_id);
    socket.Close();
  }
  EXPECT_EQ(Count(), 1);
  // The supervisor is killed and restarted on the same data and URLs: the resend still finds it.
  ASSERT_TRUE(supervisor_.Kill().ok());
  ASSERT_TRUE(supervisor_.Start().ok());
  {
    SyncSocket socket(ioc_, supervisor_.http_url(), "wall", "session-a", 2);
    socket.Send(PostMutation(0, "once"));
    Value response = socket.Next("MutationResponse");
    EXPECT_EQ(response.Get("result").string(), first_id);
    // A new request of the same session is a new mutation.
    socket.Send(PostMutation(1, "twice"));
    EXPECT_NE(socket.Next("MutationResponse").Get("result").string(), first_id);
    socket.Close();
  }
  EXPECT_EQ(Count(), 2);
}

TEST_F(SyncReconnectTest, JournalsKeepAPageFromShifting) {
  SyncSocket writer(ioc_, supervisor_.http_url(), "wall", "writer", 0);
  for (int i = 0; i < 5; ++i) {
    writer.Send(PostMutation(i, absl::StrCat("p", i)));
    writer.Next("MutationResponse");
  }
  constexpr char kPage[] =
      R"({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"posts:page","args":[{"paginationOpts":{"numItems":2,"cursor":null}}],"journal":%s}]})";
  SyncSocket reader(ioc_, supervisor_.http_url(), "wall", "reader", 0);
  reader.Send(absl::StrReplaceAll(kPage, {{"%s", "null"}}));
  Value journal;
  Value page = QueryValue(reader.Next("Transition"), 0, &journal);
  ASSERT_EQ(page.Get("page").array().size(), 2u);
  ASSERT_EQ(journal.type(), Value::Type::kString) << "a paginated query's result carries its journal";

  // A newer post lands at the top of the (descending) first page: the page grows to 3.
  writer.Send(PostMutation(5, "newest"));
  writer.Next("MutationResponse");
  Value grown;
  for (int i = 0; i < 10 && grown.is_undefined(); ++i) grown = QueryValue(reader.Next("Transition"), 0);
  ASSERT_EQ(grown.Get("page").array().size(), 3u);
  EXPECT_EQ(grown.Get("page").array()[0].Get("body").string(), "newest");
  EXPECT_EQ(grown.Get("page").array()[2].Get("body").string(), page.Get("page").array()[1].Get("body").string());

  // A reconnecting client brings the journal back and gets the same page; without it, a new page of 2.
  SyncSocket again(ioc_, supervisor_.http_url(), "wall", "reader", 1);
  again.Send(absl::StrReplaceAll(kPage, {{"%s", storage::ToConvexJson(journal)}}));
  EXPECT_EQ(QueryValue(again.Next("Transition"), 0).Get("page").array().size(), 3u);
  SyncSocket fresh(ioc_, supervisor_.http_url(), "wall", "fresh", 0);
  fresh.Send(absl::StrReplaceAll(kPage, {{"%s", "null"}}));
  EXPECT_EQ(QueryValue(fresh.Next("Transition"), 0).Get("page").array().size(), 2u);
  // A journal the query cannot use (forged here; or made before the code changed the query's range)
  // is ignored: the page starts afresh, instead of failing on every run for ever.
  SyncSocket forged(ioc_, supervisor_.http_url(), "wall", "forged", 0);
  forged.Send(absl::StrReplaceAll(kPage, {{"%s", R"("AAAAforged")"}}));
  Value transition = forged.Next("Transition");
  EXPECT_EQ(transition.Get("modifications").array()[0].Get("type").string(), "QueryUpdated");
  EXPECT_EQ(QueryValue(transition, 0).Get("page").array().size(), 2u);
}

// The next "STEP <what>" line the child wrote to `fd` within `timeout`, as <what>; what came instead
// otherwise. Other lines (the client's own logs) are skipped.
std::string ReadStep(int fd, std::string* buffer, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string skipped;
  for (;;) {
    const size_t newline = buffer->find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer->substr(0, newline);
      buffer->erase(0, newline + 1);
      if (absl::StartsWith(line, "STEP ")) return line.substr(5);
      absl::StrAppend(&skipped, line, "\n");
      continue;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    const int left_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left_ms <= 0 || poll(&pfd, 1, left_ms) <= 0) return absl::StrCat("(no step in time; it wrote: ", skipped, *buffer, ")");
    char chunk[4096];
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0) return absl::StrCat("(the client exited; it wrote: ", skipped, *buffer, ")");
    buffer->append(chunk, static_cast<size_t>(n));
  }
}

TEST_F(SyncReconnectTest, TheConvexClientRidesThroughARestartWithoutLosingAMutation) {
  int to_child[2];
  int from_child[2];
  ASSERT_EQ(pipe2(to_child, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(from_child, O_CLOEXEC), 0);
  // The runfiles tree: <runfiles>/isobar/... and <runfiles>/npm_deps/...
  const std::string runfiles = std::filesystem::current_path().parent_path().string();
  SpawnOptions spawn;
  spawn.argv = {"/usr/bin/env", absl::StrCat("NODE_PATH=", runfiles, "/npm_deps/node_modules"), "node",
                Runfile("tests/clients/convex_reconnect_client.js"), absl::StrCat(supervisor_.http_url(), "/d/wall")};
  spawn.stdin_fd = to_child[0];
  spawn.stdout_fd = from_child[1];
  spawn.stderr_fd = from_child[1];
  absl::StatusOr<ChildProcess> child = Spawn(spawn);
  close(to_child[0]);
  close(from_child[1]);
  ASSERT_TRUE(child.ok()) << child.status();
  std::string out;
  auto say = [&](const std::string& line) { ASSERT_EQ(write(to_child[1], (line + "\n").data(), line.size() + 1), static_cast<ssize_t>(line.size() + 1)); };

  EXPECT_EQ(ReadStep(from_child[0], &out, absl::Seconds(60)), "subscribed");
  ASSERT_TRUE(supervisor_.Kill().ok());
  say("killed");
  EXPECT_EQ(ReadStep(from_child[0], &out, absl::Seconds(30)), "sent");
  ASSERT_TRUE(supervisor_.Start().ok());
  say("restarted");
  EXPECT_EQ(ReadStep(from_child[0], &out, absl::Seconds(120)), "reconnect client: ok") << supervisor_.log();
  close(to_child[1]);
  close(from_child[0]);
  absl::StatusOr<std::optional<ExitStatus>> exited = child->Wait(absl::Seconds(30));
  if (!exited.ok() || !exited->has_value()) (void)child->Kill();
}

}  // namespace
}  // namespace isobar::testing
