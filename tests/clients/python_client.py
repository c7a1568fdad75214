"""A Python client of Isobar's Functions API: Debian's python3-grpcio, stubs generated from proto/.

    python3 python_client.py ADDRESS DEPLOYMENT API_KEY

Sends a message, reads it back page by page, runs an action, and checks that a validation error and a
ConvexError arrive with their ErrorDetail. Prints "python client: ok" and exits 0 when everything
matched; otherwise says what did not and exits 1.
"""
import json
import sys

import grpc
from isobar.v1 import api_pb2, api_pb2_grpc


def main(address, deployment, api_key):
    channel = grpc.insecure_channel(address)
    functions = api_pb2_grpc.FunctionsStub(channel)
    metadata = [("authorization", "Bearer " + api_key)]

    def call(method, path, args):
        request = api_pb2.FunctionRequest(deployment=deployment, path=path, args_json=json.dumps(args))
        return getattr(functions, method)(request, metadata=metadata, timeout=60)

    def detail_of(error):
        for key, value in error.trailing_metadata() or ():
            if key == "isobar-error-bin":
                return api_pb2.ErrorDetail.FromString(value)
        return None

    sent = call("Mutation", "messages:send", {"channel": "py", "author": "guido", "body": "from python"})
    message_id = json.loads(sent.result_json)
    assert isinstance(message_id, str) and message_id, sent.result_json
    assert [line.message for line in sent.log_lines] == ["'send to py by guido'"], sent.log_lines

    for i in range(3):
        call("Mutation", "messages:send", {"channel": "py", "author": "guido", "body": "m%d" % i})
    bodies, cursor = [], None
    while True:
        page = json.loads(call("Query", "messages:list",
                               {"channel": "py", "paginationOpts": {"numItems": 2, "cursor": cursor}}).result_json)
        bodies += [m["body"] for m in page["page"]]
        if page["isDone"]:
            break
        cursor = page["continueCursor"]
    assert bodies == ["m2", "m1", "m0", "from python"], bodies

    summary = json.loads(call("Action", "messages:summarize", {"channel": "py"}).result_json)
    assert summary["count"] == 4 and summary["newest"] == "m2", summary

    try:
        call("Mutation", "messages:send", {"channel": "py"})
        raise AssertionError("a call without `body` succeeded")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.code()
        assert "ArgumentValidationError" in error.details(), error.details()
        detail = detail_of(error)
        assert detail is not None and detail.kind == api_pb2.ErrorDetail.INVALID_REQUEST, detail

    try:
        call("Mutation", "messages:send", {"channel": "py", "author": "guido", "body": " "})
        raise AssertionError("an empty body was accepted")
    except grpc.RpcError as error:
        detail = detail_of(error)
        assert detail is not None and detail.kind == api_pb2.ErrorDetail.CONVEX_ERROR, detail
        assert json.loads(detail.convex_error_data_json) == {"code": "EMPTY_BODY", "channel": "py"}, detail

    print("python client: ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
