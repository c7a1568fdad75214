#include "storage/snapshot_import.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/system_tables.h"

namespace isobar::storage {
namespace {

constexpr char kDocuments[] = "documents.jsonl";
constexpr char kSchema[] = "generated_schema.jsonl";

// The last two parts of `path`: its folder's name and its file name.
std::pair<std::string, std::string> Tail(const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  if (parts.size() < 2) return {"", path};
  return {parts[parts.size() - 2], parts.back()};
}

double CreationTime(const Value& value) {
  if (value.type() == Value::Type::kFloat64) return value.float64();
  if (value.type() == Value::Type::kInt64) return static_cast<double>(value.int64());
  return -1;
}

}  // namespace

SnapshotImporter::SnapshotImporter(Database& db, ImportOptions options) : db_(db), options_(options) {}

SnapshotImporter::~SnapshotImporter() = default;

absl::Status SnapshotImporter::Failed(absl::Status status) const {
  std::string where = path_;
  if (line_number_ > 0 && kind_ != Kind::kFile) absl::StrAppend(&where, " line ", line_number_);
  return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
}

absl::Status SnapshotImporter::StartEntry(const std::string& path) {
  RETURN_IF_ERROR(EndEntry());
  path_ = path;
  line_number_ = 0;
  pending_.clear();
  kind_ = Kind::kSkipped;
  if (absl::StrContains(absl::StrCat("/", path), "/_components/")) {
    return Failed(absl::UnimplementedError("components are not supported: import the root component's tables only"));
  }
  const auto [folder, file] = Tail(path);
  if (file == kDocuments) {
    if (folder == "_tables") {
      kind_ = Kind::kTables;
    } else if (folder == kStorageTable) {
      kind_ = Kind::kStorageDocuments;
    } else if (!folder.empty() && folder[0] != '_') {
      kind_ = Kind::kDocuments;
      table_ = folder;
    }
  } else if (file == kSchema && !folder.empty() && folder[0] != '_') {
    kind_ = Kind::kSchema;
  } else if (folder == kStorageTable && !file.empty() && file[0] != '.') {
    kind_ = Kind::kFile;
    file_id_ = file.substr(0, file.find('.'));  // Convex adds an extension guessed from the content type
    upload_key_ = absl::StrCat("import-", absl::ToUnixNanos(absl::Now()), "-", counts_.files);
    chunk_.clear();
    chunks_ = 0;
    file_size_ = 0;
    file_hash_ = std::make_unique<Sha256Stream>();
  }
  return absl::OkStatus();
}

absl::Status SnapshotImporter::Write(absl::string_view bytes) {
  switch (kind_) {
    case Kind::kSkipped:
      return absl::OkStatus();
    case Kind::kFile:
      return FileBytes(bytes);
    case Kind::kSchema:
      if (pending_.size() + bytes.size() > 1 << 20) {
        return Failed(absl::UnimplementedError("a legacy generated_schema (Convex before \"uniform\" exports)"));
      }
      pending_.append(bytes.data(), bytes.size());
      return absl::OkStatus();
    default:
      break;
  }
  for (;;) {
    const size_t end = bytes.find('\n');
    if (end == absl::string_view::npos) break;
    pending_.append(bytes.data(), end);
    bytes.remove_prefix(end + 1);
    RETURN_IF_ERROR(Line(pending_));
    pending_.clear();
  }
  pending_.append(bytes.data(), bytes.size());
  if (pending_.size() > options_.max_line_bytes) {
    ++line_number_;
    return Failed(absl::ResourceExhaustedError(absl::StrCat("a line over ", options_.max_line_bytes, " bytes")));
  }
  return absl::OkStatus();
}

absl::Status SnapshotImporter::EndEntry() {
  switch (kind_) {
    case Kind::kSkipped:
      return absl::OkStatus();
    case Kind::kFile:
      return EndFile();
    case Kind::kSchema:
      if (absl::StripAsciiWhitespace(pending_) != "\"uniform\"") {
        return Failed(absl::UnimplementedError(
            "a legacy generated_schema (its types are not in the documents): export again with a newer Convex"));
      }
      return absl::OkStatus();
    default:
      if (!pending_.empty()) RETURN_IF_ERROR(Line(pending_));
      pending_.clear();
      return kind_ == Kind::kDocuments ? CommitBatch() : absl::OkStatus();
  }
}

absl::Status SnapshotImporter::Line(absl::string_view line) {
  ++line_number_;
  if (absl::StripAsciiWhitespace(line).empty()) return absl::OkStatus();
  switch (kind_) {
    case Kind::kTables: return TableLine(line);
    case Kind::kDocuments: return DocumentLine(line);
    case Kind::kStorageDocuments: return StorageLine(line);
    default: return absl::OkStatus();
  }
}

absl::Status SnapshotImporter::TableLine(absl::string_view line) {
  absl::StatusOr<Value> table = ParseConvexJson(line, {.export_integers = true});
  if (!table.ok()) return Failed(table.status());
  const Value& name = table->Get("name");
  const Value& id = table->Get("id");
  const double number = id.type() == Value::Type::kInt64 ? static_cast<double>(id.int64()) : CreationTime(id);
  if (name.type() != Value::Type::kString || number < 1 || number > 0xFFFFFFFFu) {
    return Failed(absl::InvalidArgumentError("expected {\"name\": <table>, \"id\": <table number>}"));
  }
  if (name.string().empty() || name.string()[0] == '_') return absl::OkStatus();  // system tables: not listed by Convex
  numbers_[name.string()] = TableNumber(static_cast<uint32_t>(number));
  return PrepareTable(name.string(), TableNumber(static_cast<uint32_t>(number)));
}

absl::Status SnapshotImporter::PrepareTable(const std::string& name, TableNumber number) {
  if (prepared_.count(name) > 0) return absl::OkStatus();
  if (absl::Status valid = ValidateIdentifier("table", name); !valid.ok()) return Failed(valid);
  absl::StatusOr<TableInfo> table = db_.catalog().GetOrCreateTable(db_.persistence().deployment(), name, number);
  if (!table.ok()) return Failed(table.status());
  if (table->number != number) {
    return Failed(absl::FailedPreconditionError(absl::StrCat(
        "table \"", name, "\" has number ", table->number.value(), " here and ", number.value(),
        " in the snapshot, so its ids would change: import into a deployment before its first push")));
  }
  std::unique_ptr<Transaction> txn = db_.Begin();
  ASSIGN_OR_RETURN(std::shared_ptr<const TableSchema> schema, txn->Table(name));
  if (schema != nullptr) {
    ASSIGN_OR_RETURN(ScanResult some, txn->Scan(schema, schema->indexes[0], KeyRange{}, Order::kAsc, 1));
    if (!some.documents.empty()) {
      return Failed(absl::FailedPreconditionError(
          absl::StrCat("table \"", name, "\" has documents already: import into empty tables")));
    }
  }
  prepared_.insert(name);
  ++counts_.tables;
  return absl::OkStatus();
}

absl::Status SnapshotImporter::DocumentLine(absl::string_view line) {
  absl::StatusOr<Value> document = ParseConvexJson(line, {.export_integers = true});
  if (!document.ok()) return Failed(document.status());
  if (document->type() != Value::Type::kObject) return Failed(absl::InvalidArgumentError("a document is an object"));
  Pending pending{.table = table_, .id = {}, .creation_time = -1, .fields = {}};
  Value::Object fields;
  bool has_id = false;
  for (const auto& [name, value] : document->object()) {
    if (name == "_id") {
      if (value.type() != Value::Type::kString) return Failed(absl::InvalidArgumentError("_id is not a string"));
      absl::StatusOr<DocumentId> id = DecodeDocumentId(value.string());
      if (!id.ok()) return Failed(id.status());
      pending.id = *id;
      has_id = true;
    } else if (name == "_creationTime") {
      pending.creation_time = CreationTime(value);
    } else {
      fields.emplace_back(name, value);
    }
  }
  if (!has_id) return Failed(absl::InvalidArgumentError("a document without _id"));
  if (pending.creation_time <= 0) return Failed(absl::InvalidArgumentError("_creationTime is not a positive number"));
  auto number = numbers_.find(table_);
  RETURN_IF_ERROR(PrepareTable(table_, number != numbers_.end() ? number->second : pending.id.table));
  ASSIGN_OR_RETURN(pending.fields, Value::MakeObject(std::move(fields)));
  batch_bytes_ += line.size();
  batch_.push_back(std::move(pending));
  if (batch_.size() >= options_.batch_documents || batch_bytes_ >= options_.batch_bytes) return CommitBatch();
  return absl::OkStatus();
}

absl::Status SnapshotImporter::CommitBatch() {
  if (batch_.empty()) return absl::OkStatus();
  std::unique_ptr<Transaction> txn = db_.Begin();
  for (const Pending& pending : batch_) {
    absl::Status inserted = txn->InsertImported(pending.table, pending.id, pending.creation_time, pending.fields);
    if (!inserted.ok()) return Failed(inserted);
  }
  absl::StatusOr<Timestamp> committed = db_.Commit(*txn);
  if (!committed.ok()) return Failed(committed.status());
  counts_.documents += batch_.size();
  batch_.clear();
  batch_bytes_ = 0;
  return absl::OkStatus();
}

absl::Status SnapshotImporter::StorageLine(absl::string_view line) {
  absl::StatusOr<Value> file = ParseConvexJson(line, {.export_integers = true});
  if (!file.ok()) return Failed(file.status());
  const Value& id = file->Get("_id");
  if (id.type() != Value::Type::kString) return Failed(absl::InvalidArgumentError("a stored file without _id"));
  file_metadata_[id.string()] = *std::move(file);
  return absl::OkStatus();
}

absl::Status SnapshotImporter::FileBytes(absl::string_view bytes) {
  file_hash_->Update(bytes);
  file_size_ += bytes.size();
  while (!bytes.empty()) {
    const size_t take = std::min(bytes.size(), BlobStore::kChunkBytes - chunk_.size());
    chunk_.append(bytes.data(), take);
    bytes.remove_prefix(take);
    if (chunk_.size() == BlobStore::kChunkBytes) {
      if (absl::Status written = db_.files().WriteChunk(upload_key_, chunks_++, chunk_, options_.file_quota);
          !written.ok()) {
        return Failed(written);
      }
      chunk_.clear();
    }
  }
  return absl::OkStatus();
}

absl::Status SnapshotImporter::EndFile() {
  if (!chunk_.empty() || chunks_ == 0) {
    if (absl::Status written = db_.files().WriteChunk(upload_key_, chunks_++, chunk_, options_.file_quota); !written.ok()) {
      return Failed(written);
    }
    chunk_.clear();
  }
  const std::string sha256 = absl::Base64Escape(std::move(*file_hash_).Finish());
  file_hash_.reset();
  const Value metadata = file_metadata_.count(file_id_) > 0 ? file_metadata_[file_id_] : Value::Null();
  const Value& expected = metadata.type() == Value::Type::kObject ? metadata.Get("sha256") : Value::Null();
  if (expected.type() == Value::Type::kString && expected.string() != sha256) {
    return Failed(absl::DataLossError(absl::StrCat("the file's bytes have SHA-256 ", sha256, ", not ", expected.string())));
  }
  Value::Object fields = {{"sha256", Value::String(sha256)}, {"size", Value::Float64(static_cast<double>(file_size_))}};
  if (metadata.type() == Value::Type::kObject && metadata.Get("contentType").type() == Value::Type::kString) {
    fields.emplace_back("contentType", metadata.Get("contentType"));
  }
  ASSIGN_OR_RETURN(Value document, Value::MakeObject(std::move(fields)));
  if (absl::StatusOr<TableInfo> table = db_.catalog().GetOrCreateTable(db_.persistence().deployment(), kStorageTable);
      !table.ok()) {
    return Failed(table.status());
  }
  // Its own id if that is one of our _storage ids; Convex's name another table number.
  absl::StatusOr<DocumentId> id = DecodeDocumentId(file_id_);
  const SystemTable* storage = FindSystemTable(kStorageTable);
  const double created = metadata.type() == Value::Type::kObject ? CreationTime(metadata.Get("_creationTime")) : -1;
  std::unique_ptr<Transaction> txn = db_.Begin();
  std::string final_id;
  if (id.ok() && id->table.value() == storage->number && created > 0) {
    absl::Status inserted = txn->InsertImported(kStorageTable, *id, created, document, Access::kSystem);
    if (!inserted.ok()) return Failed(inserted);
    final_id = file_id_;
  } else {
    absl::StatusOr<DocumentId> inserted = txn->Insert(kStorageTable, document, Access::kSystem);
    if (!inserted.ok()) return Failed(inserted.status());
    final_id = EncodeDocumentId(*inserted);
    ++counts_.files_renumbered;
  }
  // The bytes are in place before the document commits (blob_store.h: otherwise they are an orphan).
  if (absl::Status moved = db_.files().Rename(upload_key_, final_id, chunks_); !moved.ok()) return Failed(moved);
  absl::StatusOr<Timestamp> committed = db_.Commit(*txn);
  if (!committed.ok()) return Failed(committed.status());
  ++counts_.files;
  counts_.file_bytes += file_size_;
  return absl::OkStatus();
}

absl::StatusOr<ImportCounts> SnapshotImporter::Finish() {
  RETURN_IF_ERROR(EndEntry());
  kind_ = Kind::kSkipped;
  return counts_;
}

}  // namespace isobar::storage
