#include "supervisor/runner/syscalls.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/catalog.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "storage/paginate.h"
#include "storage/system_tables.h"
#include "supervisor/runner/scheduled_jobs.h"
#include "supervisor/runner/syscall_args.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

using Op = absl::StatusOr<std::string> (*)(InvocationSession&, const Value&);

constexpr uint64_t kMaxDatabaseOperations = 64000;

absl::StatusOr<storage::Transaction*> Reader(InvocationSession& session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  if (session.txn == nullptr) {
    return absl::InvalidArgumentError("The database is not available in actions: use ctx.runQuery or ctx.runMutation");
  }
  // Repeating a read that finds nothing adds neither a document nor a new range, and each is a round
  // trip to PostgreSQL: a bound of our own, well past what Convex's read limits allow otherwise.
  if (++session.database_queries > kMaxDatabaseOperations) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Too many database operations in a single function execution (limit: ", kMaxDatabaseOperations, ")"));
  }
  return session.txn.get();
}

absl::StatusOr<storage::Transaction*> Writer(InvocationSession& session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  if (session.function.kind != FunctionKind::kMutation) {
    return absl::InvalidArgumentError(absl::StrCat("Writes are not allowed in a ", KindName(session.function.kind),
                                                   ": only mutations write to the database"));
  }
  return Reader(session);
}

// With schemaValidation, a written document must match its table's validator.
absl::Status CheckSchema(InvocationSession& session, absl::string_view table, const Value& document) {
  const std::optional<Schema>& schema = session.code->schema();
  if (!schema.has_value() || !schema->validation) return absl::OkStatus();
  const SchemaTable* defined = schema->Find(table);
  if (defined == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("Failed to insert or update a document in table \"", table,
                                                   "\" because it does not match the schema: the table is not in "
                                                   "the schema"));
  }
  if (!defined->document.has_value()) return absl::OkStatus();
  Value::Object user;
  for (const auto& [name, value] : document.object()) {
    if (name != "_id" && name != "_creationTime") user.emplace_back(name, value);
  }
  absl::Status matches = defined->document->Check(Value::MakeSortedObject(std::move(user)), session.deployment->TableOfId());
  if (matches.ok()) return matches;
  return absl::InvalidArgumentError(absl::StrCat("Failed to insert or update a document in table \"", table,
                                                 "\" because it does not match the schema: ", matches.message()));
}

// System tables that Convex does not expose are not readable at all.
absl::Status CheckReadable(absl::string_view table) {
  if (table.empty() || table[0] != '_') return absl::OkStatus();
  const storage::SystemTable* system = storage::FindSystemTable(table);
  if (system != nullptr && system->user_visible) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("Table \"", table.substr(0, 80), "\" is not readable"));
}

// A system table Convex keeps private ("_index", "_tables", ...): user code reads it as a table that
// does not exist, with no rows, as on Convex.
bool IsPrivateSystemTable(absl::string_view table) { return !table.empty() && table[0] == '_' && !CheckReadable(table).ok(); }

absl::StatusOr<std::string> TableOf(InvocationSession& session, const storage::DocumentId& id) {
  ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> table,
                   session.deployment->db().schemas().ByNumber(id.table));
  if (table == nullptr) return absl::NotFoundError("the document's table does not exist");
  return table->table.name;
}

absl::StatusOr<std::string> Get(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Reader(session));
  ASSIGN_OR_RETURN(std::string id_text, StringArg(args, "id"));
  ASSIGN_OR_RETURN(storage::DocumentId id, txn->ResolveId("db.get", id_text, OptionalString(args, "table")));
  const bool system = args.Get("isSystem").type() == Value::Type::kBoolean && args.Get("isSystem").boolean();
  ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> table, txn->schemas().ByNumber(id.table));
  // (A system table not made yet still has its number: its ids are a system table's.)
  const bool system_id = table != nullptr ? table->table.name[0] == '_' : id.table.value() < storage::kFirstUserTableNumber;
  if (system_id != system) {
    return absl::InvalidArgumentError(system ? "User tables cannot be accessed with db.system."
                                             : "System tables can only be accessed with db.system.");
  }
  if (table != nullptr && IsPrivateSystemTable(table->table.name)) return std::string("null");
  ASSIGN_OR_RETURN(std::optional<Value> document, txn->Get(id));
  return document.has_value() ? storage::ToConvexJson(*document) : std::string("null");
}

absl::StatusOr<std::string> Insert(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Writer(session));
  ASSIGN_OR_RETURN(std::string table, StringArg(args, "table"));
  absl::StatusOr<Value> converted = storage::FromPlainJson(args.Get("value"), /*allow_undefined=*/false);
  if (!converted.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid argument `value` for `db.insert`: ", converted.status().message()));
  }
  Value value = *std::move(converted);
  if (value.type() != Value::Type::kObject) return absl::InvalidArgumentError("insert takes an object");
  // Checked before the insert, on the user's fields (CheckSchema ignores the system fields): reading
  // the new document back would put it in the read set, and writes do not count as reads.
  // A bad or system table name is the insert's own error.
  if (storage::ValidateIdentifier("table", table).ok() && table[0] != '_') {
    RETURN_IF_ERROR(CheckSchema(session, table, value));
  }
  ASSIGN_OR_RETURN(storage::DocumentId id, txn->Insert(table, value));
  return absl::StrCat("{\"_id\":", Quote(storage::EncodeDocumentId(id)), "}");
}

// shallowMerge, replace and remove: the id (optionally checked against `table`), then the write; the
// document a merge or replacement leaves must match the schema.
template <typename Write>
absl::StatusOr<std::string> Update(InvocationSession& session, const Value& args, absl::string_view operation,
                                   bool checks_schema, Write write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Writer(session));
  ASSIGN_OR_RETURN(std::string id_text, StringArg(args, "id"));
  ASSIGN_OR_RETURN(storage::DocumentId id, txn->ResolveId(operation, id_text, OptionalString(args, "table")));
  ASSIGN_OR_RETURN(Value document, write(*txn, id));
  if (checks_schema) {
    ASSIGN_OR_RETURN(std::string table, TableOf(session, id));
    RETURN_IF_ERROR(CheckSchema(session, table, document));
  }
  return storage::ToConvexJson(document);
}

absl::StatusOr<std::string> ShallowMerge(InvocationSession& session, const Value& args)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(Value patch, storage::FromPlainJson(args.Get("value"), /*allow_undefined=*/true));
  return Update(session, args, "db.patch", /*checks_schema=*/true,
                [&](storage::Transaction& txn, const storage::DocumentId& id) { return txn.Patch(id, patch); });
}

absl::StatusOr<std::string> Replace(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(Value value, storage::FromPlainJson(args.Get("value"), /*allow_undefined=*/false));
  if (value.type() != Value::Type::kObject) return absl::InvalidArgumentError("replace takes an object");
  return Update(session, args, "db.replace", /*checks_schema=*/true,
                [&](storage::Transaction& txn, const storage::DocumentId& id) { return txn.Replace(id, value); });
}

absl::StatusOr<std::string> Remove(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  return Update(session, args, "db.delete", /*checks_schema=*/false,
                [](storage::Transaction& txn, const storage::DocumentId& id) { return txn.Delete(id); });
}

absl::StatusOr<std::string> NormalizeId(InvocationSession& session, const Value& args)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Reader(session));
  ASSIGN_OR_RETURN(std::string table, StringArg(args, "table"));
  ASSIGN_OR_RETURN(std::string id_text, StringArg(args, "idString"));
  // A system table Convex exposes exists before its first document (its number is fixed).
  const storage::SystemTable* visible = storage::FindSystemTable(table);
  if (visible != nullptr && !visible->user_visible) visible = nullptr;
  if (visible != nullptr) {
    absl::StatusOr<storage::DocumentId> decoded = storage::DecodeDocumentId(id_text);
    if (decoded.ok()) {
      return decoded->table.value() == visible->number ? absl::StrCat("{\"id\":", Quote(id_text), "}")
                                                       : std::string(R"({"id":null})");
    }
  }
  absl::StatusOr<storage::DocumentId> id = txn->ResolveId("db.normalizeId", id_text, table);
  if (!id.ok()) {
    // A legacy id (Convex's older format: the internal id alone, url-safe base64) names a document of
    // whichever table it is normalized for.
    std::string internal;
    if (id_text.size() != 22 || !absl::WebSafeBase64Unescape(id_text, &internal) || internal.size() != 16 ||
        !storage::ValidateIdentifier("table", table).ok()) {
      return std::string(R"({"id":null})");
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> found, txn->Table(table));
    if ((found == nullptr && visible == nullptr) || !CheckReadable(table).ok()) {
      return std::string(R"({"id":null})");
    }
    storage::DocumentId legacy{found != nullptr ? found->table.number : storage::TableNumber(visible->number), {}};
    std::copy(internal.begin(), internal.end(), legacy.internal.begin());
    return absl::StrCat("{\"id\":", Quote(storage::EncodeDocumentId(legacy)), "}");
  }
  return absl::StrCat("{\"id\":", Quote(storage::EncodeDocumentId(*id)), "}");
}

constexpr size_t kMaxOpenQueries = 64;

absl::StatusOr<std::string> QueryStream(InvocationSession& session, const Value& args)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Reader(session));
  ASSIGN_OR_RETURN(storage::Query query, storage::ParseQuery(args.Get("query")));
  if (session.streams.size() >= kMaxOpenQueries) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many open queries (at most ", kMaxOpenQueries, ")"));
  }
  std::unique_ptr<storage::QueryStream> stream;  // none: a private system table, which has no rows
  if (!IsPrivateSystemTable(query.table)) {
    ASSIGN_OR_RETURN(stream, storage::QueryStream::Open(*txn, query));
  }
  const uint32_t id = session.next_query_id++;
  session.streams.emplace(id, std::move(stream));
  return absl::StrCat("{\"queryId\":", id, "}");
}

absl::StatusOr<uint32_t> QueryId(const Value& args) {
  const Value& id = args.Get("queryId");
  if (id.type() != Value::Type::kFloat64 || id.float64() < 0 || id.float64() > 4294967295.0 ||
      std::floor(id.float64()) != id.float64()) {
    return absl::InvalidArgumentError("`queryId` must be a query id");
  }
  return static_cast<uint32_t>(id.float64());
}

absl::StatusOr<std::string> QueryStreamNext(InvocationSession& session, const Value& args)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Reader(session));
  ASSIGN_OR_RETURN(uint32_t id, QueryId(args));
  auto it = session.streams.find(id);
  if (it == session.streams.end()) return absl::InvalidArgumentError(absl::StrCat("Query ", id, " is not open"));
  std::optional<Value> document;
  if (it->second != nullptr) {
    ASSIGN_OR_RETURN(document, it->second->Next(*txn));
  }
  if (!document.has_value()) {
    session.streams.erase(it);  // the backend drops a query once it reports done
    return std::string(R"({"value":null,"done":true})");
  }
  return absl::StrCat("{\"value\":", storage::ToConvexJson(*document), ",\"done\":false}");
}

absl::StatusOr<std::string> QueryCleanup(InvocationSession& session, const Value& args)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(uint32_t id, QueryId(args));
  return session.streams.erase(id) > 0 ? std::string("true") : std::string("false");
}

absl::StatusOr<size_t> OptionalCount(const Value& args, absl::string_view name, size_t otherwise) {
  const Value& v = args.Get(name);
  if (v.is_undefined() || v.type() == Value::Type::kNull) return otherwise;
  if (v.type() != Value::Type::kFloat64 || v.float64() < 0 || std::floor(v.float64()) != v.float64()) {
    return absl::InvalidArgumentError(absl::StrCat("`", name, "` must be a non-negative integer"));
  }
  return static_cast<size_t>(std::min(v.float64(), 1e15));
}

absl::StatusOr<std::string> QueryPage(InvocationSession& session, const Value& args)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Reader(session));
  if (session.paginated) {
    return absl::InvalidArgumentError(
        "This query or mutation function ran multiple paginated queries. Convex only supports a single paginated "
        "query in each function.");
  }
  storage::PageRequest request;
  ASSIGN_OR_RETURN(request.query, storage::ParseQuery(args.Get("query")));
  RETURN_IF_ERROR(CheckReadable(request.query.table));
  request.cursor = OptionalString(args, "cursor");
  request.end_cursor = OptionalString(args, "endCursor");
  // Without an end of its own, a re-run pages up to where the previous run ended (its journal).
  const bool from_journal = !request.end_cursor.has_value() && !session.prev_journal.empty();
  if (from_journal) request.end_cursor = session.prev_journal;
  ASSIGN_OR_RETURN(request.page_size, OptionalCount(args, "pageSize", 0));
  const size_t kUnset = SIZE_MAX;
  ASSIGN_OR_RETURN(size_t max_rows, OptionalCount(args, "maximumRowsRead", kUnset));
  ASSIGN_OR_RETURN(size_t max_bytes, OptionalCount(args, "maximumBytesRead", kUnset));
  if (max_rows == 0 || max_bytes == 0) {
    return absl::InvalidArgumentError("maximumRowsRead and maximumBytesRead must be greater than 0");
  }
  if (max_rows != kUnset) request.maximum_rows_read = max_rows;
  if (max_bytes != kUnset) request.maximum_bytes_read = max_bytes;
  if (request.page_size == 0 && !request.end_cursor.has_value()) {
    return absl::InvalidArgumentError("Must request at least 1 document while paginating");
  }
  if (request.page_size > storage::kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("Requested too many items: ", request.page_size));
  }
  session.paginated = true;  // only a page that could be asked for counts
  absl::StatusOr<storage::PageResult> paged = storage::QueryPage(*txn, request, session.deployment->info().cursor_key);
  if (from_journal && absl::IsInvalidArgument(paged.status())) {
    // A journal this query cannot use (the code changed its range, or the client's is forged): as
    // Convex's would after a change, the page starts afresh rather than fail for ever.
    request.end_cursor.reset();
    paged = storage::QueryPage(*txn, request, session.deployment->info().cursor_key);
  }
  ASSIGN_OR_RETURN(storage::PageResult page, std::move(paged));
  session.next_journal = page.continue_cursor;
  std::string out = "{\"page\":[";
  for (size_t i = 0; i < page.page.size(); ++i) {
    if (i > 0) out += ',';
    out += storage::ToConvexJson(page.page[i]);
  }
  absl::StrAppend(&out, "],\"isDone\":", page.is_done ? "true" : "false",
                  ",\"continueCursor\":", Quote(page.continue_cursor), ",\"splitCursor\":null,\"pageStatus\":",
                  page.page_status.has_value() ? Quote(*page.page_status) : std::string("null"), "}");
  return out;
}

absl::StatusOr<std::string> Count(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Reader(session));
  ASSIGN_OR_RETURN(std::string table, StringArg(args, "table"));
  if (IsPrivateSystemTable(table)) return std::string("0");
  storage::Query query;
  query.table = table;
  query.index = storage::kByCreationTimeIndex;
  query.full_table_scan = true;
  ASSIGN_OR_RETURN(std::unique_ptr<storage::QueryStream> stream, storage::QueryStream::Open(*txn, query));
  double count = 0;
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<Value> document, stream->Next(*txn));
    if (!document.has_value()) break;
    ++count;
  }
  return storage::ToConvexJson(Value::Float64(count));
}


absl::StatusOr<std::string> Schedule(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Writer(session));
  if (session.scheduled.jobs >= kMaxScheduledPerMutation) {
    return absl::ResourceExhaustedError(absl::StrCat("Too many functions scheduled by this mutation (limit: ",
                                                     kMaxScheduledPerMutation, ")"));
  }
  size_t size = 0;
  ASSIGN_OR_RETURN(std::string id, ScheduleJob(*txn, *session.code, args, absl::Now(), session.scheduled_job,
                                               kMaxScheduledTotalArgsBytes - session.scheduled.args_bytes, &size));
  ++session.scheduled.jobs;
  session.scheduled.args_bytes += size;
  session.scheduled.largest_args_bytes = std::max(session.scheduled.largest_args_bytes, size);
  return Quote(id);
}

absl::StatusOr<std::string> CancelScheduled(InvocationSession& session, const Value& args)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Writer(session));
  ASSIGN_OR_RETURN(std::string id, StringArg(args, "id"));
  RETURN_IF_ERROR(CancelJob(*txn, id));
  return std::string("null");
}

absl::StatusOr<std::string> SnapshotTs(InvocationSession& session, const Value&) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(storage::Transaction * txn, Reader(session));
  return storage::ToConvexJson(Value::Int64(static_cast<int64_t>(txn->begin_ts().value())));
}

absl::StatusOr<std::string> UserIdentity(InvocationSession& session, const Value&) {
  session.identity_read->store(true);
  // As Convex: an HTTP action runs whatever its Authorization header held; reading the identity of a
  // token that stands for no one throws why.
  if (!session.identity_error.empty()) return absl::PermissionDeniedError(session.identity_error);
  return session.identity_json;
}

absl::StatusOr<std::string> FunctionMetadata(InvocationSession& session, const Value&) {
  return absl::StrCat("{\"name\":", Quote(session.function.path), ",\"componentPath\":\"\"}");
}

absl::StatusOr<std::string> DeploymentMetadata(InvocationSession& session, const Value&) {
  return absl::StrCat("{\"name\":", Quote(session.deployment->info().name), ",\"region\":null,\"class\":\"self-hosted\"}");
}

absl::StatusOr<std::string> TransactionMetrics(InvocationSession& session, const Value&)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  if (session.txn == nullptr) return absl::InvalidArgumentError("Unknown async operation 1.0/getTransactionMetrics");
  const storage::TransactionLimits limits;
  const storage::Transaction& txn = *session.txn;
  const size_t bytes_written = txn.bytes_written();
  // As Convex reports them: remaining = limit - used, negative once past the limit; databaseQueries
  // counts the read set's disjoint index ranges (what its 4096 limit bounds), not the calls.
  auto metric = [](size_t used, size_t limit) {
    return absl::StrCat("{\"used\":", used, ",\"remaining\":", static_cast<int64_t>(limit) - static_cast<int64_t>(used),
                        "}");
  };
  return absl::StrCat("{\"bytesRead\":", metric(txn.bytes_read(), limits.max_bytes_read),
                      ",\"bytesWritten\":", metric(bytes_written, limits.max_bytes_written),
                      ",\"databaseQueries\":", metric(txn.reads().intervals(), limits.max_read_intervals),
                      ",\"documentsRead\":", metric(txn.documents_read(), limits.max_documents_read),
                      ",\"documentsWritten\":", metric(txn.write_count(), limits.max_documents_written),
                      ",\"functionsScheduled\":", metric(session.scheduled.jobs, kMaxScheduledPerMutation),
                      ",\"scheduledFunctionArgsBytes\":", metric(session.scheduled.args_bytes, kMaxScheduledTotalArgsBytes), "}");
}

// process.env.NAME: the deployment's variables are read once per invocation, however often it asks.
absl::StatusOr<std::string> Env(InvocationSession& session, const Value& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu) {
  ASSIGN_OR_RETURN(std::string name, StringArg(args, "name"));
  if (!session.env.has_value()) {
    ASSIGN_OR_RETURN(auto listed, session.deployment->db().catalog().ListEnv(session.deployment->info().id));
    session.env.emplace(listed.begin(), listed.end());
  }
  auto it = session.env->find(name);
  if (it != session.env->end()) return Quote(it->second);
  if (name == "CONVEX_CLOUD_URL" && !session.cloud_url.empty()) return Quote(session.cloud_url);
  if (name == "CONVEX_SITE_URL" && !session.site_url.empty()) return Quote(session.site_url);
  return std::string("null");
}

// Ops that touch the session's mutable state are served under its lock.
struct Entry {
  absl::string_view op;
  Op serve;
  bool immediate = false;  // IsImmediateSyscall
};

#define ISOBAR_LOCKED(fn)                                                           \
  [](InvocationSession& s, const Value& a) -> absl::StatusOr<std::string> {         \
    absl::MutexLock lock(&s.mu);                                                    \
    return fn(s, a);                                                                \
  }

constexpr Entry kOps[] = {
    {"1.0/get", ISOBAR_LOCKED(Get)},
    {"1.0/insert", ISOBAR_LOCKED(Insert)},
    {"1.0/shallowMerge", ISOBAR_LOCKED(ShallowMerge)},
    {"1.0/replace", ISOBAR_LOCKED(Replace)},
    {"1.0/remove", ISOBAR_LOCKED(Remove)},
    {"1.0/db/normalizeId", ISOBAR_LOCKED(NormalizeId)},
    {"1.0/queryStream", ISOBAR_LOCKED(QueryStream)},
    {"1.0/queryStreamNext", ISOBAR_LOCKED(QueryStreamNext)},
    {"1.0/queryCleanup", ISOBAR_LOCKED(QueryCleanup)},
    {"1.0/queryPage", ISOBAR_LOCKED(QueryPage)},
    {"1.0/count", ISOBAR_LOCKED(Count)},
    {"1.0/schedule", ISOBAR_LOCKED(Schedule)},
    {"1.0/cancel_job", ISOBAR_LOCKED(CancelScheduled)},
    {"1.0/getSnapshotTs", ISOBAR_LOCKED(SnapshotTs)},
    {"1.0/getTransactionMetrics", ISOBAR_LOCKED(TransactionMetrics)},
    {"1.0/getUserIdentity", UserIdentity, /*immediate=*/true},
    {"1.0/getFunctionMetadata", FunctionMetadata, /*immediate=*/true},
    {"1.0/getDeploymentMetadata", DeploymentMetadata, /*immediate=*/true},
    {"isobar/env", ISOBAR_LOCKED(Env)},
};

#undef ISOBAR_LOCKED

}  // namespace

bool IsSessionSyscall(absl::string_view op) {
  for (const Entry& entry : kOps) {
    if (entry.op == op) return true;
  }
  return false;
}

bool IsImmediateSyscall(absl::string_view op) {
  for (const Entry& entry : kOps) {
    if (entry.op == op) return entry.immediate;
  }
  return false;
}

absl::StatusOr<std::string> ServeSyscall(InvocationSession& session, absl::string_view op, absl::string_view args_json) {
  for (const Entry& entry : kOps) {
    if (entry.op != op) continue;
    ASSIGN_OR_RETURN(Value args, ParseSyscallArgs(args_json));
    return entry.serve(session, args);
  }
  return absl::InvalidArgumentError(absl::StrCat("Unknown operation ", op.substr(0, 100)));
}

}  // namespace isobar::supervisor
