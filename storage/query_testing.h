// Runs a query given as the query JSON of CONVEX_ABI.md §2.3 in a new transaction, for tests.
#ifndef ISOBAR_STORAGE_QUERY_TESTING_H_
#define ISOBAR_STORAGE_QUERY_TESTING_H_

#include <vector>

#include "absl/strings/string_view.h"
#include "storage/database.h"
#include "storage/value.h"

namespace isobar::storage::testing {

// Every document the query yields, in order; a failure fails the current test.
std::vector<Value> RunQueryForTest(Database& db, absl::string_view query_json);

}  // namespace isobar::storage::testing

#endif  // ISOBAR_STORAGE_QUERY_TESTING_H_
