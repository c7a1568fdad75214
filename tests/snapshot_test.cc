// Backups and data moves (issue 21, item 7): `isobarctl export` writes a deployment as a Convex
// snapshot ZIP (the layout of `npx convex export`, storage/snapshot_export.h). Checked against what
// the functions themselves read: every table's documents, values of every type exactly (int64, bytes,
// NaN, -0, ...), more documents than one page, and the stored files' metadata and bytes.
#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/sha256.h"
#include "base/testing/temp_dir.h"
#include "cli/snapshot_zip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::UnorderedElementsAre;

class Source {
 public:
  explicit Source(SupervisorProcess& supervisor, std::string deployment, std::string key)
      : deployment_(std::move(deployment)), key_(std::move(key)),
        stub_(isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor.address(), grpc::InsecureChannelCredentials()))) {}

  std::string Call(CallKind kind, const std::string& path, const std::string& args) {
    FunctionResult out = CallFunction(*stub_, kind, {.deployment = deployment_, .key = key_, .path = path, .args_json = args});
    EXPECT_TRUE(out.status.ok()) << path << ": " << out.status.error_message();
    return out.response.result_json();
  }
  // A table's documents as the functions read them: Convex JSON by _id.
  std::map<std::string, std::string> Documents(const std::string& table) {
    absl::StatusOr<storage::Value> all =
        storage::ParseConvexJson(Call(CallKind::kQuery, "items:all", absl::StrCat(R"({"table":")", table, "\"}")));
    EXPECT_TRUE(all.ok()) << all.status();
    std::map<std::string, std::string> documents;
    if (all.ok()) {
      for (const storage::Value& document : all->array()) {
        documents[document.Get("_id").string()] = storage::ToConvexJson(document);
      }
    }
    return documents;
  }

 private:
  const std::string deployment_, key_;
  std::unique_ptr<isobar::v1::Functions::Stub> stub_;
};

// The ZIP's entries, path -> bytes.
std::map<std::string, std::string> ReadZip(const std::string& path) {
  std::map<std::string, std::string> entries;
  std::string* current = nullptr;
  absl::Status read = cli::ReadSnapshotZip(
      path,
      [&](const std::string& name) {
        EXPECT_EQ(entries.count(name), 0u) << name << " twice";
        current = &entries[name];
        return absl::OkStatus();
      },
      [&](absl::string_view part) {
        current->append(part.data(), part.size());
        return absl::OkStatus();
      });
  EXPECT_TRUE(read.ok()) << read;
  return entries;
}

// documents.jsonl's lines in Convex JSON, by _id.
std::map<std::string, std::string> Lines(const std::string& jsonl) {
  std::map<std::string, std::string> documents;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n', absl::SkipEmpty())) {
    absl::StatusOr<storage::Value> document = storage::ParseConvexJson(line, {.export_integers = true});
    EXPECT_TRUE(document.ok()) << document.status() << " in " << line;
    if (document.ok()) documents[document->Get("_id").string()] = storage::ToConvexJson(*document);
  }
  return documents;
}

TEST(SnapshotTest, ExportWritesEveryTableAndFileInConvexsSnapshotFormat) {
  SupervisorProcess supervisor({.workers = 1, .enable_eval = false});
  ASSERT_TRUE(supervisor.Start().ok());
  absl::StatusOr<std::string> key = supervisor.Deploy("source", "tests/apps/backup.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  Source source(supervisor, "source", *key);
  for (const char* value : {R"({"$integer":"BQAAAAAAAAA="})", "5", "1.5", R"({"$float":"AAAAAAAA+H8="})",
                            R"({"$float":"AAAAAAAAAIA="})", R"({"$float":"AAAAAAAA8P8="})", R"({"$bytes":"AAEC/w=="})",
                            R"("quote \" backslash \\ \u00e9 \ud83c\udf89 \n")", "null", "[]", "{}",
                            R"({"nested":[null,true,{"$integer":"AQAAAAAAAAA="}],"z":-1e-300})"}) {
    source.Call(CallKind::kMutation, "items:put", absl::StrCat(R"({"value":)", value, "}"));
  }
  source.Call(CallKind::kMutation, "items:putMany", R"({"n":2500,"from":0})");  // more than a page (1000)
  const std::string small = source.Call(CallKind::kAction, "items:store", R"({"text":"hello","repeat":1})");
  source.Call(CallKind::kAction, "items:store", R"({"text":"0123456789","repeat":200000})");  // 2 MB: two chunks
  source.Call(CallKind::kMutation, "items:attach", absl::StrCat(R"({"file":)", small, R"(,"name":"greeting"})"));

  TempDir dir;
  const std::string zip = dir.path() + "/source.zip";
  ShellResult exported = RunShell(absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor.address(),
                                               " --data-dir=", supervisor.data_dir(), " export source ", zip));
  ASSERT_EQ(exported.status, 0) << exported.out << supervisor.log();
  EXPECT_THAT(exported.out, ::testing::HasSubstr("exported source:"));
  const std::map<std::string, std::string> entries = ReadZip(zip);

  // _tables: the user tables, with their numbers; each table's documents exactly as functions read them.
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(entries.at("_tables/documents.jsonl"), '\n', absl::SkipEmpty())) {
    absl::StatusOr<storage::Value> table = storage::ParseConvexJson(line, {.export_integers = true});
    ASSERT_TRUE(table.ok()) << line;
    EXPECT_GE(table->Get("id").int64(), 10001);
    names.push_back(table->Get("name").string());
  }
  EXPECT_THAT(names, UnorderedElementsAre("items", "rows", "attachments"));
  for (const std::string& table : names) {
    EXPECT_EQ(entries.at(table + "/generated_schema.jsonl"), "\"uniform\"\n");
    const std::map<std::string, std::string> expected = source.Documents(table);
    EXPECT_EQ(Lines(entries.at(table + "/documents.jsonl")), expected) << table;
  }
  EXPECT_EQ(Lines(entries.at("rows/documents.jsonl")).size(), 2500u);
  // Int64 as a JSON integer, float64 with a point, bytes and NaN encoded: what Convex's import reads.
  const std::string& items = entries.at("items/documents.jsonl");
  EXPECT_THAT(items, ::testing::HasSubstr(R"("value":5})"));
  EXPECT_THAT(items, ::testing::HasSubstr(R"("value":5.0})"));
  EXPECT_THAT(items, ::testing::HasSubstr(R"("value":-0.0})"));
  EXPECT_THAT(items, ::testing::HasSubstr(R"("value":{"$bytes":"AAEC/w=="}})"));

  // _storage: each file's metadata, and its bytes under its id, matching its sha256 and size.
  absl::StatusOr<storage::Value> files = storage::ParseConvexJson(source.Call(CallKind::kQuery, "items:files", "{}"));
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->array().size(), 2u);
  const std::map<std::string, std::string> stored = Lines(entries.at("_storage/documents.jsonl"));
  ASSERT_EQ(stored.size(), 2u);
  for (const storage::Value& file : files->array()) {
    const std::string id = file.Get("_id").string();
    ASSERT_EQ(stored.count(id), 1u) << id;
    absl::StatusOr<storage::Value> line = storage::ParseConvexJson(stored.at(id));
    ASSERT_TRUE(line.ok());
    EXPECT_EQ(line->Get("sha256").string(), file.Get("sha256").string());
    EXPECT_EQ(line->Get("size").int64(), static_cast<int64_t>(file.Get("size").float64()));
    EXPECT_EQ(line->Get("_creationTime").float64(), file.Get("_creationTime").float64());
    const std::string& bytes = entries.at("_storage/" + id);
    EXPECT_EQ(bytes.size(), static_cast<size_t>(file.Get("size").float64()));
    EXPECT_EQ(absl::Base64Escape(Sha256(bytes)), file.Get("sha256").string());
  }
  EXPECT_EQ(entries.count("README.md"), 1u);
  EXPECT_EQ(entries.size(), 1 + 1 + 2 * names.size() + 1 + 2) << "unexpected entries";

  // --no-files leaves _storage out; a deployment that does not exist is refused, and no file is left.
  ShellResult without = RunShell(absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor.address(), " --data-dir=",
                                              supervisor.data_dir(), " --no-files export source ", dir.path(), "/nf.zip"));
  ASSERT_EQ(without.status, 0) << without.out;
  EXPECT_EQ(ReadZip(dir.path() + "/nf.zip").count("_storage/documents.jsonl"), 0u);
  ShellResult missing = RunShell(absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor.address(), " --data-dir=",
                                              supervisor.data_dir(), " export nosuch ", dir.path(), "/x.zip 2>&1"));
  EXPECT_NE(missing.status, 0);
  EXPECT_THAT(missing.out, ::testing::HasSubstr("NOT_FOUND"));
  EXPECT_NE(access((dir.path() + "/x.zip").c_str(), F_OK), 0);
  EXPECT_NE(access((dir.path() + "/x.zip.partial").c_str(), F_OK), 0);
}

ShellResult Ctl(const SupervisorProcess& supervisor, const std::string& args) {
  return RunShell(absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor.address(), " --data-dir=",
                               supervisor.data_dir(), " ", args, " 2>&1"));
}

// Export from one deployment, import into a fresh one: the same documents, ids, creation times and
// files; a second import into tables that have documents is refused.
TEST(SnapshotTest, ImportIntoAFreshDeploymentGivesIdenticalDocumentsIdsAndFiles) {
  SupervisorProcess supervisor({.workers = 1, .enable_eval = false});
  ASSERT_TRUE(supervisor.Start().ok());
  absl::StatusOr<std::string> source_key = supervisor.Deploy("source", "tests/apps/backup.modules");
  ASSERT_TRUE(source_key.ok()) << source_key.status();
  Source source(supervisor, "source", *source_key);
  for (const char* value : {R"({"$integer":"BQAAAAAAAAA="})", "5", R"({"$float":"AAAAAAAA+H8="})",
                            R"({"$float":"AAAAAAAAAIA="})", R"({"$bytes":"AAEC/w=="})", R"({"a":[1,"two",null]})"}) {
    source.Call(CallKind::kMutation, "items:put", absl::StrCat(R"({"value":)", value, "}"));
  }
  source.Call(CallKind::kMutation, "items:putMany", R"({"n":1500,"from":0})");
  const std::string small = source.Call(CallKind::kAction, "items:store", R"({"text":"hello","repeat":1})");
  source.Call(CallKind::kAction, "items:store", R"({"text":"0123456789","repeat":150000})");  // 1.5 MB
  const std::string attachment =
      source.Call(CallKind::kMutation, "items:attach", absl::StrCat(R"({"file":)", small, R"(,"name":"greeting"})"));

  TempDir dir;
  const std::string zip = dir.path() + "/source.zip";
  ShellResult exported = Ctl(supervisor, "export source " + zip);
  ASSERT_EQ(exported.status, 0) << exported.out;
  absl::StatusOr<std::string> target_key = supervisor.Deploy("target", "tests/apps/backup.modules");
  ASSERT_TRUE(target_key.ok()) << target_key.status();
  ShellResult imported = Ctl(supervisor, "import target " + zip);
  ASSERT_EQ(imported.status, 0) << imported.out << supervisor.log();
  EXPECT_THAT(imported.out, ::testing::HasSubstr("3 tables, 1507 documents, 2 files"));
  Source target(supervisor, "target", *target_key);
  for (const char* table : {"items", "rows", "attachments"}) {
    EXPECT_EQ(target.Documents(table), source.Documents(table)) << table;
  }
  EXPECT_EQ(target.Call(CallKind::kQuery, "items:files", "{}"), source.Call(CallKind::kQuery, "items:files", "{}"));
  // The attachment's reference to its file still holds, and the bytes are there.
  EXPECT_EQ(target.Call(CallKind::kAction, "items:fileText", absl::StrCat(R"({"file":)", small, "}")), R"("hello")");
  // New documents go on beside the imported ones.
  EXPECT_NE(target.Call(CallKind::kMutation, "items:put", R"({"value":"after"})"), attachment);
  EXPECT_EQ(target.Call(CallKind::kQuery, "items:count", R"({"table":"items"})"), "7");

  ShellResult again = Ctl(supervisor, "import target " + zip);
  EXPECT_NE(again.status, 0);
  EXPECT_THAT(again.out, ::testing::HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(again.out, ::testing::HasSubstr("has documents already"));
}

// A ZIP as Convex's CLI writes one (its published layout): ids and int64s kept, a file whose _storage
// id names Convex's table number gets a new id; and what is not a snapshot is refused.
TEST(SnapshotTest, ASnapshotInConvexsFormatImports) {
  SupervisorProcess supervisor({.workers = 1, .enable_eval = false});
  ASSERT_TRUE(supervisor.Start().ok());
  absl::StatusOr<std::string> key = supervisor.Deploy("moved", "tests/apps/backup.modules");
  ASSERT_TRUE(key.ok()) << key.status();
  storage::DocumentId ann{storage::TableNumber(10001), {}}, bob{storage::TableNumber(10001), {}};
  ann.internal[0] = 1;
  bob.internal[15] = 2;
  storage::DocumentId file{storage::TableNumber(10077), {}};  // Convex's _storage number, not ours
  file.internal[3] = 9;
  const std::string file_id = storage::EncodeDocumentId(file);
  TempDir dir;
  const std::string zip = dir.path() + "/convex.zip";
  {
    absl::StatusOr<std::unique_ptr<cli::SnapshotZipWriter>> writer = cli::SnapshotZipWriter::Create(zip);
    ASSERT_TRUE(writer.ok());
    auto entry = [&](const std::string& path, const std::string& bytes) {
      ASSERT_TRUE((*writer)->StartEntry(path).ok());
      ASSERT_TRUE((*writer)->Write(bytes).ok());
    };
    entry("README.md", "# Welcome to your Convex snapshot export!\n");
    entry("_tables/documents.jsonl", "{\"name\":\"people\",\"id\":10001}\n");
    entry("people/documents.jsonl",
          absl::StrCat(R"({"_creationTime":1700000000000.5,"_id":")", storage::EncodeDocumentId(ann),
                       R"(","age":42,"name":"ann","photo":{"$bytes":"AQID"},"score":1.0})", "\n",
                       R"({"_creationTime":1700000000001.0,"_id":")", storage::EncodeDocumentId(bob),
                       R"(","age":-7,"name":"bob","score":{"$float":"AAAAAAAA8H8="}})", "\n"));
    entry("people/generated_schema.jsonl", "\"uniform\"\n");
    entry("_storage/documents.jsonl",
          absl::StrCat(R"({"_id":")", file_id, R"(","_creationTime":1700000000002.0,"sha256":")",
                       absl::Base64Escape(Sha256("convex bytes")),
                       R"(","size":12,"contentType":"text/plain","internalId":"0f1e2d3c-0000-4000-8000-000000000000"})", "\n"));
    entry(absl::StrCat("_storage/", file_id, ".txt"), "convex bytes");
    ASSERT_TRUE((*writer)->Close().ok());
  }
  ShellResult imported = Ctl(supervisor, "import moved " + zip);
  ASSERT_EQ(imported.status, 0) << imported.out << supervisor.log();
  EXPECT_THAT(imported.out, ::testing::HasSubstr("1 tables, 2 documents, 1 files"));
  EXPECT_THAT(imported.out, ::testing::HasSubstr("1 files got new ids"));
  Source moved(supervisor, "moved", *key);
  const std::map<std::string, std::string> people = moved.Documents("people");
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(people.at(storage::EncodeDocumentId(ann)),
            absl::StrCat(R"({"_creationTime":1700000000000.5,"_id":")", storage::EncodeDocumentId(ann),
                         R"(","age":{"$integer":"KgAAAAAAAAA="},"name":"ann","photo":{"$bytes":"AQID"},"score":1})"));
  EXPECT_THAT(people.at(storage::EncodeDocumentId(bob)), ::testing::HasSubstr(R"("score":{"$float":"AAAAAAAA8H8="})"));
  absl::StatusOr<storage::Value> files = storage::ParseConvexJson(moved.Call(CallKind::kQuery, "items:files", "{}"));
  ASSERT_TRUE(files.ok() && files->array().size() == 1);
  const std::string new_id = files->array()[0].Get("_id").string();
  EXPECT_NE(new_id, file_id);
  EXPECT_EQ(files->array()[0].Get("contentType").string(), "text/plain");
  EXPECT_EQ(moved.Call(CallKind::kAction, "items:fileText", absl::StrCat(R"({"file":")", new_id, "\"}")),
            R"("convex bytes")");

  // Not a ZIP; a file whose bytes do not match its sha256; components.
  std::ofstream(dir.path() + "/junk.zip") << "junk";
  ShellResult junk = Ctl(supervisor, "import moved " + dir.path() + "/junk.zip");
  EXPECT_NE(junk.status, 0);
  const std::string bad = dir.path() + "/bad.zip";
  {
    absl::StatusOr<std::unique_ptr<cli::SnapshotZipWriter>> writer = cli::SnapshotZipWriter::Create(bad);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->StartEntry("_storage/documents.jsonl").ok());
    ASSERT_TRUE((*writer)->Write(absl::StrCat(R"({"_id":"x","sha256":")", absl::Base64Escape(Sha256("other")), "\"}\n")).ok());
    ASSERT_TRUE((*writer)->StartEntry("_storage/x").ok());
    ASSERT_TRUE((*writer)->Write("these bytes").ok());
    ASSERT_TRUE((*writer)->Close().ok());
  }
  ShellResult mismatch = Ctl(supervisor, "import moved " + bad);
  EXPECT_NE(mismatch.status, 0);
  EXPECT_THAT(mismatch.out, ::testing::HasSubstr("_storage/x: the file's bytes have SHA-256"));
  // Entries no snapshot of a root component holds: refused, naming the entry.
  for (const auto& [entry, problem] : std::vector<std::pair<std::string, std::string>>{
           {"_components/waitlist/people/documents.jsonl", "components are not supported"},
           {"bad table!/documents.jsonl", "bad table!"},
           {"people/generated_schema.jsonl", "legacy generated_schema"}}) {
    const std::string odd = dir.path() + "/odd.zip";
    {
      absl::StatusOr<std::unique_ptr<cli::SnapshotZipWriter>> writer = cli::SnapshotZipWriter::Create(odd);
      ASSERT_TRUE(writer.ok());
      ASSERT_TRUE((*writer)->StartEntry(entry).ok());
      ASSERT_TRUE((*writer)->Write(absl::StrCat(R"({"_id":")", storage::EncodeDocumentId(ann),
                                                R"(","_creationTime":1.0})", "\n")).ok());
      ASSERT_TRUE((*writer)->Close().ok());
    }
    ShellResult refused = Ctl(supervisor, "import moved " + odd);
    EXPECT_NE(refused.status, 0) << entry;
    EXPECT_THAT(refused.out, ::testing::HasSubstr(problem)) << entry;
  }
}

}  // namespace
}  // namespace isobar::testing
