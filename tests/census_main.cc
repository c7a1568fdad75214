// main() for the syscall census (issue 5): a runtime test suite runs inside the worker's real seccomp
// policy, installed in report mode exactly as a worker installs it (after the worker's own warm-up).
// Any system call the policy does not allow ends the process with "seccomp violation: syscall N
// (name)" and status 159, which fails the test. This guards the policy against Debian updates to
// glibc, gRPC or V8: rerun deploy/test after upgrading them.
//
//   census_main [gtest flags] [--census_preload=RUNFILE ...]
//
// Files the suite reads are preloaded before the filter (tests/preloaded_files.h). The test report
// (XML_OUTPUT_FILE) is written through an fd opened before the filter, since open() fails after it.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/preloaded_files.h"
#include "tests/supervisor_fixture.h"
#include "v8-platform.h"
#include "worker/evaluator.h"
#include "worker/v8_runtime.h"
#include "worker/watchdog.h"
#include "worker/worker_main.h"

namespace isobar::testing {
namespace {

std::string Escape(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// A JUnit-style report, written at the end through an fd opened before the filter.
class XmlReport : public ::testing::EmptyTestEventListener {
 public:
  explicit XmlReport(int fd) : fd_(fd) {}

  void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
    std::string xml = absl::StrCat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"",
                                   unit.test_to_run_count(), "\" failures=\"", unit.failed_test_count(),
                                   "\" disabled=\"0\" errors=\"0\" name=\"AllTests\">\n");
    for (int i = 0; i < unit.total_test_suite_count(); ++i) {
      const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
      absl::StrAppend(&xml, "  <testsuite name=\"", Escape(suite.name()), "\" tests=\"", suite.test_to_run_count(),
                      "\" failures=\"", suite.failed_test_count(), "\">\n");
      for (int j = 0; j < suite.total_test_count(); ++j) {
        const ::testing::TestInfo& test = *suite.GetTestInfo(j);
        if (!test.should_run()) continue;
        absl::StrAppend(&xml, "    <testcase name=\"", Escape(test.name()), "\" classname=\"", Escape(suite.name()),
                        "\">");
        const ::testing::TestResult& result = *test.result();
        for (int k = 0; k < result.total_part_count(); ++k) {
          if (result.GetTestPartResult(k).failed()) {
            absl::StrAppend(&xml, "<failure message=\"", Escape(result.GetTestPartResult(k).summary()), "\"/>");
          }
        }
        absl::StrAppend(&xml, "</testcase>\n");
      }
      absl::StrAppend(&xml, "  </testsuite>\n");
    }
    absl::StrAppend(&xml, "</testsuites>\n");
    for (size_t done = 0; done < xml.size();) {
      ssize_t n = write(fd_, xml.data() + done, xml.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }

 private:
  int fd_;
};

int Main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::unique_ptr<v8::Platform> platform = worker::InitializeV8(argv[0]);
  Runfile("");  // resolves the runfiles root now (getcwd is not allowed later)
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--census_preload=")) continue;
    absl::Status loaded = PreloadFile(Runfile(std::string(arg)));
    if (!loaded.ok()) {
      std::fprintf(stderr, "census: %s\n", std::string(loaded.message()).c_str());
      return 1;
    }
  }
  {
    // The worker's own warm-up, in an evaluator of its own, as a worker does before its filter.
    worker::DenyAllHostCalls host;
    worker::Watchdog watchdog;
    worker::Evaluator evaluator(host, watchdog, {});
    absl::Status warm = worker::WarmUpWorker(evaluator);
    if (!warm.ok()) {
      std::fprintf(stderr, "census: warm-up failed: %s\n", std::string(warm.message()).c_str());
      return 1;
    }
  }
  ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (const char* xml = std::getenv("XML_OUTPUT_FILE"); xml != nullptr && *xml != '\0') {
    int fd = open(xml, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      delete listeners.Release(listeners.default_xml_generator());
      listeners.Append(new XmlReport(fd));
    }
  }
  unsetenv("TEST_PREMATURE_EXIT_FILE");  // GoogleTest would create it under the filter
  absl::Status installed = worker::InstallWorkerSandbox(sandbox::ViolationMode::kReport);
  if (!installed.ok()) {
    std::fprintf(stderr, "census: cannot install the worker's policy: %s\n", std::string(installed.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "census: running under the worker's seccomp policy (report mode)\n");
  const int failed = RUN_ALL_TESTS();
  std::fflush(stdout);
  _exit(failed);  // library destructors may need calls the filter refuses (as in the worker)
}

}  // namespace
}  // namespace isobar::testing

int main(int argc, char** argv) { return isobar::testing::Main(argc, argv); }
