"""census_test: a runtime test suite run under the worker's real seccomp policy (tests/census_main.cc)."""

def census_test(name, srcs, deps, data = [], preload = [], size = "medium"):
    """Builds `srcs` (a suite that normally uses //worker:v8_test_main) with the census main.

    Args:
      name: the test.
      srcs: the suite's sources (exported by their package).
      deps: the suite's deps, without its main.
      data: runfiles the suite reads.
      preload: runfiles (workspace-relative paths) to read before the filter goes in.
      size: as usual.
    """
    native.cc_test(
        name = name,
        size = size,
        srcs = srcs,
        data = data,
        args = ["--census_preload=" + p for p in preload],
        deps = deps + ["//tests:census_main"],
    )
