// The simple model tests/differential_test.cc checks Isobar against: a deployment's documents as plain
// maps, and what tests/apps/model's `run` query must return for a spec, computed by brute force
// (filter, sort by the index's fields with the Convex total order, cut). It shares no code with the
// query engine, the index-key encoding or the read sets under test; only the value type and its order
// (storage/value.h) and the JSON codec.
//
//   Model model;
//   model.Put("t0", doc);                            // a document the server returned after a write
//   Model::Expected want = model.Run(spec);          // {error} or the canonical JSON of the result
#ifndef ISOBAR_TESTS_DIFFERENTIAL_MODEL_H_
#define ISOBAR_TESTS_DIFFERENTIAL_MODEL_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/value.h"

namespace isobar::testing {

class Model {
 public:
  // A user index: its name and the fields the user declared.
  using UserIndexes = std::vector<std::pair<std::string, std::vector<std::string>>>;

  struct Expected {
    bool error = false;
    std::string json;  // canonical Convex JSON of the value (for a page: of the page only)
  };

  // The pushed schema's user indexes, by table. Tables it gives indexes come to exist.
  void SetSchema(const std::map<std::string, UserIndexes>& indexes);
  // A table exists once something tried to insert into it (even if that mutation then failed) or a
  // schema gave it an index; it never stops existing. A missing table reads as empty through any
  // index; an existing one refuses an index it does not have.
  void MarkExists(const std::string& table) { exists_.insert(table); }
  bool Exists(const std::string& table) const { return exists_.count(table) > 0; }

  // A document as the server returned it after a write (inserted or updated).
  void Put(const std::string& table, const storage::Value& document);
  void Remove(const std::string& id);
  // The table and document with this _id, if it is live.
  std::optional<std::pair<std::string, storage::Value>> Find(const std::string& id) const;
  const std::map<std::string, storage::Value>& Documents(const std::string& table) const;
  // Every user index of `table` now, with its declared fields.
  const UserIndexes& Indexes(const std::string& table) const;

  // What run({spec}) must give now. For "paginate" the page; `cursor_after`, when the spec carries a
  // cursor, is the index key (field values) of the last document of the page it continues.
  Expected Run(const storage::Value& spec, const std::vector<storage::Value>* cursor_after = nullptr) const;

  // The full key of `document` in index `index` of `table` (its fields, then _creationTime and _id;
  // by_id: _id; by_creation_time: _creationTime, _id). Empty for an unknown index.
  std::vector<storage::Value> KeyOf(const std::string& table, const std::string& index,
                                    const storage::Value& document) const;

 private:
  // The documents a source (table, index, range, order, filter) yields, in order; nullopt for an error.
  std::optional<std::vector<storage::Value>> Source(const storage::Value& spec,
                                                    const std::vector<storage::Value>* cursor_after) const;
  // The key fields of an index, or nullopt if the table has no such index.
  std::optional<std::vector<std::string>> KeyFields(const std::string& table, const std::string& index) const;

  std::set<std::string> exists_;
  std::map<std::string, std::map<std::string, storage::Value>> tables_;  // table -> _id -> document
  std::map<std::string, UserIndexes> indexes_;
};

// Convex's total order over index keys (tuples of values), as Compare orders each value.
int CompareKeys(const std::vector<storage::Value>& a, const std::vector<storage::Value>& b);

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_DIFFERENTIAL_MODEL_H_
