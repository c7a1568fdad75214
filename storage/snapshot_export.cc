#include "storage/snapshot_export.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/system_tables.h"

namespace isobar::storage {
namespace {

constexpr char kReadme[] =
    "# Convex snapshot\n\n"
    "A deployment's data, written by Isobar in the format of `npx convex export`: one folder per table with\n"
    "its documents as JSON lines (documents.jsonl), and _storage with the stored files. `npx convex import`\n"
    "and `isobarctl import` read it.\n";

// Buffers small writes into larger ones.
class Buffered {
 public:
  Buffered(SnapshotSink& sink, size_t limit) : sink_(sink), limit_(limit) {}
  absl::Status Start(const std::string& path) {
    RETURN_IF_ERROR(Flush());
    return sink_.StartEntry(path);
  }
  absl::Status Append(absl::string_view bytes) {
    buffer_.append(bytes.data(), bytes.size());
    return buffer_.size() >= limit_ ? Flush() : absl::OkStatus();
  }
  absl::Status Flush() {
    if (buffer_.empty()) return absl::OkStatus();
    absl::Status written = sink_.Write(buffer_);
    buffer_.clear();
    return written;
  }

 private:
  SnapshotSink& sink_;
  const size_t limit_;
  std::string buffer_;
};

// Every document of `table` at `ts`, a page (one transaction) at a time, in id order. A page over a
// transaction's read limits (large documents) is read again in halves.
absl::Status ForEachDocument(Database& db, Timestamp ts, const std::string& table, size_t page,
                             const std::function<absl::Status(const Value&)>& each) {
  std::string after;
  for (;;) {
    ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, db.BeginAt(ts));
    ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> schema, txn->Table(table));
    if (schema == nullptr) return absl::OkStatus();
    absl::StatusOr<ScanResult> read =
        txn->Scan(schema, schema->indexes[0], KeyRange{after, std::nullopt}, Order::kAsc, page);
    if (absl::IsResourceExhausted(read.status()) && page > 1) {
      page /= 2;
      continue;
    }
    ASSIGN_OR_RETURN(ScanResult scanned, std::move(read));
    for (const Value& document : scanned.documents) RETURN_IF_ERROR(each(document));
    if (scanned.exhausted || scanned.keys.empty()) return absl::OkStatus();
    after = scanned.keys.back();
    after.push_back('\0');  // the smallest key after the last one read
  }
}

}  // namespace

absl::StatusOr<ExportCounts> ExportSnapshot(Database& db, SnapshotSink& sink, const ExportOptions& options) {
  // Held to the end: its snapshot keeps what `ts` sees from retention while the pages are read.
  std::unique_ptr<Transaction> pinned = db.Begin();
  const Timestamp ts = pinned->begin_ts();
  ASSIGN_OR_RETURN(std::vector<TableInfo> tables, db.catalog().ListTables(db.persistence().deployment()));
  tables.erase(std::remove_if(tables.begin(), tables.end(), [](const TableInfo& t) { return t.name[0] == '_'; }),
               tables.end());
  std::sort(tables.begin(), tables.end(), [](const TableInfo& a, const TableInfo& b) { return a.number < b.number; });
  ExportCounts counts;
  Buffered out(sink, options.max_write_bytes);
  RETURN_IF_ERROR(out.Start("README.md"));
  RETURN_IF_ERROR(out.Append(kReadme));
  RETURN_IF_ERROR(out.Start("_tables/documents.jsonl"));
  for (const TableInfo& table : tables) {
    ASSIGN_OR_RETURN(Value line, Value::MakeObject({{"id", Value::Int64(table.number.value())},
                                                    {"name", Value::String(table.name)}}));
    RETURN_IF_ERROR(out.Append(absl::StrCat(ToExportJson(line), "\n")));
  }
  for (const TableInfo& table : tables) {
    ++counts.tables;
    RETURN_IF_ERROR(out.Start(absl::StrCat(table.name, "/documents.jsonl")));
    RETURN_IF_ERROR(ForEachDocument(db, ts, table.name, options.page_documents, [&](const Value& document) {
      ++counts.documents;
      return out.Append(absl::StrCat(ToExportJson(document), "\n"));
    }));
    RETURN_IF_ERROR(out.Start(absl::StrCat(table.name, "/generated_schema.jsonl")));
    RETURN_IF_ERROR(out.Append("\"uniform\"\n"));
  }
  if (options.files) {
    // Convex's fields: size as an integer, the content type null when there is none.
    std::vector<std::pair<std::string, uint64_t>> files;  // id, size
    RETURN_IF_ERROR(out.Start("_storage/documents.jsonl"));
    RETURN_IF_ERROR(ForEachDocument(db, ts, kStorageTable, options.page_documents, [&](const Value& document) {
      const Value& size = document.Get("size");
      const uint64_t bytes = size.type() == Value::Type::kFloat64 ? static_cast<uint64_t>(size.float64()) : 0;
      files.emplace_back(document.Get("_id").string(), bytes);
      const Value& type = document.Get("contentType");
      ASSIGN_OR_RETURN(Value line, Value::MakeObject({{"_creationTime", document.Get("_creationTime")},
                                                      {"_id", document.Get("_id")},
                                                      {"contentType", type.is_undefined() ? Value::Null() : type},
                                                      {"sha256", document.Get("sha256")},
                                                      {"size", Value::Int64(static_cast<int64_t>(bytes))}}));
      return out.Append(absl::StrCat(ToExportJson(line), "\n"));
    }));
    for (const auto& [id, size] : files) {
      RETURN_IF_ERROR(out.Start(absl::StrCat("_storage/", id)));
      RETURN_IF_ERROR(out.Flush());
      RETURN_IF_ERROR(db.files().Read(id, 0, size, [&](absl::string_view part) { return sink.Write(part); }));
      ++counts.files;
      counts.file_bytes += size;
    }
  }
  RETURN_IF_ERROR(out.Flush());
  return counts;
}

}  // namespace isobar::storage
