// Convex JSON (CONVEX_ABI.md §4) <-> Value, strictly.
//
//   ASSIGN_OR_RETURN(Value v, ParseConvexJson(R"({"n":{"$integer":"AQAAAAAAAAA="},"s":"x"})"));
//   ToConvexJson(v) == R"({"n":{"$integer":"AQAAAAAAAAA="},"s":"x"})"
//
// Parsing accepts only RFC 8259 JSON in UTF-8 (no lone surrogates, no duplicate names) and Convex's
// rules: an object with exactly one "$"-named field is an encoded value ($integer and $float are 8
// bytes of canonical base64, $float only for NaN, ±Infinity and -0; $bytes is canonical base64); any
// other "$" name is an error; field names are printable ASCII, at most 1024 characters. Every failure
// is INVALID_ARGUMENT naming the problem and, where useful, the path; limits are RESOURCE_EXHAUSTED.
//
// Nesting depth counts containers: a scalar has depth 0, [] and {} depth 1, [[1]] depth 2.
#ifndef ISOBAR_STORAGE_CONVEX_JSON_H_
#define ISOBAR_STORAGE_CONVEX_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/value.h"

namespace isobar::storage {

struct ConvexJsonLimits {
  int max_depth = 64;
  size_t max_array_items = 8192;
  size_t max_object_fields = 1024;
  size_t max_field_name_length = 1024;
  // Of JSON text: a 16 MiB value (Convex's limit on arguments and results, by value size) may take
  // more as text (base64 bytes, escapes).
  size_t max_bytes = 48u << 20;
  // Values in all (nested ones included): memory, which text of 48 MiB of "[0,0,...]" would multiply.
  size_t max_values = 1u << 20;
};

struct ConvexJsonOptions {
  ConvexJsonLimits limits;
  // Accept {"$undefined": null} (patch fields, filter literals and index range values).
  bool allow_undefined = false;
  // Plain JSON: no Convex rules ("$" names and special objects are left as they are). For envelopes
  // such as the query JSON, whose nested values are converted with FromPlainJson.
  bool plain = false;
  // Convex's snapshot export format (ToExportJson): a number without a point or an exponent that fits
  // is an Int64.
  bool export_integers = false;
};

absl::StatusOr<Value> ParseConvexJson(absl::string_view json, const ConvexJsonOptions& options = {});

// Applies the Convex rules to a value parsed as plain JSON: decodes special objects, checks names,
// nesting, array lengths and field counts (with Convex's messages).
absl::StatusOr<Value> FromPlainJson(const Value& plain, bool allow_undefined);

// Canonical Convex JSON: names sorted, no white space, special values encoded, undefined as
// {"$undefined":null}.
std::string ToConvexJson(const Value& value);

// Convex's "json" export format (its HTTP API's default): Int64 as a decimal string, bytes as base64,
// NaN and ±Infinity as "NaN", "Infinity", "-Infinity"; the rest as in ToConvexJson. Lossy.
std::string ToCleanJson(const Value& value);

// Convex's snapshot export format (documents.jsonl of `npx convex export`): Int64 as a JSON integer,
// finite floats with a point or an exponent ("5.0", "-0.0"), NaN and ±Infinity as {"$float": ...},
// bytes as {"$bytes": ...}. Lossless: ParseConvexJson with export_integers reads it back.
std::string ToExportJson(const Value& value);

// Standard base64 of the 8 little-endian bytes of `bits`: how Convex JSON writes an Int64's and a
// special float's bits, and how Convex's sync protocol writes timestamps.
std::string LittleEndianBase64(uint64_t bits);

// Depth as defined above.
int NestingDepth(const Value& value);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_CONVEX_JSON_H_
