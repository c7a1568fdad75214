// The query engine: the query JSON of CONVEX_ABI.md §2.3, compiled to key ranges over an index and
// run inside a transaction.
//
//   ASSIGN_OR_RETURN(Query query, ParseQuery(args.Get("query")));
//   ASSIGN_OR_RETURN(std::unique_ptr<QueryStream> stream, QueryStream::Open(txn, query));
//   while (true) {
//     ASSIGN_OR_RETURN(std::optional<Value> doc, stream->Next(txn));
//     if (!doc) break;
//   }
//
// Sources: FullTableScan (by_creation_time) and IndexRange ("table.index": Eq on a prefix of the
// index fields, then at most one lower and one upper bound on the next field). Operators apply in
// order: filters drop documents, limits end the stream. A missing table is an empty result, with any
// index; a missing index of a table is NOT_FOUND "Index t.x not found.". The read set records what
// was examined, and a table's absence (transaction.h: Transaction::Table).
#ifndef ISOBAR_STORAGE_QUERY_H_
#define ISOBAR_STORAGE_QUERY_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/transaction.h"
#include "storage/value.h"

namespace isobar::storage {

struct RangeExpr {
  enum class Kind { kEq, kGt, kGte, kLt, kLte };
  Kind kind;
  std::string field;
  Value value;  // may be undefined (a missing field)
};

// A filter expression node (CONVEX_ABI.md §2.3).
struct Expr {
  enum class Op { kField, kLiteral, kEq, kNeq, kLt, kLte, kGt, kGte, kAdd, kSub, kMul, kDiv, kMod, kNeg, kAnd, kOr, kNot };
  Op op;
  std::string field;    // kField
  Value literal;        // kLiteral
  std::vector<std::shared_ptr<const Expr>> args;
};

struct QueryOperator {
  std::shared_ptr<const Expr> filter;  // set for a filter
  std::optional<size_t> limit;         // set for a limit
};

struct Query {
  std::string table;
  std::string index;  // "by_creation_time" for a full table scan
  bool full_table_scan = false;
  std::vector<RangeExpr> range;
  Order order = Order::kAsc;
  std::vector<QueryOperator> operators;
};

// INVALID_ARGUMENT with a specific message for malformed queries. At most 256 operators.
absl::StatusOr<Query> ParseQuery(const Value& query);

// The key range selected by `range` on `index` (INVALID_ARGUMENT for ranges Convex refuses).
absl::StatusOr<KeyRange> CompileRange(const IndexInfo& index, const std::string& display_name,
                                      const std::vector<RangeExpr>& range);

// Evaluates a filter expression against a document; EvalError-style INVALID_ARGUMENT for type errors,
// overflow and division by zero.
absl::StatusOr<Value> Evaluate(const Expr& expr, const Value& document);

class QueryStream {
 public:
  static absl::StatusOr<std::unique_ptr<QueryStream>> Open(Transaction& txn, const Query& query);
  // Starts after (or, with `inclusive`, at) an index key instead of at the range's start, and/or stops
  // at `stop_after` (inclusive). For pagination.
  void Resume(const std::optional<std::string>& after_key, const std::optional<std::string>& stop_after);

  // The next document that passes the operators; nullopt at the end.
  absl::StatusOr<std::optional<Value>> Next(Transaction& txn);

  // The key of the last document examined (filtered out or not); nullopt before the first.
  const std::optional<std::string>& last_examined() const { return last_examined_; }
  // True once the index range has nothing after last_examined().
  bool range_exhausted() const { return buffer_.empty() && scan_exhausted_; }
  size_t examined() const { return examined_; }
  // A stable fingerprint of the source (table, index, compiled range, order) for binding cursors.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  QueryStream() = default;
  absl::Status Fill(Transaction& txn);

  std::shared_ptr<const TableSchema> table_;  // null: the table does not exist
  const IndexInfo* index_ = nullptr;
  KeyRange remaining_;
  Order order_ = Order::kAsc;
  std::vector<QueryOperator> operators_;
  std::vector<size_t> passed_;  // per limit operator
  bool has_filter_ = false;
  std::deque<std::pair<std::string, Value>> buffer_;
  bool scan_exhausted_ = false;
  bool ended_ = false;
  std::optional<std::string> last_examined_;
  size_t examined_ = 0;
  std::string fingerprint_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_QUERY_H_
