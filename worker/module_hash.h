// Modules made with their SHA-256 (base/sha256.h), for code that has the source at hand: the
// warm-up, tests, benchmarks.
#ifndef ISOBAR_WORKER_MODULE_HASH_H_
#define ISOBAR_WORKER_MODULE_HASH_H_

#include <string>

#include "isobar/worker/v1/worker.pb.h"

namespace isobar::worker {

isobar::worker::v1::Module ModuleFromSource(std::string path, std::string source);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_MODULE_HASH_H_
