"""isobar_proto_library: C++ (and optionally gRPC) code generated from .proto files, offline.

Bazel 4.2.3's native proto_library needs @com_google_protobuf, which cannot be fetched here, so this
macro runs Debian's /usr/bin/protoc and /usr/bin/grpc_cpp_plugin in a genrule and wraps the outputs in
a cc_library. Import paths are relative to proto/ (e.g. "isobar/v1/api.proto").
"""

def isobar_proto_library(name, srcs, grpc = False, deps = [], visibility = None):
    """Generates <name> (cc_library) from srcs, which must live under proto/.

    Args:
      name: the cc_library's name.
      srcs: .proto files, relative to this package.
      grpc: also generate gRPC service stubs.
      deps: other isobar_proto_library targets whose .proto files srcs import.
      visibility: of the cc_library.
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]

    grpc_flags = ""
    if grpc:
        grpc_flags = "--grpc_out=$(GENDIR)/proto --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin "
    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = ("/usr/bin/protoc -Iproto --cpp_out=$(GENDIR)/proto " + grpc_flags +
               " ".join(["proto/" + s for s in srcs])),
        visibility = ["//visibility:private"],
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs,
        visibility = ["//visibility:private"],
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        copts = ["-Wno-unused-parameter"],
        deps = deps + ["//third_party:grpc" if grpc else "//third_party:protobuf"],
        visibility = visibility,
    )
