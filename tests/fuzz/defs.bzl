"""isobar_fuzz_target: one libFuzzer target, also run as an ordinary test.

For a target NAME (NAME.cc defines LLVMFuzzerTestOneInput) it makes:
  NAME_lib     the target's code;
  NAME_seeds   corpus/<NAME without _fuzz>/, unless `seeds` names other seeds;
  NAME_replay  a cc_test (any compiler) that runs the seeds and 20,000 deterministic mutations;
  NAME         the libFuzzer binary, built only with --config=fuzz (clang, ASan, UBSan): manual.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")

def isobar_fuzz_target(name, deps, seeds = None):
    """`seeds`: a target with the seed inputs; by default the files of corpus/<name without _fuzz>/."""
    if seeds == None:
        seeds = ":" + name + "_seeds"
        native.filegroup(
            name = name + "_seeds",
            testonly = True,
            srcs = native.glob(["corpus/%s/*" % name[:-len("_fuzz")]]),
        )
    cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = [name + ".cc"],
        deps = deps + [":fuzz_checks"],
        alwayslink = True,
    )
    cc_test(
        name = name + "_replay",
        srcs = ["replay_main.cc"],
        args = ["$(locations %s)" % seeds],
        data = [seeds],
        deps = [":" + name + "_lib"],
    )
    cc_binary(
        name = name,
        testonly = True,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        deps = [":" + name + "_lib"],
    )
