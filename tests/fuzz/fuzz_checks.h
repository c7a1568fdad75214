// What a fuzz target asserts: a property that must hold for every input. A broken one aborts (which
// libFuzzer reports as a crash with the input that broke it, and the replay test as a failure).
#ifndef ISOBAR_TESTS_FUZZ_FUZZ_CHECKS_H_
#define ISOBAR_TESTS_FUZZ_FUZZ_CHECKS_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

#endif  // ISOBAR_TESTS_FUZZ_FUZZ_CHECKS_H_
