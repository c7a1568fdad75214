#include "base/log.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class LogTest : public ::testing::Test {
 protected:
  ~LogTest() override { SetLogFormat(LogFormat::kText); }
};

TEST_F(LogTest, TextLinesKeepTheirFormatAndFieldsFollowTheMessage) {
  LogLine line(LogLevel::kWarning, "pool");
  line.Field("worker", "3") << "worker " << 3 << " restarted";
  EXPECT_THAT(line.Format(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z WARNING pool: worker 3 restarted worker=3"));
}

TEST_F(LogTest, JsonLinesEscapeEverythingAndStayValidUtf8) {
  SetLogFormat(LogFormat::kJson);
  LogLine line(LogLevel::kSecurity, "workers");
  line.Field("deployment", "a\"b") << "quote \" backslash \\ newline \n tab \t bell \a bad \xff end";
  const std::string json = line.Format();
  EXPECT_THAT(json, MatchesRegex("\\{\"time\":\"[0-9T:.Z-]+\",\"level\":\"security\",\"component\":\"workers\",.*"));
  EXPECT_THAT(json, HasSubstr(R"("message":"quote \" backslash \\ newline \n tab \t bell \u0007 bad )"
                              "\xef\xbf\xbd"  // U+FFFD for the invalid byte
                              R"( end")"));
  EXPECT_THAT(json, EndsWith(R"(,"deployment":"a\"b"})"));
  EXPECT_EQ(json.find('\n'), std::string::npos);  // one line, whatever the message held
}

}  // namespace
}  // namespace isobar
