// Snapshot ZIPs written a part at a time read back the same, by our reader and by an outsider's
// (Python's zipfile); what is not a ZIP is refused with an error.
#include "cli/snapshot_zip.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace isobar::cli {
namespace {

TEST(SnapshotZipTest, EntriesWrittenInPartsReadBackTheSame) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/snapshot.zip";
  std::map<std::string, std::string> written;
  written["README.md"] = "# hello\n";
  written["users/documents.jsonl"] = "";
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&written["users/documents.jsonl"], R"({"_id":"x)", i, R"(","n":)", i, "}\n");
  written["_storage/kg2abc"] = std::string(300000, '\0') + "binary\xff";
  written["empty/documents.jsonl"] = "";
  {
    absl::StatusOr<std::unique_ptr<SnapshotZipWriter>> zip = SnapshotZipWriter::Create(path);
    ASSERT_TRUE(zip.ok()) << zip.status();
    for (const auto& [name, bytes] : written) {
      ASSERT_TRUE((*zip)->StartEntry(name).ok());
      for (size_t at = 0; at < bytes.size(); at += 7777) {
        ASSERT_TRUE((*zip)->Write(absl::string_view(bytes).substr(at, 7777)).ok());
      }
    }
    ASSERT_TRUE((*zip)->Close().ok());
  }
  std::map<std::string, std::string> read;
  std::string* current = nullptr;
  absl::Status status = ReadSnapshotZip(
      path, [&](const std::string& name) { current = &read[name]; return absl::OkStatus(); },
      [&](absl::string_view part) { current->append(part.data(), part.size()); return absl::OkStatus(); });
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(read, written);

  // Python's zipfile checks every entry's CRC and lists the same names.
  FILE* python = popen(absl::StrCat("python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); ",
                                    "print(z.testzip(), len(z.read(\"users/documents.jsonl\")), sorted(z.namelist()))' ",
                                    path).c_str(), "r");
  ASSERT_NE(python, nullptr);
  char line[1024] = {};
  ASSERT_NE(fgets(line, sizeof(line), python), nullptr);
  EXPECT_EQ(pclose(python), 0);
  EXPECT_EQ(std::string(line),
            absl::StrCat("None ", written["users/documents.jsonl"].size(),
                         " ['README.md', '_storage/kg2abc', 'empty/documents.jsonl', 'users/documents.jsonl']\n"));
}

TEST(SnapshotZipTest, WhatIsNotAZipIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/not.zip";
  std::ofstream(path) << "this is not a zip file at all";
  absl::Status status = ReadSnapshotZip(
      path, [](const std::string&) { return absl::OkStatus(); }, [](absl::string_view) { return absl::OkStatus(); });
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(ReadSnapshotZip(dir.path() + "/missing.zip", [](const std::string&) { return absl::OkStatus(); },
                               [](absl::string_view) { return absl::OkStatus(); })
                   .ok());
}

}  // namespace
}  // namespace isobar::cli
