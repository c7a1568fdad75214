// Identities and timestamps of the storage engine.
#ifndef ISOBAR_STORAGE_TYPES_H_
#define ISOBAR_STORAGE_TYPES_H_

#include <cstdint>

#include "base/strong_id.h"

namespace isobar::storage {

struct DeploymentIdTag {};
// A deployment (tenant); every row in PostgreSQL is keyed by it first.
using DeploymentId = StrongId<DeploymentIdTag, int64_t>;

struct IndexIdTag {};
// An index, unique within its deployment.
using IndexId = StrongId<IndexIdTag, int64_t>;

struct TimestampTag {};
// A commit timestamp: nanoseconds since the UNIX epoch, strictly increasing per deployment.
using Timestamp = StrongId<TimestampTag, int64_t>;

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_TYPES_H_
